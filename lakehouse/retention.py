"""Retention and maintenance: the only code that removes anything from Bronze, and what it may remove.

Per tier (Iceberg namespace: ``bronze``, ``quarantine``) rows are kept for a retention period (7 years
by default). ``maintain`` deletes whole ``day(_ingested_at)`` partitions that ended before
``now - retention``, expires old snapshots and removes orphan data files, nothing else. Before
expiring a snapshot it writes the snapshot's batch id to the ingestion log, so exactly-once survives
the shorter history. An orphan is a file under the table's ``data/`` folder that no snapshot in the
table's metadata references (a killed gate's, an expired snapshot's), older than a safety window (1 day
by default, as Iceberg's remove-orphan-files) so the files of a gate still writing are never taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import LessThan
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of

from lakehouse import bronze
from lakehouse.ingest_log import EXPIRED, IngestLog, LogEntry
from lakehouse.naming import BRONZE, QUARANTINE
from registry.errors import InvalidArgument

SEVEN_YEARS = timedelta(days=7 * 365 + 2)  # two leap days in any seven years
DEFAULT_RETENTION = {BRONZE: SEVEN_YEARS, QUARANTINE: SEVEN_YEARS}
DEFAULT_SNAPSHOT_MAX_AGE = timedelta(days=30)
DEFAULT_ORPHAN_WINDOW = timedelta(days=1)
EPOCH = date(1970, 1, 1)  # day() partition values count days from it

_DURATION = re.compile(r"^(\d+)([hdwy])$")
_UNIT_DAYS = {"d": 1, "w": 7, "y": 365}


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12w``, ``7y`` (a year counted as 365 days, plus its leap days for ``y``), ``6h``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidArgument(f"duration {text!r}: expected a number and h, d, w or y, like 90d or 7y")
    number, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return timedelta(hours=number)
    days = number * _UNIT_DAYS[unit] + (number // 4 + (number % 4 > 0) if unit == "y" else 0)
    return timedelta(days=days)


def format_duration(duration: timedelta) -> str:
    """A duration in the unit a person wrote it in, the inverse of ``parse_duration``: 7y, 12w, 90d."""
    days = duration.days
    years = round(days / 365.25)
    if years and parse_duration(f"{years}y") == duration:
        return f"{years}y"
    return f"{days // 7}w" if days and days % 7 == 0 else f"{days}d"


def retention_label(duration: timedelta) -> str:
    """A retention period as a table shows it: its own unit, then the exact days when they differ (7y (2557d))."""
    text = format_duration(duration)
    return text if text == f"{duration.days}d" else f"{text} ({duration.days}d)"


@dataclass
class MaintenanceReport:
    table: str
    retention: timedelta
    cutoff: datetime  # rows ingested before this instant were eligible
    rows_deleted: int = 0
    partitions_deleted: list[str] = field(default_factory=list)
    snapshots_expired: int = 0
    batch_ids_logged: int = 0
    orphans_removed: list[str] = field(default_factory=list)  # paths of the deleted orphan files


def maintain(
    catalog: Catalog,
    *,
    retention: dict[str, timedelta] | None = None,
    snapshot_max_age: timedelta = DEFAULT_SNAPSHOT_MAX_AGE,
    orphan_window: timedelta = DEFAULT_ORPHAN_WINDOW,
    now: Callable[[], datetime] | None = None,
) -> list[MaintenanceReport]:
    """Apply retention, snapshot expiry and orphan removal to every Bronze and quarantine table.

    ``orphan_window``: only orphan files last modified before ``now - orphan_window`` are removed
    (measured by the wall clock of the storage, as file times are).
    """
    retention = {**DEFAULT_RETENTION, **(retention or {})}
    unknown = set(retention) - set(DEFAULT_RETENTION)
    if unknown:
        raise InvalidArgument(
            f"retention: unknown tier(s) {sorted(unknown)}; tiers are {sorted(DEFAULT_RETENTION)}"
        )
    instant = (now or (lambda: datetime.now(UTC)))()
    log = IngestLog(catalog.engine)
    reports = []
    for namespace, keep_for in retention.items():
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            report = MaintenanceReport(".".join(identifier), keep_for, _day_start(instant - keep_for))
            _delete_expired_partitions(table, report)
            # Bronze history is what exactly-once checks; quarantine snapshots need no record.
            _expire_snapshots(table, log if namespace == BRONZE else None, instant - snapshot_max_age, report)
            _remove_orphan_files(table, datetime.now(UTC) - orphan_window, report)
            reports.append(report)
    return reports


def _day_start(instant: datetime) -> datetime:
    """Midnight UTC of the instant's day: deleting before it drops whole day partitions only."""
    return datetime.combine(instant.astimezone(UTC).date(), time(0), tzinfo=UTC)


