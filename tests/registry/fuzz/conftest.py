"""The fuzz harness' server (one per module, SQLite) and the per-entry-point summary of a run."""

from __future__ import annotations

import pytest

from tests.registry.fuzz import harness
from tests.registry.fuzz.targets import Targets
from tests.registry.registry_harness import running_server


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    with running_server(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'registry.db'}") as server:
        connections = Targets(server.http_url, server.grpc_target)
        try:
            yield connections
        finally:
            connections.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if not harness.tried:
        return
    terminalreporter.write_sep("-", f"fuzz: {harness.budget():.0f} s per entry point")
    for entry, count in sorted(harness.tried.items()):
        terminalreporter.write_line(
            f"{entry:16} {count:8} inputs tried, {harness.failures[entry]} failing (saved to regressions/)"
        )
