"""One registry process: gRPC (grpc.aio) and HTTP (starlette on uvicorn) in one asyncio loop.

``RegistryServer`` opens the store (running its migrations), builds one ``RegistryService`` and one
``Metrics``, and serves both over them: gRPC on ``grpc_port``, HTTP (Confluent REST API, /healthz,
/metrics) on ``http_port``. Port 0 picks a free port; ``start`` returns the bound ones.

``python -m registry.server --database-url URL`` runs one in the foreground and prints its bound
ports as one JSON line on stdout, so a parent (tests, ``start_subprocess``) can use port 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import os
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn
from grpc_health.v1 import health_pb2
from starlette.routing import BaseRoute

from registry.auth import ReadAudit, Tokens
from registry.compat import Level
from registry.grpc_auth import AuthInterceptor
from registry.grpc_edge import EdgeInterceptor
from registry.grpc_server import SERVICE_NAME, create_grpc_server
from registry.http_api import create_app
from registry.metrics import Metrics
from registry.sealing import KEY_ENV, SecretBox
from registry.service import RegistryService
from registry.store import Store
from registry.watch import EventHub
from registry.webhooks import Webhooks, WebhookWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoundPorts:
    grpc_port: int
    http_port: int


class RegistryServer:
    def __init__(
        self,
        database_url: str,
        host: str = "127.0.0.1",
        grpc_port: int = 0,
        http_port: int = 0,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        default_level: Level = Level.BACKWARD,
        watch_options: dict | None = None,
        webhook_options: dict | None = None,
        read_audit_options: dict | None = None,
        auth: bool = False,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        tls_client_ca: str | Path | None = None,
        http_routes: Callable[[RegistryServer], list[BaseRoute]] | None = None,
    ):
        if not auth and not is_loopback(host):
            raise ValueError(
                f"refusing to serve without authentication on {host}: bind a loopback address or turn auth on"
            )
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("TLS needs both a certificate file and a key file")
        if tls_client_ca is not None and tls_cert is None:
            raise ValueError("requiring client certificates (mutual TLS) needs a server certificate and key")
        self.database_url = database_url
        self.host = host
        self.requested = BoundPorts(grpc_port, http_port)
        self.interceptors = tuple(interceptors)
        self.default_level = default_level
        self.auth = auth
        self.tls = (Path(tls_cert), Path(tls_key)) if tls_cert is not None else None
        self.tls_client_ca = Path(tls_client_ca) if tls_client_ca is not None else None  # mutual TLS
        # EventHub options: poll_interval, queue_size, heartbeat_interval, retention
        self.watch_options = dict(watch_options or {})
        # WebhookWorker options: poll_interval, timeout, retry_base, retry_max
        self.webhook_options = dict(webhook_options or {})
        # ReadAudit options (auth on): capacity, interval, batch, log_interval
        self.read_audit_options = dict(read_audit_options or {})
        # more HTTP routes, made once the service, hub and tokens exist (meshgate's web console)
        self.http_routes = http_routes
        self.ports: BoundPorts | None = None
        self.service: RegistryService | None = None
        self.metrics = Metrics()

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.ports.grpc_port}"

    @property
    def http_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.ports.http_port}"

    async def start(self) -> BoundPorts:
        """Open the store, then listen on gRPC and HTTP; returns the bound ports.

        A port that cannot be bound raises ``OSError`` naming it, after undoing what had started.
        """
        self._store = await asyncio.to_thread(Store, self.database_url)
        self.service = RegistryService(self._store, self.default_level)
        self.hub = EventHub(self._store, **self.watch_options)
        self.hub.follow(self.service.live_versions)
        await self.hub.start()
        box = SecretBox.from_environment()
        webhooks = Webhooks(self._store, box)
        if box is None:
            log.warning("%s is not set: webhook secrets are stored in plain text", KEY_ENV)
        else:
            sealed = await asyncio.to_thread(webhooks.seal_plaintext)
            if sealed:
                log.info("sealed %d plaintext webhook secret(s) with key %s", sealed, box.key_id)
        self.webhook_worker = WebhookWorker(self._store, box=box, **self.webhook_options)
        self.webhook_worker.start()
        self.tokens = Tokens(self._store)
        if self.auth:  # allowed reads are audited only when a token decision is made
            self.tokens.reads = ReadAudit(
                self._store, self.metrics.audit_reads_dropped, **self.read_audit_options
            )
            self.tokens.reads.start()
        guard = AuthInterceptor(self.tokens, SERVICE_NAME, required=self.auth)
        self._grpc, self._health = create_grpc_server(
            self.service,
            self.metrics,
            self.hub,
            self.tokens,
            webhooks,
            (EdgeInterceptor(SERVICE_NAME, guard.refused_at_edge), guard, *self.interceptors),
        )
        try:
            grpc_port = self._bind_grpc()
            await self._grpc.start()
            for name in ("", SERVICE_NAME):
                await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
            http_port = await self._start_http()
        except BaseException:
            await self._grpc.stop(None)
            await self.webhook_worker.stop()
            await self.hub.stop()
            await self._stop_read_audit()
            await asyncio.to_thread(self._store.close)
            raise
        self.ports = BoundPorts(grpc_port, http_port)
        gc.freeze()  # the long-lived startup objects leave the collector's scans (cheaper collections)
        log.info("registry serving gRPC on %s, HTTP on %s", self.grpc_target, self.http_url)
        return self.ports

    def _bind_grpc(self) -> int:
        address = f"{self.host}:{self.requested.grpc_port}"
        try:
            if self.tls is not None:
                cert, key = (path.read_bytes() for path in self.tls)
                client_ca = self.tls_client_ca.read_bytes() if self.tls_client_ca else None
                credentials = grpc.ssl_server_credentials(
                    [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
                )
                return self._grpc.add_secure_port(address, credentials)
            return self._grpc.add_insecure_port(address)
        except RuntimeError:
            raise OSError(f"cannot listen for gRPC on {address}: address in use or not available") from None

    async def _start_http(self) -> int:
        address = f"{self.host}:{self.requested.http_port}"
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested.http_port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen for HTTP on {address}: {exc.strerror}") from None
        tls = {"ssl_certfile": str(self.tls[0]), "ssl_keyfile": str(self.tls[1])} if self.tls else {}
        if self.tls_client_ca:
            tls |= {"ssl_ca_certs": str(self.tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        extra = self.http_routes(self) if self.http_routes else []
        config = uvicorn.Config(
            create_app(
                self.service, metrics=self.metrics, tokens=self.tokens, auth=self.auth, extra_routes=extra
            ),
            log_level="warning",
            access_log=False,
            lifespan="off",
            **tls,
        )
        self._http = _EmbeddedUvicorn(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[sock]))
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()  # raises why uvicorn could not start
                raise OSError(f"HTTP server on {address} stopped while starting")
            await asyncio.sleep(0.01)
        return sock.getsockname()[1]

    async def stop(self, grace: float = 2.0) -> None:
        """Stop taking requests, let running ones finish (up to ``grace`` seconds), close the store."""
        await self._health.enter_graceful_shutdown()
        self._http.should_exit = True
        await self.webhook_worker.stop()
        await self.hub.stop()  # open Watch streams end, so the gRPC stop need not wait for them
        await self._grpc.stop(grace)
        with contextlib.suppress(asyncio.CancelledError):
            await self._http_task
        await self._stop_read_audit()  # no more reads: write the queued rows
        await asyncio.to_thread(self._store.close)

    async def _stop_read_audit(self) -> None:
        if self.tokens.reads is not None:
            await asyncio.to_thread(self.tokens.reads.stop)

    def run(self, on_started: Callable[[BoundPorts], None] | None = None) -> None:
        """Serve in the foreground until SIGINT or SIGTERM; ``on_started`` gets the bound ports."""
        asyncio.run(self._serve_until_signal(on_started))

    async def _serve_until_signal(self, on_started: Callable[[BoundPorts], None] | None) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        ports = await self.start()
        if on_started is not None:
            on_started(ports)
        await stopping.wait()
        await self.stop()


class ThreadedServer:
    """A ``RegistryServer`` on its own event loop in a daemon thread, for callers that are not async
    (the demo, tests): ``start`` returns once both ports listen, ``stop`` shuts it down gracefully."""

    def __init__(self, server: RegistryServer):
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="registry-server", daemon=True)

    def start(self, timeout: float = 30.0) -> BoundPorts:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: ``RegistryServer`` owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class ServerProcess:
    """A registry server in a child process (``python -m registry.server``), for tests and benchmarks."""

    def __init__(self, process: subprocess.Popen, ports: BoundPorts, host: str):
        self.process = process
        self.ports = ports
        self.host = host

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.ports.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports.http_port}"

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait (graceful stop); returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout)

    def kill(self) -> int:
        """SIGKILL: no chance to finish anything, as in a crash."""
        self.process.kill()
        return self.process.wait(10)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): only those may serve without auth."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def start_subprocess(
    database_url: str,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    grpc_port: int = 0,
    http_port: int = 0,
    extra_args: Sequence[str] = (),
) -> ServerProcess:
    """Start ``python -m registry.server`` (on free ports unless given) and wait for its JSON line
    of bound ports. ``extra_args``: more options of ``python -m registry.server``."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "registry.server",
            "--database-url",
            database_url,
            "--host",
            host,
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = _read_line(process, timeout)
    try:
        announced = json.loads(line)
        ports = BoundPorts(announced["grpc_port"], announced["http_port"])
    except (ValueError, KeyError, TypeError):
        process.kill()
        raise RuntimeError(f"registry subprocess did not announce its ports (got {line!r})") from None
    return ServerProcess(process, ports, host)


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            raise RuntimeError(f"registry subprocess printed nothing within {timeout}s")
    return process.stdout.readline()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m registry.server", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--auth", action="store_true", help="require API tokens (off by default here)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this CA (mutual TLS)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    RegistryServer(
        args.database_url,
        args.host,
        args.grpc_port,
        args.http_port,
        auth=args.auth,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
    ).run(announce_json)


def announce_json(ports: BoundPorts) -> None:
    """Print the bound ports as one JSON line (what ``start_subprocess`` waits for)."""
    print(
        json.dumps({"grpc_port": ports.grpc_port, "http_port": ports.http_port, "pid": os.getpid()}),
        flush=True,
    )


if __name__ == "__main__":
    main()
