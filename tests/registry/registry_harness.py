"""A real registry server (gRPC + HTTP) on loopback ports, on SQLite or on a PostgreSQL database of
its own, shared by the gRPC, client, CLI and concurrency tests; plus small schemas to register."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

from registry.server import RegistryServer, ThreadedServer
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_reachable

BACKENDS = ["sqlite", "postgres"]


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped after); skips when PostgreSQL is unreachable, unless CI."""
    reason = _postgres_reachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    name = f"meshgate_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sqlalchemy.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def database_url(backend: str, tmp_path) -> Iterator[str]:
    if backend == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'registry.db'}"


@contextlib.contextmanager
def running_server(url: str, **options) -> Iterator[RegistryServer]:
    server = RegistryServer(url, **options)
    threaded = ThreadedServer(server)
    threaded.start()
    try:
        yield server
    finally:
        threaded.stop()


def unique_subject(name: str = "Event") -> str:
    return f"t{uuid.uuid4().hex[:10]}.{name}"


def avro(fields: dict[str, str | list | dict], name: str = "Event", defaults: dict | None = None) -> str:
    """An Avro record schema: ``{"id": "string"}`` -> fields; ``defaults`` adds field defaults."""
    defaults = defaults or {}
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "fields": [
                {"name": field, "type": kind, **({"default": defaults[field]} if field in defaults else {})}
                for field, kind in fields.items()
            ],
        },
        indent=2,
    )


V1 = avro({"id": "string", "amount": "double"})
V2 = avro({"id": "string", "amount": "double", "note": ["null", "string"]}, defaults={"note": None})
BREAKING = avro({"id": "string", "amount": "string"})  # amount changed type
