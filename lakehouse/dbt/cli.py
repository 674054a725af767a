"""``meshgate dbt-sources``, ``meshgate transform`` and ``meshgate docs``: the dbt project driven from
meshgate (contracts in, Silver and Gold out, lineage served)."""

from __future__ import annotations

import functools
import http.server
import signal
import time
from pathlib import Path

import click

from lakehouse.catalog import open_catalog
from lakehouse.cli import lakehouse_options, parse_pairs
from lakehouse.dbt.glue import PROJECT_DIR, DbtRun, missing_bronze_tables, run_dbt, summarize, target_dir
from lakehouse.dbt.sources import SOURCES_FILE, contracts_from_files, contracts_from_registry, sources_yaml
from registry.cli import error_message, registry_options
from registry.errors import MeshgateError


@click.command("dbt-sources")
@click.option(
    "--contracts",
    "contracts_dir",
    type=click.Path(path_type=Path),
    help="Read contract YAML files from this folder instead of the registry.",
)
@registry_options
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path),
    default=PROJECT_DIR,
    show_default=True,
    help="The dbt project.",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when the committed file differs from the contracts."
)
def dbt_sources(contracts_dir, registry, token, tls, project_dir, check):
    """Generate dbt's Bronze sources (models/bronze/sources.yml) from the contracts.

    Exit 0 written (or up to date with --check), 1 stale under --check or the registry failed, 2 usage."""
    try:
        if contracts_dir is not None:
            text = sources_yaml(contracts_from_files(contracts_dir))
        else:
            from registry.client import RegistryClient

            with RegistryClient(registry, token=token, tls=tls) as client:
                text = sources_yaml(*contracts_from_registry(client))
    except MeshgateError as exc:
        raise click.ClickException(error_message(exc)) from None
    path = Path(project_dir) / SOURCES_FILE
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        if current != text:
            raise click.ClickException(f"{path} is stale: run `meshgate dbt-sources` and commit it")
        click.echo(f"{path} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}" + (" (unchanged)" if current == text else ""))


@click.command()
@lakehouse_options
@click.option(
    "--select", "selection", default=None, help="dbt node selection, e.g. 'silver' or '+daily_revenue'."
)
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental Silver models from all of Bronze.")
def transform(data_dir, catalog_url, warehouse, storage_options, selection, full_refresh):
    """Build Silver and Gold from Bronze with `dbt build` (models and their tests), streaming progress.

    Ends with one line: models built, tests passed and failed, rows in Silver and Gold, time taken.
    A subject with no Bronze table yet (no batch ingested) reads as an empty one, with a note saying so.
    dbt's colours only on a terminal. Exit 0 built, 1 a model or test failed (named), 2 usage error."""
    lakehouse = {
        "catalog_url": catalog_url,
        "warehouse": warehouse,
        "storage_options": parse_pairs(storage_options, "--storage-option"),
    }
    _note_missing_bronze(data_dir, **lakehouse)
    args = ["build"]
    if selection:
        args += ["--select", selection]
    if full_refresh:
        args.append("--full-refresh")
    started = time.perf_counter()
    run = run_dbt(args, data_dir, **lakehouse)
    catalog = open_catalog(data_dir, **lakehouse)
    try:
        click.echo(summarize(run, catalog, time.perf_counter() - started).line())
    finally:
        catalog.engine.dispose()
    _finish(run, "dbt build")


@click.command()
@lakehouse_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, help="0 picks a free port.")
@click.option("--no-serve", is_flag=True, help="Only generate the site.")
def docs(data_dir, catalog_url, warehouse, storage_options, host, port, no_serve):
    """Generate dbt's docs (lineage from Bronze sources to Gold) and serve them over HTTP.

    Ctrl-C or SIGTERM stops the server cleanly. Exit 0 stopped, 1 generating the docs failed, 2 usage."""
    lakehouse = {
        "catalog_url": catalog_url,
        "warehouse": warehouse,
        "storage_options": parse_pairs(storage_options, "--storage-option"),
    }
    _finish(run_dbt(["docs", "generate"], data_dir, **lakehouse), "dbt docs generate")
    site = target_dir(data_dir)
    click.echo(f"lineage docs: {site / 'index.html'}")
    if no_serve:
        return
    server = serve_docs(site, host, port)
    signal.signal(
        signal.SIGTERM, _interrupt
    )  # stop as Ctrl-C does: the interpreter exits normally (before saying it serves)
    click.echo(f"serving http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve_docs(site: str | Path, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the generated docs folder (index.html, manifest.json, catalog.json).

    Not started: call ``serve_forever()`` (or run it in a thread and ``shutdown()`` it).
    """
    handler = functools.partial(_QuietHandler, directory=str(site))
    return http.server.ThreadingHTTPServer((host, port), handler)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def _note_missing_bronze(data_dir, catalog_url, warehouse, storage_options) -> None:
    """Say which subjects have no Bronze table yet: dbt reads them as empty ones (macros/bronze.sql)."""
    catalog = open_catalog(data_dir, catalog_url, warehouse, storage_options)
    try:
        missing = missing_bronze_tables(catalog)
    finally:
        catalog.engine.dispose()
    if missing:
        tables = ", ".join(f"bronze.{table} ({subject})" for table, subject in sorted(missing.items()))
        click.echo(f"note: no batch ingested yet, read as empty tables: {tables}")


def _finish(run: DbtRun, what: str) -> None:
    if run.success:
        return
    lines = "\n".join(f"  - {line}" for line in run.failures) or "  (no node failed; see dbt's output above)"
    raise click.ClickException(f"{what} failed:\n{lines}")


commands = [dbt_sources, transform, docs]
