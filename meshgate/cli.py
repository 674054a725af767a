"""The ``meshgate`` command line: one click group; each area adds its commands from its own module."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="meshgate")
def main() -> None:
    """meshgate: data contracts for a Data Mesh lakehouse."""


def _register_commands() -> None:
    from meshgate import demo

    main.add_command(demo.demo)
    from registry import cli as registry_cli

    for command in registry_cli.commands:
        main.add_command(command)
    from lakehouse.dbt import cli as dbt_cli

    for command in dbt_cli.commands:
        main.add_command(command)
    from lakehouse import cli as lakehouse_cli

    for command in lakehouse_cli.commands:
        main.add_command(command)


_register_commands()
