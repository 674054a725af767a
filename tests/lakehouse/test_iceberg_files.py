"""lakehouse.iceberg_files, the one adapter over pyiceberg's writer: the signatures it relies on, and
files written apart from their commit landing in the right partition.

When pyiceberg changes its writer, the first test fails and names what changed; adapt
lakehouse/iceberg_files.py and the upper bound on pyiceberg in pyproject.toml together.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from pyiceberg.io import pyarrow as iceberg_pyarrow
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import WriteTask

from lakehouse import bronze
from lakehouse.iceberg_files import write_data_files
from lakehouse.naming import bronze_identifier

DATA = pa.schema([pa.field("event_id", pa.string())])
DAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_pyiceberg_writer_has_the_signatures_the_adapter_calls():
    changed = []
    for name, wanted in {
        "write_file": ["io", "table_metadata", "tasks"],
        "bin_pack_arrow_table": ["tbl", "target_file_size"],
    }.items():
        found = list(inspect.signature(getattr(iceberg_pyarrow, name)).parameters)
        if found != wanted:
            changed.append(f"pyiceberg.io.pyarrow.{name}{tuple(found)}, expected {tuple(wanted)}")
    for cls, wanted in {
        WriteTask: {"write_uuid", "task_id", "schema", "record_batches", "partition_key"},
        PartitionKey: {"field_values", "partition_spec", "schema"},
        PartitionFieldValue: {"field", "value"},
    }.items():
        if not wanted <= _fields(cls):
            changed.append(f"{cls.__name__} lacks {sorted(wanted - _fields(cls))}")
    assert not changed, "pyiceberg's writer changed; adapt lakehouse/iceberg_files.py: " + "; ".join(changed)


def rows(count: int, *days: datetime) -> pa.Table:
    chunk = pa.table({"event_id": [f"e{i}" for i in range(count)]}, schema=DATA)
    return bronze.with_gate_columns(chunk, "b-1", days[0], 1, 1) if len(days) == 1 else chunk


def test_files_written_before_the_commit_carry_their_day_partition(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier("shop.Ordered"), DATA)
    data = bronze.conform(rows(5, DAY), bronze.target_schema(table))
    files = write_data_files(table.metadata, table.io, data, uuid.uuid4(), itertools.count(0))
    assert [f.record_count for f in files] == [5]
    assert "/_ingested_day=2026-11-25/" in files[0].file_path
    assert files[0].partition[0] == (DAY.date() - datetime(1970, 1, 1).date()).days
    assert table.scan().to_arrow().num_rows == 0  # written, not published
    bronze.commit_batch(table, files, {bronze.SUMMARY_BATCH_ID: "b-1"})
    assert table.scan(row_filter="_ingested_at >= '2026-11-25T00:00:00+00:00'").to_arrow().num_rows == 5


def test_rows_of_two_partitions_in_one_write_are_refused(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, bronze_identifier("shop.Ordered"), DATA)
    first = bronze.with_gate_columns(rows(2), "b-1", DAY, 1, 1)
    second = bronze.with_gate_columns(rows(2), "b-1", DAY.replace(day=26), 1, 1)
    data = bronze.conform(pa.concat_tables([first, second]), bronze.target_schema(table))
    with pytest.raises(ValueError, match=r"rows of 2 partitions \(_ingested_day\) in one write"):
        write_data_files(table.metadata, table.io, data, uuid.uuid4(), itertools.count(0))
