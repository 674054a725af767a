"""Fixtures of the registry tests.

Every test fails when a server it ran (in this process) logged an exception no handler expected
(a record carrying ``registry.errors.UNEXPECTED``): a hostile or odd input must end in a 4xx /
a gRPC status naming the problem, never in a 500 / INTERNAL. A test that provokes one on purpose
says so with ``@pytest.mark.unexpected_error_expected``.
"""

from __future__ import annotations

import logging

import pytest

from registry.client import RegistryClient
from registry.errors import UNEXPECTED
from tests.registry.registry_harness import running_server


class _UnexpectedErrors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, UNEXPECTED):
            self.records.append(record)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "unexpected_error_expected: the test makes a server log an unexpected error on purpose"
    )


@pytest.fixture(autouse=True)
def no_unexpected_server_errors(request):
    """Fail the test if any server logged an unexpected exception while it ran."""
    collector = _UnexpectedErrors()
    logger = logging.getLogger("registry")
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
    if request.node.get_closest_marker("unexpected_error_expected"):
        return
    if collector.records:
        lines = [
            f"{r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
            for r in collector.records
            if r.exc_info
        ]
        pytest.fail("a server answered 500 / INTERNAL for an unexpected exception:\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One registry on SQLite per test module (a module that needs another defines its own)."""
    with running_server(f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.db'}") as running:
        yield running


@pytest.fixture
def client(server):
    with RegistryClient(server.grpc_target) as client:
        yield client
