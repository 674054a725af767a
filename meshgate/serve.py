"""``meshgate serve``: the registry's ``serve`` with the web console mounted under ``/ui``.

The registry's options and start-up stay in ``registry.cli`` (``run_server``); this command adds
``--no-ui`` and where the lakehouse lives (``--catalog-url``/``--warehouse``, by default under
``--data-dir`` as every lakehouse command has it), which only the console's lakehouse pages read.
"""

from __future__ import annotations

import functools

import click

from registry.cli import run_server
from registry.cli import serve as registry_serve

_OPTIONS = [
    click.Option(["--no-ui"], is_flag=True, help="Serve no web console (/ui)."),
    click.Option(
        ["--catalog-url"],
        default=None,
        help="Iceberg catalog URL for the console (default: under --data-dir).",
    ),
    click.Option(
        ["--warehouse"], default=None, help="Warehouse location for the console (default: under --data-dir)."
    ),
]


def run(no_ui: bool = False, catalog_url: str | None = None, warehouse: str | None = None, **options) -> None:
    """Serve in the foreground until interrupted; ``options`` are those of the registry's ``serve``."""
    http_routes = None
    if not no_ui:
        from meshgate.console import LakehouseLocation, console_routes

        lakehouse = LakehouseLocation(options["data_dir"], catalog_url, warehouse)
        http_routes = functools.partial(console_routes, lakehouse=lakehouse)
    run_server(**options, http_routes=http_routes)


serve = click.Command(
    "serve",
    callback=run,
    params=[*registry_serve.params, *_OPTIONS],
    help=f"{registry_serve.help}\n\nThe web console is served under /ui on the HTTP port unless --no-ui.",
)

commands = [serve]
