"""Retention and maintenance with an injected clock: whole expired partitions go, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse import bronze
from lakehouse.ingest_log import IngestLog
from lakehouse.naming import bronze_identifier
from lakehouse.retention import SEVEN_YEARS, maintain, parse_duration
from registry.errors import InvalidArgument

SCHEMA = pa.schema([pa.field("event_id", pa.string())])
SUBJECT = "checkout.CheckoutCompleted"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def land(table, batch_id: str, ingested_at: datetime, rows: int = 3):
    writer = bronze.BatchWriter(table, bronze.GateValues(batch_id, ingested_at, 1, 1))
    data = pa.table({"event_id": [f"{batch_id}-{i}" for i in range(rows)]}, schema=SCHEMA)
    writer.write(data)
    summary = {
        bronze.SUMMARY_BATCH_ID: batch_id,
        bronze.SUMMARY_SUBJECT: SUBJECT,
        bronze.SUMMARY_RECORD_COUNT: str(rows),
    }
    return bronze.commit_batch(table, writer.finish(), summary)


def batches(table) -> set[str]:
    table.refresh()
    return set(table.scan().to_arrow().column("_batch_id").to_pylist())


def test_partitions_older_than_the_retention_are_deleted_and_younger_rows_kept(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    land(table, "2024", datetime(2024, 1, 1, tzinfo=UTC))
    land(table, "day-before-cutoff", datetime(2025, 11, 24, 23, 59, tzinfo=UTC))
    land(table, "cutoff-day", datetime(2025, 11, 25, 0, 0, tzinfo=UTC))
    land(table, "today", NOW)

    (report,) = maintain(sqlite_catalog, retention={"bronze": timedelta(days=365)}, now=lambda: NOW)

    assert report.cutoff == datetime(2025, 11, 25, tzinfo=UTC)
    assert report.partitions_deleted == ["2024-01-01", "2025-11-24"] and report.rows_deleted == 6
    assert batches(table) == {"cutoff-day", "today"}
    assert table.current_snapshot().summary.operation.value == "delete"


def test_the_default_bronze_retention_is_seven_years(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    land(table, "eight-years-old", NOW - timedelta(days=8 * 365))
    land(table, "six-years-old", NOW - timedelta(days=6 * 365))
    (report,) = maintain(sqlite_catalog, now=lambda: NOW)
    assert report.retention == SEVEN_YEARS
    assert batches(table) == {"six-years-old"}


def test_nothing_younger_than_the_retention_is_touched(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    land(table, "a", NOW - timedelta(days=3))
    land(table, "b", NOW)
    snapshots = len(table.metadata.snapshots)
    (report,) = maintain(sqlite_catalog, now=lambda: NOW)
    table.refresh()
    assert report.rows_deleted == 0 and report.snapshots_expired == 0
    assert len(table.metadata.snapshots) == snapshots and batches(table) == {"a", "b"}


def test_expired_snapshots_keep_their_batch_ids_in_the_log_so_a_retry_stays_a_no_op(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    land(table, "first", NOW)
    land(table, "second", NOW)
    later = datetime.now(UTC) + timedelta(days=60)  # both snapshots are now older than 30 days

    (report,) = maintain(sqlite_catalog, now=lambda: later)

    table.refresh()
    assert report.snapshots_expired == 1 and report.batch_ids_logged == 1
    assert [s.summary[bronze.SUMMARY_BATCH_ID] for s in table.metadata.snapshots] == ["second"]
    assert bronze.find_batch(table, "first") is None
    log = IngestLog(sqlite_catalog.engine)
    assert log.landed(SUBJECT, "first")
    again = bronze.commit_batch(
        table, [], {bronze.SUMMARY_BATCH_ID: "first"}, already_landed=lambda: log.landed(SUBJECT, "first")
    )
    assert again.duplicate and batches(table) == {"first", "second"}


@pytest.mark.parametrize(
    ("text", "days"), [("90d", 90), ("2w", 14), ("1y", 366), ("7y", 7 * 365 + 2), ("6h", 0.25), ("0d", 0)]
)
def test_parse_duration(text, days):
    assert parse_duration(text) == timedelta(days=days)


def test_parse_duration_rejects_other_shapes():
    with pytest.raises(InvalidArgument, match="'7 years'"):
        parse_duration("7 years")


def test_an_unknown_tier_is_refused(sqlite_catalog):
    with pytest.raises(InvalidArgument, match="gold"):
        maintain(sqlite_catalog, retention={"gold": timedelta(days=1)})


def test_retention_is_configured_per_tier(sqlite_catalog):
    from lakehouse.naming import quarantine_identifier

    bronze_table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    quarantine_table = bronze.ensure_table(sqlite_catalog, quarantine_identifier(SUBJECT), SCHEMA)
    hundred_days_ago = NOW - timedelta(days=100)
    land(bronze_table, "kept", hundred_days_ago)
    land(quarantine_table, "dropped", hundred_days_ago)

    reports = maintain(sqlite_catalog, retention={"quarantine": parse_duration("90d")}, now=lambda: NOW)

    assert {r.table: r.rows_deleted for r in reports} == {
        "bronze.checkout__checkout_completed": 0,
        "quarantine.checkout__checkout_completed": 3,
    }
    assert batches(bronze_table) == {"kept"}
    assert quarantine_table.refresh().scan().to_arrow().num_rows == 0


def test_maintain_removes_only_unreferenced_files_older_than_the_window(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier(SUBJECT), SCHEMA)
    land(table, "kept", NOW)
    orphan_writer = bronze.BatchWriter(
        table, bronze.GateValues("lost", NOW, 1, 1)
    )  # written, never committed: what a killed gate leaves
    data = pa.table({"event_id": ["lost"]}, schema=SCHEMA)
    orphan_writer.write(data)
    (orphan,) = [f.file_path.removeprefix("file://") for f in orphan_writer.finish()]

    young = maintain(sqlite_catalog, now=lambda: NOW)  # default window: one day
    assert not any(r.orphans_removed for r in young) and Path(orphan).is_file()
    reports = maintain(sqlite_catalog, orphan_window=timedelta(0), now=lambda: NOW)

    assert {r.table: r.orphans_removed for r in reports}["bronze.checkout__checkout_completed"] == [orphan]
    assert not Path(orphan).exists()
    assert batches(table) == {"kept"}
