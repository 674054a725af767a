"""The web console under ``/ui``: contracts, diffs, consumers, live changes, Bronze batches, lineage.

Server-rendered HTML (starlette + Jinja2, autoescaped) with a little hand-written JavaScript; live
updates are Server-Sent Events from the registry's event log. Registry data comes from the server's
in-process ``RegistryService`` (public methods only) and the compat engines; lakehouse data from
``lakehouse``'s public functions, imported only when a lakehouse page is opened, so a registry
replica never loads pyarrow, pyiceberg or DuckDB unless someone looks at the lakehouse.

``console_routes`` is what ``meshgate serve`` hands ``RegistryServer(http_routes=...)``.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount

from meshgate.console.location import PREFIX, LakehouseLocation

__all__ = ["PREFIX", "LakehouseLocation", "console_routes"]


def console_routes(server: Any, lakehouse: LakehouseLocation) -> list[BaseRoute]:
    """The console mounted at ``/ui`` over a started ``registry.server.RegistryServer``.

    The console app (Jinja2, pygments, its worker threads) is built at its first request, so an idle
    replica does not hold it in memory.
    """
    console = None

    async def app(scope, receive, send) -> None:
        nonlocal console
        if console is None:
            from meshgate.console.app import create_console

            console = create_console(server, lakehouse)
        await console(scope, receive, send)

    return [Mount(PREFIX, app=app)]
