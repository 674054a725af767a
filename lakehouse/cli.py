"""``meshgate ingest``, ``ingest-log``, ``bronze tables|history|rollback`` and ``lakehouse maintain``.

Contracts come from the registry (``--registry``/``--token``, the version named or the latest) or from
a contract YAML file (``--contract``; schema id 0 and version 0 then mean "not registered").
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from pyiceberg.exceptions import NoSuchTableError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from lakehouse import bronze
from lakehouse.catalog import open_catalog
from lakehouse.contracts import resolve_contract
from lakehouse.decode import INPUT_FORMATS
from lakehouse.gate import MAX_REPORTED_VIOLATIONS, ON_INVALID, IngestResult
from lakehouse.ingest_log import ROLLED_BACK, IngestLog, LogEntry
from lakehouse.naming import BRONZE, bronze_identifier
from lakehouse.request import IngestRequest, ingest
from lakehouse.retention import (
    DEFAULT_ORPHAN_WINDOW,
    DEFAULT_SNAPSHOT_MAX_AGE,
    maintain,
    parse_duration,
    retention_label,
)
from registry.cli import deprecated_spelling, error_message, registry_options
from registry.errors import MeshgateError


def lakehouse_options(command):
    """``--data-dir``, ``--catalog-url``, ``--warehouse`` and ``--storage-option``, for every lakehouse command."""
    options = [
        click.option(
            "--data-dir",
            default=".meshgate",
            show_default=True,
            help="SQLite catalog (catalog.db) and warehouse/ live here.",
        ),
        click.option("--catalog-url", default=None, help="SQLAlchemy URL of the catalog (e.g. PostgreSQL)."),
        click.option("--warehouse", default=None, help="Warehouse location, e.g. s3://bucket/path."),
        click.option(
            "--storage-option",
            "storage_options",
            multiple=True,
            metavar="KEY=VALUE",
            help="FileIO property such as s3.endpoint=http://host:9000 (repeatable).",
        ),
    ]
    command = _storage_errors(command)
    for option in reversed(options):
        command = option(command)
    return command


def _storage_errors(command):
    """A storage failure (S3 unreachable, a disk full, a permission) as one line that names it, not
    a traceback: each write of the lakehouse commits last and atomically, so a rerun lands it once."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:  # the reader of our output went away (``| head``): not storage
            raise
        except OSError as exc:
            Console(stderr=True, soft_wrap=True).print(
                f"[red]error:[/] storage failed: {escape(str(exc))}\n"
                "nothing of it was committed: rerun the same command once storage is reachable "
                "(a batch lands once)"
            )
            raise SystemExit(1) from None

    return run


def _catalog(data_dir, catalog_url, warehouse, storage_options):
    return open_catalog(data_dir, catalog_url, warehouse, parse_pairs(storage_options, "--storage-option"))


def parse_pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        pairs[key.strip()] = value.strip()
    return pairs


@click.command("ingest")
@click.argument("files", nargs=-1, required=True)
@click.option("--subject", required=True, help="Subject of the batch, e.g. checkout.CheckoutCompleted.")
@click.option("--version", default="latest", show_default=True, help="Contract version in the registry.")
@click.option("--batch-id", default=None, help="Idempotency key (default: sha256 of the input bytes).")
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    help="Format of the input files (default: by extension).",
)
@deprecated_spelling(
    "--format",
    "deprecated_format",
    lambda value: f"--input-format {value} (--format names a schema format everywhere else)",
    type=click.Choice(INPUT_FORMATS),
)
@click.option("--on-invalid", type=click.Choice(ON_INVALID), default="reject", show_default=True)
@click.option(
    "--contract",
    "contract_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Contract YAML instead of the registry.",
)
@click.option(
    "--output",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="json: the decision and every violation as JSON on stdout.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="JSON Lines blocks decoded and validated at once (default: one per core).",
)
@registry_options
@lakehouse_options
def ingest_command(files, subject, version, batch_id, input_format, deprecated_format, on_invalid, contract_file, output, workers, registry, token, tls, data_dir, catalog_url, warehouse, storage_options):  # fmt: skip
    """Gate the files of one batch of SUBJECT into its Bronze table; exit 1 when it is rejected or
    storage fails (nothing committed then).

    Each kind of violation (rule and field path) is one line on stderr: count, where the first one is
    (file:line:byte offset), field, rule and its message. Values of PII fields are never shown.
    """
    console = Console(stderr=True, soft_wrap=True)
    try:
        version = version if version == "latest" else int(version)
    except ValueError:
        raise click.BadParameter(f"{version!r} is not a number or 'latest'", param_hint="--version") from None
    options = parse_pairs(storage_options, "--storage-option")
    try:
        resolved = resolve_contract(
            subject, version, contract_file=contract_file, registry=registry, token=token, tls=tls
        )
        with gate_progress(console, disable=output == "json") as progress:
            task = progress.add_task(f"gating {subject}", total=None, rows=0)
            request = IngestRequest(
                files,
                resolved,
                batch_id=batch_id,
                input_format=input_format or deprecated_format,
                on_invalid=on_invalid,
                data_dir=data_dir,
                catalog_url=catalog_url,
                warehouse=warehouse,
                storage_options=options,
                progress=lambda rows, read, total: progress.update(
                    task, completed=read, total=total or None, rows=rows
                ),
                max_violations=None if output == "json" else MAX_REPORTED_VIOLATIONS,
                workers=workers,
            )
            result = ingest(request)
        # At exit (not now: a test process goes on), no final collection walks every import's objects.
        atexit.unregister(gc.freeze)  # once, however many ingests a process runs
        atexit.register(gc.freeze)
    except MeshgateError as exc:  # with the hint of what to do, as every registry command says it
        console.print(f"[red]error:[/] {escape(error_message(exc))}")
        raise SystemExit(2) from None
    print_reason_kinds(console, result)
    if output == "json":
        click.echo(json.dumps(result_json(result), indent=2))
    else:
        Console(soft_wrap=True).print(decision_line(result))
    if result.status == "rejected":
        raise SystemExit(1)


