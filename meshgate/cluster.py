"""``meshgate dev cluster``: the docker-compose.yml topology started on this machine, without Docker.

PostgreSQL (the machine's, or one given by URL) holds the registry, the Iceberg SQL catalog and
Dagster's runs and events; moto's S3 server on loopback holds the warehouse; two ``meshgate serve``
replicas share the store; the Dagster daemon and webserver run the pipeline, the daemon's sensors
watching the landing folder. With a certificate the replicas serve TLS, and the Dagster processes
(and the printed exports) trust its CA. Each process is a child in a session of its own,
health-checked before the next starts, logging to ``<dir>/logs/``; SIGINT/SIGTERM stops them all (and
what they started).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click

from lakehouse.masking import KEY_ENV
from meshgate.pipeline.resources import (
    ENV_CA_CERT,
    ENV_CATALOG_URL,
    ENV_DATA_DIR,
    ENV_LANDING_DIR,
    ENV_REGISTRY,
    ENV_S3_ACCESS_KEY,
    ENV_S3_ENDPOINT,
    ENV_S3_REGION,
    ENV_S3_SECRET_KEY,
    ENV_WAREHOUSE,
)

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKET = "warehouse"
S3_KEY = "meshgate"  # moto accepts any credentials; these only have to be the same everywhere
DAGSTER_PG_URL = "MESHGATE_DAGSTER_PG_URL"
DAGSTER_SCHEMA = "dagster"
START_TIMEOUT = 180.0  # seconds a process may take to answer its health check (Dagster loads dbt)
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL at shutdown
REPLICAS = ("registry-1", "registry-2")  # the first runs the store's migrations
PORT_NAMES = ("s3", "registry-1-grpc", "registry-1-http", "registry-2-grpc", "registry-2-http", "dagster")


class ClusterError(click.ClickException):
    """A part of the cluster did not start: which one, and where its log is."""


@dataclass(frozen=True)
class ServerTls:
    """The replicas' certificate and key, and the CA certificate every client of theirs trusts."""

    cert: Path
    key: Path
    ca: Path

    def context(self) -> ssl.SSLContext:
        """What the cluster's own health checks of the replicas' HTTPS side trust."""
        return ssl.create_default_context(cafile=str(self.ca))


@dataclass
class Child:
    """One started process of the cluster: its name, command, log file and ``Popen``."""

    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen = field(repr=False)

    def exited(self) -> int | None:
        return self.process.poll()


@dataclass
class Cluster:
    """The running topology: its folder, database URL, ports and children (in start order)."""

    folder: Path
    postgres_url: str  # postgresql://… (libpq form: Dagster's psycopg2 and ours via psycopg)
    ports: dict[str, int]
    created_database: str | None = None  # the database the cluster made (dropped when it stops)
    pii_key: str = field(default_factory=lambda: secrets.token_hex(32))  # PII masking key, this cluster's
    tls: ServerTls | None = None  # the replicas serve TLS (gRPC and HTTPS); None: plaintext
    children: list[Child] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def sqlalchemy_url(self) -> str:
        return _with_driver(self.postgres_url)

    @property
    def dagster_url(self) -> str:
        """Dagster's storage: schema ``dagster`` of the same database (both it and the registry keep
        an Alembic ``alembic_version`` table, which cannot be shared), through psycopg2, the driver
        dagster-postgres is written for."""
        url = self.postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        return f"{url}?options=-csearch_path%3D{DAGSTER_SCHEMA}"

    @property
    def registry(self) -> str:
        """Both replicas' gRPC addresses: the clients' fail-over target."""
        return ",".join(f"127.0.0.1:{self.ports[f'{name}-grpc']}" for name in REPLICAS)

    @property
    def registry_http(self) -> list[str]:
        scheme = "https" if self.tls else "http"
        return [f"{scheme}://127.0.0.1:{self.ports[f'{name}-http']}" for name in REPLICAS]

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def environment(self) -> dict[str, str]:
        """What a user (or the pipeline) exports to reach this cluster."""
        return {
            ENV_REGISTRY: self.registry,
            ENV_DATA_DIR: str(self.folder / "data"),
            ENV_LANDING_DIR: str(self.folder / "landing"),
            ENV_CATALOG_URL: self.sqlalchemy_url,
            ENV_WAREHOUSE: f"s3://{BUCKET}/warehouse",
            ENV_S3_ENDPOINT: self.s3_endpoint,
            ENV_S3_REGION: "us-east-1",
            ENV_S3_ACCESS_KEY: S3_KEY,
            ENV_S3_SECRET_KEY: S3_KEY,
            KEY_ENV: self.pii_key,
            "DAGSTER_HOME": str(self.folder / "dagster"),
            DAGSTER_PG_URL: self.dagster_url,  # read by the generated dagster.yaml
            **({ENV_CA_CERT: str(self.tls.ca)} if self.tls else {}),  # every registry client's trust
        }

    def describe(self) -> dict:
        """Addresses, pids, folders and environment, as printed (and written to ``cluster.json``)."""
        return {
            "folder": str(self.folder),
            "logs": str(self.logs),
            "postgres_url": self.postgres_url,
            "registry": self.registry,
            "registry_http": self.registry_http,
            "s3_endpoint": self.s3_endpoint,
            "dagster": f"http://127.0.0.1:{self.ports['dagster']}",
            "pids": {child.name: child.process.pid for child in self.children},
            "environment": self.environment(),
        }


