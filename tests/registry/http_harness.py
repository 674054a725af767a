"""A real uvicorn server on a loopback port, serving the registry's HTTP app in a background thread.

Shared by the HTTP API tests and the Confluent client tests: they talk to it over real TCP with httpx
and with ``confluent_kafka``'s ``SchemaRegistryClient``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from registry.http_api import create_app
from registry.metrics import Metrics

STARTUP_TIMEOUT = 15.0


@contextmanager
def serve_http(service, **app_options) -> Iterator[str]:
    """Serve ``create_app(service)`` on 127.0.0.1 (port chosen by the OS); yield its base URL."""
    app = create_app(service, metrics=app_options.pop("metrics", None) or Metrics(), **app_options)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