def gate_progress(console: Console, disable: bool = False) -> Progress:
    """The gate's progress bar: bytes read of the batch's files, rows, speed (a terminal only).

    In a pipe or a file (and with ``disable``) nothing is drawn, so the output stays the decision.
    """
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable or not console.is_terminal,
    )


def decision_line(result: IngestResult) -> str:
    """The decision and its message, coloured (rich markup)."""
    colour = {"accepted": "green", "duplicate": "cyan", "quarantined": "yellow", "rejected": "red"}[
        result.status
    ]
    return f"[{colour}]{result.status.upper()}[/] {result.message}"


def print_result(console: Console, result: IngestResult, shown: int = 20) -> None:
    """The summary the demo shows after an ingest: decision, counts, reasons and the first violations."""
    console.print(decision_line(result))
    if result.reasons:
        console.print("reasons: " + ", ".join(f"{rule} x{n}" for rule, n in sorted(result.reasons.items())))
    for v in result.violations[:shown]:
        where = f"{v.file or ''}:{v.row}" + (f" (byte {v.byte_offset})" if v.byte_offset is not None else "")
        console.print(f"  {where} [yellow]{v.rule}[/] {v.message}")
    hidden = sum(result.reasons.values()) - min(shown, len(result.violations))
    if hidden > 0:
        console.print(f"  … and {hidden} more violations (counts above; the ingest log keeps the summary)")


def print_reason_kinds(console: Console, result: IngestResult) -> None:
    """One line per (rule, field path): count, first file:line:byte offset, field, rule, message."""
    for kind in result.kinds:
        first = kind.first
        where = f"{first.file}:{first.row}" + (
            f":{first.byte_offset}" if first.byte_offset is not None else ""
        )
        console.print(
            f"{kind.count} x {kind.rule} at {kind.field or '(record)'}, first at {where}: {first.message}",
            markup=False,
            highlight=False,
        )


def result_json(result: IngestResult) -> dict:
    """The decision, the reason kinds and every violation, for ``--output json``."""
    return {
        "batch_id": result.batch_id,
        "subject": result.subject,
        "status": result.status,
        "rows_accepted": result.rows_accepted,
        "rows_rejected": result.rows_rejected,
        "snapshot_id": result.snapshot_id,
        "message": result.message,
        "reasons": [
            {"rule": k.rule, "field": k.field, "count": k.count, "first": asdict(k.first)}
            for k in result.kinds
        ],
        "violations": [asdict(v) for v in result.violations],
    }


@click.command("ingest-log")
@click.option("--subject", default=None, help="Only this subject.")
@click.option("--limit", default=50, show_default=True, help="Newest entries shown.")
@lakehouse_options
def ingest_log_command(subject, limit, data_dir, catalog_url, warehouse, storage_options):
    """Every gate decision: accepted, rejected, quarantined, duplicate; counts and reasons."""
    catalog = _catalog(data_dir, catalog_url, warehouse, storage_options)
    table = Table(title="ingestion log")
    for column in ("time", "subject", "batch", "status", "accepted", "rejected", "reasons", "files"):
        table.add_column(column)
    for e in IngestLog(catalog.engine).entries(subject, limit):
        table.add_row(
            e.logged_at.strftime("%Y-%m-%d %H:%M:%S") if e.logged_at else "",
            e.subject,
            e.batch_id,
            e.status,
            str(e.rows_accepted),
            str(e.rows_rejected),
            ", ".join(f"{rule} x{n}" for rule, n in sorted(e.reasons.items())),
            ", ".join(e.files),
        )
    Console(width=200).print(table)


@click.group("bronze")
def bronze_group():
    """Bronze tables: list them, show a table's batches, roll one back."""


@bronze_group.command("tables")
@lakehouse_options
def bronze_tables(data_dir, catalog_url, warehouse, storage_options):
    """Every Bronze table with its row count and last batch."""
    catalog = _catalog(data_dir, catalog_url, warehouse, storage_options)
    table = Table(title="bronze tables")
    for column in ("table", "subject", "rows", "snapshots", "last batch"):
        table.add_column(column)
    for identifier in catalog.list_tables(BRONZE):
        iceberg = catalog.load_table(identifier)
        current = iceberg.current_snapshot()
        summary = current.summary if current and current.summary else {}
        table.add_row(
            ".".join(identifier),
            iceberg.properties.get(bronze.TABLE_SUBJECT, ""),
            summary.get("total-records", "0"),
            str(len(iceberg.metadata.snapshots)),
            summary.get(bronze.SUMMARY_BATCH_ID, ""),
        )
    Console(width=200).print(table)


