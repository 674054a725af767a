"""The ``meshgate`` command line: one click group; each area's commands live in its own module.

A command's module is imported only when that command runs, so ``meshgate serve`` (a registry replica)
never loads the lakehouse's pyarrow, pyiceberg, DuckDB, dbt or Dagster.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of the click command
COMMANDS = {
    "demo": "meshgate.demo:demo",
    "serve": "meshgate.serve:serve",
    "register": "registry.cli:register",
    "get": "registry.cli:get",
    "export": "registry.cli:export",
    "subjects": "registry.cli:subjects",
    "config": "registry.cli:config",
    "mode": "registry.cli:mode",
    "referenced-by": "registry.cli:referenced_by",
    "consumers": "registry.cli:consumers",
    "watch": "registry.cli:watch",
    "token": "registry.cli:token",
    "audit": "registry.cli:audit",
    "webhooks": "registry.cli:webhooks",
    "dbt-sources": "lakehouse.dbt.cli:dbt_sources",
    "transform": "lakehouse.dbt.cli:transform",
    "docs": "lakehouse.dbt.cli:docs",
    "ingest": "lakehouse.cli:ingest_command",
    "ingest-log": "lakehouse.cli:ingest_log_command",
    "bronze": "lakehouse.cli:bronze_group",
    "lakehouse": "lakehouse.cli:lakehouse_group",
    "dev": "meshgate.cluster:dev",
}


class LazyGroup(click.Group):
    """A group whose commands are named up front and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(
    cls=LazyGroup,
    epilog="Exit codes: 0 done, 1 refused or failed (the message says what to do), 2 usage error; "
    "each command's --help has its own.",
)
@click.version_option(package_name="meshgate")
def main() -> None:
    """meshgate: data contracts for a Data Mesh lakehouse."""


if __name__ == "__main__":
    main()
