"""Bronze tables on real Iceberg catalogs: creation, one-snapshot appends, exactly once, evolution."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from lakehouse import bronze
from lakehouse.naming import bronze_identifier

V1 = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False, metadata={b"doc": b"Unique id of this event."}),
        pa.field("quantity", pa.int32()),
        pa.field("ratio", pa.float32()),
        pa.field("amount", pa.decimal128(10, 2)),
        pa.field("coupon", pa.string()),
        pa.field("items", pa.list_(pa.struct([pa.field("sku", pa.string(), nullable=False)]))),
    ]
)
# v2: a new column and int -> long; v3: float -> double, decimal(10,2) -> decimal(12,2), coupon renamed.
V2 = pa.schema([*V1, pa.field("channel", pa.string())]).set(1, pa.field("quantity", pa.int64()))
V3 = (
    V2.set(2, pa.field("ratio", pa.float64()))
    .set(3, pa.field("amount", pa.decimal128(12, 2)))
    .set(4, pa.field("coupon_code", pa.string()))
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
IDENT = bronze_identifier("checkout.CheckoutCompleted")


def rows(schema: pa.Schema, start: int, count: int) -> pa.Table:
    data = {
        "event_id": [f"e{i}" for i in range(start, start + count)],
        "quantity": list(range(start, start + count)),
        "ratio": [0.5] * count,
        "amount": [Decimal("12.34")] * count,
        "items": [[{"sku": "A"}]] * count,
    }
    for name in schema.names:
        data.setdefault(name, [name] * count)
    return pa.Table.from_pydict({name: data[name] for name in schema.names}, schema=schema)


def write_batch(table, schema, batch_id, chunks=3, per_chunk=4, version=1):
    writer = bronze.BatchWriter(table, bronze.GateValues(batch_id, NOW, 7, version))
    for i in range(chunks):
        writer.write(rows(schema, i * per_chunk, per_chunk))
    summary = {bronze.SUMMARY_BATCH_ID: batch_id, bronze.SUMMARY_SUBJECT: "checkout.CheckoutCompleted"}
    return writer, bronze.commit_batch(table, writer.finish(), summary)


def test_table_is_created_in_bronze_with_gate_columns_and_day_partitioning(iceberg_catalog):
    table = bronze.ensure_table(iceberg_catalog, IDENT, V1)
    assert iceberg_catalog.list_tables("bronze") == [IDENT]
    schema = table.schema()
    assert [f.name for f in schema.fields][-4:] == [
        "_batch_id",
        "_ingested_at",
        "_schema_id",
        "_schema_version",
    ]
    assert all(schema.find_field(name).required for name in ("_batch_id", "_ingested_at"))
    assert not schema.find_field("event_id").required  # the gate enforces required fields
    assert schema.find_field("event_id").doc == "Unique id of this event."
    (partition,) = table.spec().fields
    assert (str(partition.transform), partition.name) == ("day", "_ingested_day")
    assert schema.find_field(partition.source_id).name == "_ingested_at"


def test_a_batch_written_in_chunks_is_one_snapshot_with_its_summary(iceberg_catalog):
    table = bronze.ensure_table(iceberg_catalog, IDENT, V1)
    writer, outcome = write_batch(table, V1, "batch-1")
    assert len(writer.finish()) == 1 and not outcome.duplicate  # three chunks, one file below the target size
    assert len(table.metadata.snapshots) == 1
    assert table.current_snapshot().summary[bronze.SUMMARY_BATCH_ID] == "batch-1"
    data = table.scan().to_arrow()
    assert data.num_rows == 12
    assert set(data.column("_batch_id").to_pylist()) == {"batch-1"}


def test_files_roll_at_the_tables_target_size_and_every_row_lands_once(sqlite_catalog):
    table = bronze.ensure_table(
        sqlite_catalog,
        IDENT,
        V1,
        properties={"write.target-file-size-bytes": "1", "write.parquet.row-group-limit": "4"},
    )  # every chunk is a row group, and every row group reaches the target: one file per chunk
    writer, outcome = write_batch(table, V1, "batch-1", chunks=3, per_chunk=4)
    files = writer.finish()
    assert [f.record_count for f in files] == [4, 4, 4] and len({f.file_path for f in files}) == 3
    assert all("/_ingested_day=2026-11-25/" in f.file_path for f in files)
    data = table.scan().to_arrow()
    assert sorted(data.column("event_id").to_pylist()) == sorted(f"e{i}" for i in range(12))
    assert set(data.column("_batch_id").to_pylist()) == {"batch-1"}
    assert set(data.column("_schema_version").to_pylist()) == {1}


def test_chunks_smaller_than_a_row_group_share_one_row_group(sqlite_catalog):
    """Row groups span chunks (up to the table's row-group limit), so small chunks make no small groups."""
    import pyarrow.parquet as pq

    table = bronze.ensure_table(sqlite_catalog, IDENT, V1, properties={"write.parquet.row-group-limit": "8"})
    writer, _ = write_batch(table, V1, "batch-1", chunks=5, per_chunk=3)
    (data_file,) = writer.finish()
    parquet = pq.ParquetFile(data_file.file_path.removeprefix("file://"))
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [8, 7]
    assert sorted(table.scan().to_arrow().column("event_id").to_pylist()) == sorted(
        f"e{i}" for i in range(15)
    )


def test_gate_columns_are_stored_as_plain_parquet_columns_with_their_field_ids(sqlite_catalog):
    import duckdb
    import pyarrow.parquet as pq

    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer, _ = write_batch(table, V1, "batch-1", chunks=2)
    (data_file,) = writer.finish()
    path = data_file.file_path.removeprefix("file://")
    parquet = pq.ParquetFile(path)
    ids = {f.name: f.field_id for f in table.schema().fields}
    stored = {parquet.schema.column(i).name: parquet.schema.column(i) for i in range(len(parquet.schema))}
    assert (
        stored["_batch_id"].physical_type == "BYTE_ARRAY"
        and stored["_batch_id"].logical_type.type == "STRING"
    )
    read = parquet.read()
    assert read.schema.field("_batch_id").type == pa.string()  # not a dictionary type on the way back
    assert read.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    assert (
        parquet.schema_arrow.field("_schema_id").metadata[b"PARQUET:field_id"]
        == str(ids["_schema_id"]).encode()
    )
    assert duckdb.sql(f"SELECT DISTINCT _batch_id, _schema_id FROM '{path}'").fetchall() == [("batch-1", 7)]
    column = parquet.metadata.row_group(0).column(list(stored).index("_batch_id"))
    assert column.statistics.min == column.statistics.max == "batch-1"


def test_written_but_uncommitted_files_are_invisible_and_discard_removes_them(sqlite_catalog, tmp_path):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer = bronze.BatchWriter(table, bronze.GateValues("b", NOW, 1, 1))
    writer.write(rows(V1, 0, 5))
    paths = [f.file_path for f in writer.finish()]
    assert table.scan().to_arrow().num_rows == 0
    writer.discard()
    assert not any(table.io.new_input(p).exists() for p in paths)


def test_a_batch_id_already_in_history_is_a_duplicate_no_op(iceberg_catalog):
    table = bronze.ensure_table(iceberg_catalog, IDENT, V1)
    _, first = write_batch(table, V1, "batch-1")
    _, again = write_batch(table, V1, "batch-1")
    assert again.duplicate and again.snapshot.snapshot_id == first.snapshot.snapshot_id
    assert table.scan().to_arrow().num_rows == 12
    assert len(table.metadata.snapshots) == 1


def test_durable_log_check_makes_a_batch_a_duplicate_even_without_its_snapshot(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer = bronze.BatchWriter(table, bronze.GateValues("old", NOW, 1, 1))
    writer.write(rows(V1, 0, 2))
    outcome = bronze.commit_batch(
        table, writer.finish(), {bronze.SUMMARY_BATCH_ID: "old"}, already_landed=lambda: True
    )
    assert outcome.duplicate and table.current_snapshot() is None


def test_three_contract_versions_evolve_the_table_and_old_snapshots_stay_readable(iceberg_catalog):
    table = bronze.ensure_table(iceberg_catalog, IDENT, V1)
    _, s1 = write_batch(table, V1, "v1", chunks=1)
    table = bronze.ensure_table(iceberg_catalog, IDENT, V2)
    _, s2 = write_batch(table, V2, "v2", chunks=1, version=2)
    table = bronze.ensure_table(iceberg_catalog, IDENT, V3, renames={"coupon": "coupon_code"})
    _, s3 = write_batch(table, V3, "v3", chunks=1, version=3)

    schema = table.schema()
    assert str(schema.find_field("quantity").field_type) == "long"
    assert str(schema.find_field("ratio").field_type) == "double"
    assert str(schema.find_field("amount").field_type) == "decimal(12, 2)"
    assert "coupon" not in schema.column_names and "channel" in schema.column_names
    # the renamed column keeps its field id, so v1 rows read under the new name
    current = table.scan().to_arrow().sort_by("_schema_version")
    assert current.column("coupon_code").to_pylist() == ["coupon"] * 8 + ["coupon_code"] * 4
    assert current.column("channel").to_pylist()[:4] == [None] * 4
    old = table.scan(snapshot_id=s1.snapshot.snapshot_id).to_arrow()
    assert old.num_rows == 4 and set(old.column("_batch_id").to_pylist()) == {"v1"}
    assert s1.snapshot.schema_id < s2.snapshot.schema_id < s3.snapshot.schema_id


def test_an_iceberg_illegal_change_is_refused_with_the_table_named(sqlite_catalog):
    bronze.ensure_table(sqlite_catalog, IDENT, V1)
    narrowed = V1.set(1, pa.field("quantity", pa.string()))
    with pytest.raises(bronze.SchemaEvolutionError, match=r"bronze\.checkout__checkout_completed.*quantity"):
        bronze.ensure_table(sqlite_catalog, IDENT, narrowed)


def test_contract_fields_clashing_with_gate_columns_are_refused(sqlite_catalog):
    clash = pa.schema([pa.field("_batch_id", pa.string())])
    with pytest.raises(bronze.SchemaEvolutionError, match="_batch_id"):
        bronze.ensure_table(sqlite_catalog, IDENT, clash)


def test_rollback_removes_later_batches_from_the_current_state_which_may_then_land_again(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    _, first = write_batch(table, V1, "b1", chunks=1)
    write_batch(table, V1, "b2", chunks=1)
    assert bronze.rollback(table, first.snapshot.snapshot_id) == ["b2"]
    assert set(table.scan().to_arrow().column("_batch_id").to_pylist()) == {"b1"}
    _, again = write_batch(table, V1, "b2", chunks=1)
    assert not again.duplicate
    assert table.scan().to_arrow().num_rows == 8


def test_rollback_to_an_unknown_snapshot_names_it(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    write_batch(table, V1, "b1", chunks=1)
    with pytest.raises(Exception, match="12345"):
        bronze.rollback(table, 12345)


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("checkout.CheckoutCompleted", "checkout__checkout_completed"),
        ("identity.UserSignedUp", "identity__user_signed_up"),
        ("web.v2.HTTPRequestSeen", "web__v2_http_request_seen"),
        ("Payments.refund_issued", "payments__refund_issued"),
    ],
)
def test_table_names_follow_the_naming_rule(subject, name):
    from lakehouse.naming import quarantine_identifier, table_name

    assert table_name(subject) == name
    assert bronze_identifier(subject) == ("bronze", name)
    assert quarantine_identifier(subject) == ("quarantine", name)


def test_a_subject_without_a_domain_is_refused():
    from lakehouse.naming import table_name
    from registry.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="'Orders' is not of the form domain.Name"):
        table_name("Orders")


def _sneak_in(catalog, batch_id):
    """An ``already_landed`` hook that lets another writer commit ``batch_id`` once, right before our
    commit attempt (between our refresh and our commit), as a concurrent gate would."""
    calls = []

    def hook():
        if not calls:
            other = catalog.load_table(IDENT)  # a second handle: another gate's view of the table
            write_batch(other, V1, batch_id, chunks=1)
        calls.append(1)
        return False

    return hook


def test_a_commit_conflict_is_retried_after_refreshing_and_both_batches_land(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer = bronze.BatchWriter(table, bronze.GateValues("ours", NOW, 1, 1))
    writer.write(rows(V1, 0, 4))
    outcome = bronze.commit_batch(
        table,
        writer.finish(),
        {bronze.SUMMARY_BATCH_ID: "ours"},
        already_landed=_sneak_in(sqlite_catalog, "theirs"),
    )
    assert not outcome.duplicate and outcome.attempts == 2
    assert sorted(set(table.scan().to_arrow().column("_batch_id").to_pylist())) == ["ours", "theirs"]


def test_a_conflict_with_a_gate_landing_the_same_batch_ends_as_a_duplicate(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer = bronze.BatchWriter(table, bronze.GateValues("same", NOW, 1, 1))
    writer.write(rows(V1, 0, 4))
    outcome = bronze.commit_batch(
        table,
        writer.finish(),
        {bronze.SUMMARY_BATCH_ID: "same"},
        already_landed=_sneak_in(sqlite_catalog, "same"),
    )
    assert outcome.duplicate and outcome.attempts == 2
    assert [s.summary[bronze.SUMMARY_BATCH_ID] for s in table.metadata.snapshots] == ["same"]


def test_losing_every_commit_attempt_is_a_clear_error_and_nothing_lands(sqlite_catalog):
    table = bronze.ensure_table(sqlite_catalog, IDENT, V1)
    writer = bronze.BatchWriter(table, bronze.GateValues("ours", NOW, 1, 1))
    writer.write(rows(V1, 0, 4))
    with pytest.raises(
        bronze.CommitConflict, match="batch ours: 1 commits to bronze.checkout__checkout_completed"
    ):
        bronze.commit_batch(
            table,
            writer.finish(),
            {bronze.SUMMARY_BATCH_ID: "ours"},
            already_landed=_sneak_in(sqlite_catalog, "theirs"),
            max_attempts=1,
        )
    assert bronze.find_batch(table.refresh(), "ours") is None
