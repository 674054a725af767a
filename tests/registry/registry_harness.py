"""A real registry server (gRPC + HTTP) on loopback ports, on SQLite or on a PostgreSQL database of
its own, shared by the gRPC, client, CLI and concurrency tests; plus small schemas to register."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator

from registry.server import RegistryServer, ThreadedServer
from tests.conftest import postgres_database

BACKENDS = ["sqlite", "postgres"]


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