@bronze_group.command("history")
@click.argument("subject")
@lakehouse_options
def bronze_history(subject, data_dir, catalog_url, warehouse, storage_options):
    """The snapshots of SUBJECT's Bronze table, newest first (* marks the current state)."""
    iceberg = _load(_catalog(data_dir, catalog_url, warehouse, storage_options), subject)
    current = iceberg.current_snapshot()
    table = Table(title=".".join(iceberg.name()))
    for column in ("", "snapshot", "time", "operation", "batch", "schema id", "records"):
        table.add_column(column)
    for snapshot in sorted(iceberg.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True):
        summary = snapshot.summary
        batch = summary.get(bronze.SUMMARY_BATCH_ID, summary.get(bronze.SUMMARY_OPERATION, ""))
        table.add_row(
            "*" if current and snapshot.snapshot_id == current.snapshot_id else "",
            str(snapshot.snapshot_id),
            datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            summary.operation.value,
            batch,
            summary.get(bronze.SUMMARY_SCHEMA_ID, ""),
            summary.get(bronze.SUMMARY_RECORD_COUNT, summary.get("added-records", "")),
        )
    Console(width=200).print(table)


@bronze_group.command("rollback")
@click.argument("subject")
@click.option("--to", "snapshot_id", required=True, type=int, help="Snapshot id to make current again.")
@lakehouse_options
def bronze_rollback(subject, snapshot_id, data_dir, catalog_url, warehouse, storage_options):
    """Make an earlier snapshot of SUBJECT's Bronze table current; later batches may be ingested again."""
    catalog = _catalog(data_dir, catalog_url, warehouse, storage_options)
    iceberg = _load(catalog, subject)
    try:
        removed = bronze.rollback(iceberg, snapshot_id)
    except MeshgateError as exc:
        raise click.ClickException(str(exc)) from None
    log = IngestLog(catalog.engine)
    for batch_id in removed:
        message = f"rolled back to snapshot {snapshot_id}"
        log.record(
            LogEntry(
                subject=subject,
                batch_id=batch_id,
                status=ROLLED_BACK,
                snapshot_id=snapshot_id,
                message=message,
            )
        )
    click.echo(
        f"{'.'.join(iceberg.name())} is at snapshot {snapshot_id}; batches no longer current: {', '.join(removed) or 'none'}"
    )


def _load(catalog, subject):
    try:
        return catalog.load_table(bronze_identifier(subject))
    except NoSuchTableError:
        raise click.ClickException(f"no Bronze table for {subject!r} (nothing ingested yet?)") from None
    except MeshgateError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("lakehouse")
def lakehouse_group():
    """Lakehouse maintenance."""


@lakehouse_group.command("maintain")
@click.option(
    "--retention",
    "retention",
    multiple=True,
    metavar="TIER=DURATION",
    help="e.g. bronze=7y, quarantine=90d (repeatable).",
)
@click.option(
    "--snapshot-max-age",
    default=f"{DEFAULT_SNAPSHOT_MAX_AGE.days}d",
    show_default=True,
    help="Expire snapshots older than this.",
)
@click.option(
    "--orphan-window",
    default=f"{DEFAULT_ORPHAN_WINDOW.days}d",
    show_default=True,
    help="Remove unreferenced data files only when older than this (0d: all of them).",
)
@lakehouse_options
def lakehouse_maintain(retention, snapshot_max_age, orphan_window, data_dir, catalog_url, warehouse, storage_options):  # fmt: skip
    """Delete partitions past retention, expire old snapshots, remove orphan data files; nothing else."""
    try:
        tiers = {tier: parse_duration(text) for tier, text in parse_pairs(retention, "--retention").items()}
        reports = maintain(
            _catalog(data_dir, catalog_url, warehouse, storage_options),
            retention=tiers,
            snapshot_max_age=parse_duration(snapshot_max_age),
            orphan_window=parse_duration(orphan_window),
        )
    except MeshgateError as exc:
        raise click.ClickException(str(exc)) from None
    table = Table(title="maintenance")
    columns = ("table", "retention", "deleted before", "rows deleted", "partitions", "snapshots expired",
               "orphans removed")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for r in reports:
        table.add_row(
            r.table,
            retention_label(r.retention),
            r.cutoff.date().isoformat(),
            str(r.rows_deleted),
            ", ".join(r.partitions_deleted),
            str(r.snapshots_expired),
            str(len(r.orphans_removed)),
        )
    console = Console(width=200)
    console.print(table)
    for r in reports:
        for path in r.orphans_removed:
            console.print(f"removed orphan file of {r.table}: {path}", soft_wrap=True, highlight=False)


commands = [ingest_command, ingest_log_command, bronze_group, lakehouse_group]
