"""A real registry server (gRPC + HTTP) on loopback ports, on SQLite or on a PostgreSQL database of
its own, shared by the gRPC, client, CLI and concurrency tests; plus small schemas to register."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class Served:
    """Where a ``meshgate serve`` process listens."""

    grpc_target: str  # HOST:PORT
    http_url: str  # http://HOST:PORT
    process: subprocess.Popen | None = field(default=None, compare=False)  # to kill it (fault tests)


@contextlib.contextmanager
def meshgate_serve(data_dir: Path, *options: str) -> Iterator[Served]:
    """``meshgate serve --no-auth`` as a user starts it: its own process, free loopback ports, a
    SQLite store in ``data_dir`` (unless ``options`` name a --database-url; more options of
    ``meshgate serve`` there too); stopped with SIGTERM after."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "meshgate"),
            "serve",
            "--no-auth",
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--data-dir",
            str(data_dir),
            *options,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        if "registry serving gRPC" not in banner:
            raise RuntimeError(f"meshgate serve did not start (printed {banner!r})")
        ports = json.loads(process.stdout.readline())
        scheme = "https" if "--tls-cert" in options else "http"
        yield Served(f"127.0.0.1:{ports['grpc_port']}", f"{scheme}://127.0.0.1:{ports['http_port']}", process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


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