def start(
    folder: Path, postgres_url: str | None, port_base: int | None, echo=print, tls: ServerTls | None = None
) -> Cluster:
    """Start every part in dependency order, each healthy before the next; stop all on a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "landing").mkdir(exist_ok=True)
    created = None
    if postgres_url is None:
        created = f"meshgate_cluster_{uuid.uuid4().hex[:10]}"
        postgres_url = _create_database(DEFAULT_POSTGRES, created)
        echo(f"created PostgreSQL database {created}")
    cluster = Cluster(folder, _without_driver(postgres_url), _ports(port_base), created, tls=tls)
    try:
        _check_postgres(cluster.sqlalchemy_url, DAGSTER_SCHEMA)
        _write_dagster_home(folder / "dagster")
        env = {**os.environ, **cluster.environment()}
        _start_s3(cluster, env, echo)
        for replica in REPLICAS:
            _start_replica(cluster, replica, env, echo)
        _start_dagster(cluster, env, echo)
    except BaseException:
        stop(cluster, echo)
        raise
    (folder / "cluster.json").write_text(json.dumps(cluster.describe(), indent=2))
    return cluster


def stop(cluster: Cluster, echo=print) -> None:
    """SIGTERM every child's process group (last started first), SIGKILL what is left after
    ``STOP_TIMEOUT``, including processes they started elsewhere; drop a database the cluster made."""
    descendants = {pid for child in cluster.children for pid in process_tree(child.process.pid)}
    for child in reversed(cluster.children):
        if child.exited() is None:
            _signal_group(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in reversed(cluster.children):
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            echo(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s: killed")
        _signal_group(child.process.pid, signal.SIGKILL)  # its own children, if any stayed
    while descendants and time.monotonic() < deadline:
        descendants = {pid for pid in descendants if _alive(pid)}
        time.sleep(0.1)
    for pid in descendants:
        _kill(pid)
    if cluster.created_database:
        _drop_database(DEFAULT_POSTGRES, cluster.created_database)
        echo(f"dropped PostgreSQL database {cluster.created_database}")


def _ports(port_base: int | None) -> dict[str, int]:
    if port_base is not None:
        return {name: port_base + i for i, name in enumerate(PORT_NAMES)}
    sockets = [socket.socket() for _ in PORT_NAMES]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return {name: sock.getsockname()[1] for name, sock in zip(PORT_NAMES, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()


def _launch(cluster: Cluster, name: str, command: list[str], env: dict[str, str]) -> Child:
    log = cluster.logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cluster.folder,
            start_new_session=True,  # its own process group: stopped as a whole, not by the terminal's ^C
        )
    child = Child(name, command, log, process)
    cluster.children.append(child)
    return child


def _await_healthy(child: Child, healthy, echo) -> None:
    """Poll ``healthy()`` until it is true; a child that exits or times out fails the start."""
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        if child.exited() is not None:
            raise ClusterError(f"{child.name} exited with {child.exited()} while starting; see {child.log}")
        if healthy():
            echo(f"{child.name} ready ({time.monotonic() - started:.1f} s), log {child.log}")
            return
        time.sleep(0.5)
    raise ClusterError(f"{child.name} not healthy after {START_TIMEOUT:.0f} s; see {child.log}")


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200
    except OSError:
        return False


def _start_s3(cluster: Cluster, env: dict[str, str], echo) -> None:
    port = cluster.ports["s3"]
    command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)]
    child = _launch(cluster, "s3", command, env)
    _await_healthy(child, lambda: _http_ok(f"{cluster.s3_endpoint}/moto-api/data.json"), echo)
    request = urllib.request.Request(f"{cluster.s3_endpoint}/{BUCKET}", method="PUT")
    urllib.request.urlopen(request, timeout=10).close()  # the warehouse bucket (moto skips auth)


def _start_replica(cluster: Cluster, name: str, env: dict[str, str], echo) -> None:
    grpc_port, http_port = cluster.ports[f"{name}-grpc"], cluster.ports[f"{name}-http"]
    command = [
        *_meshgate(),
        "serve",
        "--host", "127.0.0.1",
        "--grpc-port", str(grpc_port),
        "--http-port", str(http_port),
        "--database-url", cluster.sqlalchemy_url,
        "--no-auth",
        "--no-ui",
    ]  # fmt: skip
    context = None
    if cluster.tls:
        command += ["--tls-cert", str(cluster.tls.cert), "--tls-key", str(cluster.tls.key)]
        context = cluster.tls.context()
    child = _launch(cluster, name, command, env)
    url = cluster.registry_http[REPLICAS.index(name)]
    _await_healthy(child, lambda: _http_ok(f"{url}/healthz", context), echo)


def _start_dagster(cluster: Cluster, env: dict[str, str], echo) -> None:
    bin_dir = Path(sys.executable).parent
    location = ["--module-name", "meshgate.pipeline.definitions"]
    daemon = _launch(cluster, "dagster-daemon", [str(bin_dir / "dagster-daemon"), "run", *location], env)
    port = cluster.ports["dagster"]
    web_command = [str(bin_dir / "dagster-webserver"), "--host", "127.0.0.1", "--port", str(port), *location]
    webserver = _launch(cluster, "dagster-webserver", web_command, env)
    _await_healthy(webserver, lambda: _http_ok(f"http://127.0.0.1:{port}/server_info"), echo)
    liveness = [str(bin_dir / "dagster-daemon"), "liveness-check"]
    _await_healthy(
        daemon, lambda: subprocess.run(liveness, env=env, capture_output=True).returncode == 0, echo
    )


def _meshgate() -> list[str]:
    return [sys.executable, "-m", "meshgate.cli"]


DAGSTER_YAML = """\
# Generated by `meshgate dev cluster`: this cluster's Dagster instance (deploy/dagster.yaml's shape).
storage:
  postgres:
    postgres_url: {env: MESHGATE_DAGSTER_PG_URL}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: meshgate/runs  # meshgate.pipeline.dbt.DBT_RUN_TAGS: one dbt at a time
        value: dbt
        limit: 1
