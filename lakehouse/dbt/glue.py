"""The seams between meshgate and dbt: Bronze snapshots for DuckDB, and running dbt in-process.

DuckDB reads each Bronze table's *current snapshot* with ``iceberg_scan`` on the metadata file the
catalog points at, through a view ``bronze.<table>``: nothing is copied through Python. The iceberg
extension comes from the ``duckdb-extension-iceberg`` wheel (and its ``avro`` sibling, needed to read
manifests), loaded from the file inside the package so no network is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import duckdb_extension_avro
import duckdb_extension_httpfs
import duckdb_extension_iceberg
import yaml
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from lakehouse.naming import BRONZE

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
DUCKDB_FILE = "meshgate.duckdb"


def load_iceberg_extension(conn: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB's avro and iceberg extensions from their PyPI wheels (no download)."""
    _load_extension(conn, duckdb_extension_avro, "avro")
    _load_extension(conn, duckdb_extension_iceberg, "iceberg")


def configure_s3(conn: duckdb.DuckDBPyConnection, storage_options: dict[str, str]) -> None:
    """Let DuckDB read an S3 warehouse with the same ``s3.*`` properties pyiceberg's FileIO uses."""
    _load_extension(conn, duckdb_extension_httpfs, "httpfs")
    settings: dict = {}
    endpoint = storage_options.get("s3.endpoint")
    if endpoint:
        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        settings.update(ENDPOINT=url.netloc, USE_SSL=url.scheme == "https", URL_STYLE="path")
    for option, name in _S3_SECRET.items():
        if storage_options.get(option):
            settings[name] = storage_options[option]
    body = "".join(f", {name} {_sql_value(value)}" for name, value in settings.items())
    conn.execute(f"create or replace secret meshgate_s3 (TYPE s3{body})")


_S3_SECRET = {
    "s3.access-key-id": "KEY_ID",
    "s3.secret-access-key": "SECRET",
    "s3.session-token": "SESSION_TOKEN",
    "s3.region": "REGION",
}


def _sql_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def _load_extension(conn: duckdb.DuckDBPyConnection, package, name: str) -> None:
    path = (
        Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise RuntimeError(
            f"DuckDB extension {name!r} for duckdb {duckdb.__version__} not found at {path}: "
            f"install duckdb-extension-{name}=={duckdb.__version__}"
        )
    conn.load_extension(str(path))


def bronze_tables(catalog: Catalog) -> list[tuple[str, str]]:
    """The identifiers of the Bronze tables, sorted (empty before the first ingest)."""
    try:
        return sorted(catalog.list_tables(BRONZE))
    except NoSuchNamespaceError:
        return []


def bronze_snapshots(catalog: Catalog) -> dict[str, str]:
    """Each Bronze table's current metadata file, by table name (empty before the first ingest)."""
    locations = {}
    for identifier in bronze_tables(catalog):
        try:
            locations[identifier[-1]] = catalog.load_table(identifier).metadata_location
        except NoSuchTableError:  # dropped between listing and loading
            continue
    return locations


def missing_bronze_tables(catalog: Catalog, project_dir: str | Path = PROJECT_DIR) -> dict[str, str]:
    """The Bronze tables the project's sources name that the catalog does not have: table -> subject."""
    path = Path(project_dir) / "models" / "bronze" / "sources.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    present = {identifier[-1] for identifier in bronze_tables(catalog)}
    return {
        table["name"]: table.get("meta", {}).get("subject", "?")
        for source in document.get("sources", [])
        for table in source.get("tables", [])
        if table["name"] not in present
    }


def create_bronze_views(conn: duckdb.DuckDBPyConnection, snapshots: dict[str, str]) -> None:
    """Point ``bronze.<table>`` at each snapshot with ``iceberg_scan`` (a view: no data copied).

    Views of tables the catalog does not have (the empty ones ``macros/bronze.sql`` stands in for a
    subject with no batch yet) are dropped: dbt's on-run-start hook makes them again from the current
    sources, so an evolved contract's empty table has its new columns.
    """
    conn.execute(f"create schema if not exists {BRONZE}")
    views = conn.execute(
        "select view_name from duckdb_views() where schema_name = ? and database_name = current_database()",
        [BRONZE],
    ).fetchall()
    for (view,) in views:
        if view not in snapshots:
            conn.execute(f'drop view {BRONZE}."{view}"')
    for table, location in snapshots.items():
        quoted = location.replace("'", "''")
        conn.execute(f"create or replace view {BRONZE}.\"{table}\" as select * from iceberg_scan('{quoted}')")


@dataclass
class DbtRun:
    """What a dbt invocation did: success, and the failing nodes as "name: message" lines."""

    success: bool
    failures: list[str] = field(default_factory=list)
    exception: BaseException | None = None
    results: object = None  # dbt's own result object (RunExecutionResult, CatalogArtifact, ...)


def run_dbt(
    args: list[str],
    data_dir: str | Path = ".meshgate",
    *,
    catalog_url: str | None = None,
    warehouse: str | None = None,
    storage_options: dict[str, str] | None = None,
    project_dir: str | Path = PROJECT_DIR,
    on_event: Callable | None = None,
    use_colors: bool | None = None,
) -> DbtRun:
    """Invoke dbt in-process (``dbtRunner``) on the project, pointed at the data directory.

    ``args`` is the dbt command and its flags, e.g. ``["build"]`` or ``["docs", "generate"]``;
    ``on_event`` receives dbt's structured events (to stream progress). dbt's output has colours only
    on a terminal (``use_colors`` None: when stdout is one), never escape codes in a file or a pipe.
    """
    from dbt.cli.main import dbtRunner

    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    project_dir = Path(project_dir).resolve()
    environment = {
        "MESHGATE_DATA_DIR": str(data_dir),
        "MESHGATE_CATALOG_URL": catalog_url or "",
        "MESHGATE_WAREHOUSE": warehouse or "",
        "MESHGATE_STORAGE_OPTIONS": json.dumps(storage_options or {}),
    }
    flags = [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir(data_dir)),
        "--log-path",
        str(data_dir / "dbt-logs"),
        "--use-colors" if (sys.stdout.isatty() if use_colors is None else use_colors) else "--no-use-colors",
    ]
    with dbt_environment(environment):
        try:
            result = dbtRunner(callbacks=[on_event] if on_event else []).invoke([*args, *flags])
        finally:
            _release_duckdb()
    failures = _failures(result.result)
    if result.exception is not None:
        failures.append(f"dbt error: {result.exception}")
    return DbtRun(result.success, failures, result.exception, result.result)


