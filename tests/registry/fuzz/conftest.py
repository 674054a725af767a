"""The fuzz harness' servers (per module, SQLite: one with auth off, one with auth on and the web
console) and the per-entry-point summary of a run."""

from __future__ import annotations

import pytest

from meshgate.console import LakehouseLocation, console_routes
from tests.registry.fuzz import harness
from tests.registry.fuzz.console_inputs import ConsoleSite
from tests.registry.fuzz.targets import Targets
from tests.registry.registry_harness import running_server


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    with (
        running_server(f"sqlite:///{folder / 'registry.db'}") as server,
        running_server(
            f"sqlite:///{folder / 'console.db'}",
            auth=True,
            http_routes=lambda s: console_routes(s, LakehouseLocation(folder)),
        ) as console,
    ):
        connections = Targets(server.http_url, server.grpc_target)
        connections.console = ConsoleSite.start(console)
        try:
            yield connections
        finally:
            connections.close()
            connections.console.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if not harness.tried:
        return
    terminalreporter.write_sep("-", f"fuzz: {harness.budget():.0f} s per entry point")
    for entry, count in sorted(harness.tried.items()):
        terminalreporter.write_line(
            f"{entry:16} {count:8} inputs tried, {harness.failures[entry]} failing (saved to regressions/)"
        )