telemetry:
  enabled: false
"""


def _write_dagster_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)


def _with_driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _without_driver(url: str) -> str:
    for driver in ("postgresql+psycopg://", "postgresql+psycopg2://"):
        url = url.replace(driver, "postgresql://", 1)
    if not url.startswith("postgresql://"):
        raise ClusterError(f"--postgres-url {url!r}: expected postgresql://USER@HOST:PORT/DATABASE")
    return url


def _engine(url: str, **options):
    import sqlalchemy

    return sqlalchemy.create_engine(_with_driver(_without_driver(url)), **options)


def _check_postgres(url: str, schema: str | None = None) -> None:
    """Fail clearly when PostgreSQL does not answer; create ``schema`` if given."""
    import sqlalchemy

    engine = _engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
            if schema:
                conn.execute(sqlalchemy.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise ClusterError(f"PostgreSQL at {url} unreachable: {exc.__class__.__name__}: {exc}") from None
    finally:
        engine.dispose()


def _create_database(admin_url: str, name: str) -> str:
    _check_postgres(admin_url)
    _as_admin(admin_url, f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    _as_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_admin(admin_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    import sqlalchemy

    engine = _engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()


def process_tree(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc): Dagster's code servers and run workers too."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, queue = set(), [pid]
    while queue:
        parent = queue.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                queue.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _print_ready(cluster: Cluster) -> None:
    info = cluster.describe()
    click.echo("")
    click.echo("meshgate cluster ready")
    click.echo(f"  registry replicas (gRPC): {info['registry']}")
    click.echo(f"  registry HTTP:            {', '.join(info['registry_http'])}")
    click.echo(f"  Dagster webserver:        {info['dagster']}")
    click.echo(f"  S3 (moto):                {info['s3_endpoint']}  bucket {BUCKET}")
    click.echo(f"  PostgreSQL:               {info['postgres_url']}")
    click.echo(f"  landing folder:           {cluster.folder / 'landing'}/<table>/")
    click.echo(f"  logs:                     {cluster.logs}")
    click.echo("Environment for meshgate, dbt and Dagster commands against this cluster:")
    for name, value in info["environment"].items():
        click.echo(f"  export {name}={shlex.quote(value)}")
    click.echo("Ctrl-C (or SIGTERM) stops every process.")
    click.echo(json.dumps({"ready": info}))


def _server_tls(cert: str | None, key: str | None, ca: str | None) -> ServerTls | None:
    if (cert is None) != (key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if cert is None:
        if ca is not None:
            raise click.UsageError(
                "--ca-cert is the CA of the replicas' certificate: pass --tls-cert and --tls-key too"
            )
        return None
    return ServerTls(Path(cert).resolve(), Path(key).resolve(), Path(ca or cert).resolve())


@click.group()
def dev() -> None:
    """Development helpers: run meshgate's deployment on this machine."""