def on_node_finished(callback: Callable[[str, str, str], None]) -> Callable:
    """A dbt event callback calling ``callback(resource type, node name, status)`` as each node ends."""

    def on_event(event) -> None:
        if event.info.name == "NodeFinished":
            node = event.data.node_info
            callback(node.resource_type, node.node_name, node.node_status)

    return on_event


@dataclass(frozen=True)
class BuildSummary:
    """What a ``dbt build`` did, in meshgate's terms: models, tests, rows in Silver and Gold, time."""

    models: int
    tests_passed: int
    tests_failed: int
    tests_warned: int
    rows: dict[str, int]  # "silver.<table>" / "gold.<table>" -> rows in its current snapshot
    seconds: float

    def line(self) -> str:
        layers = {
            layer: sum(n for name, n in self.rows.items() if name.startswith(layer + "."))
            for layer in ("silver", "gold")
        }
        warned = f" ({self.tests_warned} warned)" if self.tests_warned else ""
        return (
            f"meshgate: {self.models} models, tests {self.tests_passed} passed / {self.tests_failed} failed"
            f"{warned}, rows: Silver {layers['silver']}, Gold {layers['gold']}, in {self.seconds:.1f} s"
        )


def summarize(run: DbtRun, catalog: Catalog, seconds: float) -> BuildSummary:
    """The summary of a build: node statuses from dbt's results, row counts from the snapshots."""
    statuses = [
        (node_result.node.resource_type, str(node_result.status))
        for node_result in getattr(run.results, "results", None) or []
    ]
    tests = [status for kind, status in statuses if kind == "test"]
    rows = {}
    for namespace in ("silver", "gold"):
        try:
            identifiers = catalog.list_tables(namespace)
        except NoSuchNamespaceError:
            continue
        for identifier in sorted(identifiers):
            snapshot = catalog.load_table(identifier).current_snapshot()
            total = snapshot.summary.get("total-records") if snapshot else None
            rows[".".join(identifier)] = int(total or 0)
    return BuildSummary(
        models=sum(kind == "model" for kind, status in statuses if status == "success"),
        tests_passed=tests.count("pass"),
        tests_failed=tests.count("fail") + tests.count("error"),
        tests_warned=tests.count("warn"),
        rows=rows,
        seconds=seconds,
    )


def target_dir(data_dir: str | Path) -> Path:
    """Where dbt writes manifest, run results and the docs site for this data directory."""
    return Path(data_dir).resolve() / "dbt-target"


def _failures(results: object) -> list[str]:
    lines = []
    for node_result in getattr(results, "results", None) or []:
        if str(node_result.status) in ("fail", "error"):
            name = getattr(node_result.node, "name", "?")
            lines.append(f"{name}: {node_result.message}")
    return lines


@contextlib.contextmanager
def dbt_environment(values: dict[str, str]) -> Iterator[None]:
    """Set the variables the dbt profile reads (dbt/profiles.yml) for one dbt run, then restore them.

    dbt reads its profile's ``env_var``s from ``os.environ``, in-process or in the subprocess that
    dagster-dbt starts, so the variables are set process-wide for the run.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide DuckDB environment once an invocation ends.

    dbt-duckdb keeps it open across in-process invocations; the next one must open afresh so the
    meshgate plugin resolves the Bronze snapshots again, and the file is free for other readers.
    ``env()`` raises a plain ``Exception`` when the invocation never connected: nothing to close.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # noqa: BLE001 - "environment requested before creation"
        environment = None
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