def _delete_expired_partitions(table: Table, report: MaintenanceReport) -> None:
    expired = LessThan(bronze.INGESTED_AT, report.cutoff.isoformat())
    tasks = list(table.scan(row_filter=expired).plan_files())
    if not tasks:
        return
    days = {str(EPOCH + timedelta(days=task.file.partition[0])) for task in tasks}
    report.rows_deleted = sum(task.file.record_count for task in tasks)
    report.partitions_deleted = sorted(days)
    table.delete(
        delete_filter=expired,
        snapshot_properties={bronze.SUMMARY_OPERATION: f"retention: older than {report.cutoff.date()}"},
    )
    table.refresh()


def _expire_snapshots(
    table: Table, log: IngestLog | None, older_than: datetime, report: MaintenanceReport
) -> None:
    current = table.current_snapshot()
    ancestry = {s.snapshot_id for s in ancestors_of(current, table.metadata)}
    cutoff_ms = int(older_than.timestamp() * 1000)
    doomed = [
        s
        for s in table.metadata.snapshots
        if s.timestamp_ms < cutoff_ms and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if not doomed:
        return
    subject_of = table.properties.get(bronze.TABLE_SUBJECT)
    for snapshot in doomed:
        summary = snapshot.summary or {}
        batch_id = summary.get(bronze.SUMMARY_BATCH_ID)
        subject = summary.get(bronze.SUMMARY_SUBJECT, subject_of or ".".join(table.name()))
        if log and batch_id and snapshot.snapshot_id in ancestry and not log.landed(subject, batch_id):
            log.record(
                LogEntry(
                    subject=subject,
                    batch_id=batch_id,
                    status=EXPIRED,
                    rows_accepted=int(summary.get(bronze.SUMMARY_RECORD_COUNT, 0)),
                    snapshot_id=snapshot.snapshot_id,
                    message=f"snapshot {snapshot.snapshot_id} expired; batch id kept here for exactly-once",
                )
            )
            report.batch_ids_logged += 1
    table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in doomed]).commit()
    report.snapshots_expired = len(doomed)


def _remove_orphan_files(table: Table, older_than: datetime, report: MaintenanceReport) -> None:
    """Delete the table's data files that no snapshot references, last modified before ``older_than``.

    Referenced means listed by a manifest of any snapshot still in the metadata (deleted entries
    included: an older snapshot may read them); files outside the ``data/`` folder are left alone.
    """
    table.refresh()
    referenced = set()
    for snapshot in table.metadata.snapshots:
        for manifest in snapshot.manifests(table.io):
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                referenced.add(_storage_path(entry.data_file.file_path))
    scheme, netloc, location = PyArrowFileIO.parse_location(table.location())
    filesystem = table.io.fs_by_scheme(scheme, netloc)
    selector = pafs.FileSelector(f"{location.rstrip('/')}/data", recursive=True, allow_not_found=True)
    for info in filesystem.get_file_info(selector):
        if info.type != pafs.FileType.File or info.path in referenced:
            continue
        if info.mtime is None or info.mtime >= older_than:
            continue  # possibly a gate still writing: never touched inside the window
        filesystem.delete_file(info.path)
        report.orphans_removed.append(info.path)
    report.orphans_removed.sort()


def _storage_path(location: str) -> str:
    """A file's location as the storage lists it (no scheme; bucket first for object stores)."""
    return PyArrowFileIO.parse_location(location)[2]
