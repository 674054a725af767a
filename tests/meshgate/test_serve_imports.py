"""What a serving registry process imports: only what serving needs (issue 19: a small replica).

A fresh interpreter starts the server as ``meshgate serve`` does (its command module, the console
mounted), answers a health check and a gRPC call, and lists which heavy packages it loaded.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "pyarrow",
    "pyiceberg",
    "duckdb",
    "dagster",
    "dagster_dbt",
    "dbt",
    "pandas",
    "numpy",
    "jinja2",  # the console's templates: built at its first request
    "httpx",  # webhook deliveries: loaded at the first one
    "rich",
)

PROBE = f"""
import functools, sys, tempfile, urllib.request
import meshgate.serve
from meshgate.console import LakehouseLocation, console_routes
from registry.client import RegistryClient
from registry.server import RegistryServer, ThreadedServer
from registry.store import sqlite_url

folder = tempfile.mkdtemp()
routes = functools.partial(console_routes, lakehouse=LakehouseLocation(folder))
threaded = ThreadedServer(RegistryServer(sqlite_url(folder), http_routes=routes))
threaded.start()
try:
    urllib.request.urlopen(threaded.server.http_url + "/healthz").read()
    with RegistryClient(threaded.server.grpc_target) as client:
        client.list_subjects()
finally:
    threaded.stop()
print(",".join(sorted(name for name in {HEAVY!r} if name in sys.modules)))
"""


def test_a_serving_registry_loads_no_lakehouse_orchestrator_console_or_webhook_packages():
    loaded = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1:] in ([""], []), loaded.stdout