@dev.command(
    epilog="Exit codes: 0 stopped cleanly, 1 a part did not start (the message names its log), 2 a usage error."
)
@click.option(
    "--postgres-url",
    default=None,
    help="PostgreSQL database to use, e.g. postgresql://postgres@127.0.0.1:5432/meshgate "
    f"(default: a fresh database on {DEFAULT_POSTGRES.rsplit('/', 1)[0]}, dropped at shutdown).",
)
@click.option(
    "--port-base",
    type=click.IntRange(1024, 65000),
    default=None,
    help="Use ports PORT_BASE.. in this order: " + ", ".join(PORT_NAMES) + " (default: free ports).",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for logs, landing files and state (default: a new temporary folder).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM certificate (valid for 127.0.0.1) the replicas serve gRPC and HTTPS with.",
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), default=None, help="PEM key of --tls-cert."
)
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="CA certificate (PEM) that signed --tls-cert, trusted by every client of the cluster and "
    "exported as MESHGATE_CA_CERT (default: --tls-cert itself, for a self-signed one).",
)
def cluster(
    postgres_url: str | None,
    port_base: int | None,
    folder: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    ca_cert: str | None,
) -> None:
    """Start the docker-compose.yml topology here without Docker, until Ctrl-C or SIGTERM.

    Two registry replicas on PostgreSQL, moto's S3 server as the warehouse, the Iceberg SQL catalog
    on PostgreSQL, the Dagster daemon and webserver with their storage on PostgreSQL. With
    --tls-cert/--tls-key the replicas serve TLS and the Dagster processes talk TLS to them."""
    tls = _server_tls(tls_cert, tls_key, ca_cert)
    path = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="meshgate-cluster-"))
    click.echo(f"cluster folder {path.resolve()}, logs in {path.resolve() / 'logs'}")
    stopping = []

    def interrupted(signum, frame) -> None:
        stopping.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    running = None
    try:
        running = start(path.resolve(), postgres_url, port_base, echo=click.echo, tls=tls)
        _print_ready(running)
        reported: set[str] = set()
        while True:
            for child in running.children:
                code = child.exited()
                if code is not None and child.name not in reported:
                    reported.add(child.name)
                    click.echo(f"{child.name} exited with {code}; see {child.log}", err=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("stopping the cluster")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if running is not None:
            stop(running, echo=click.echo)
            click.echo("cluster stopped: every process ended")
