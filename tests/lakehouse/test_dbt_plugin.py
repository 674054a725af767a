"""Landing a dbt model's result in Iceberg: one overwrite snapshot per build, empty results included."""

from __future__ import annotations

import pyarrow as pa

from lakehouse.dbt.plugin import write_iceberg

IDENTIFIER = ("gold", "daily_revenue")


def rows(*amounts: float) -> pa.Table:
    return pa.table(
        {
            "currency": pa.array(["EUR"] * len(amounts), pa.string()),
            "revenue": pa.array(amounts, pa.float64()),
        }
    )


def test_a_result_replaces_the_table_in_one_snapshot(sqlite_catalog):
    write_iceberg(sqlite_catalog, IDENTIFIER, rows(1.0, 2.0), {"meshgate.run": "1"})
    write_iceberg(sqlite_catalog, IDENTIFIER, rows(5.0), {"meshgate.run": "2"})
    table = sqlite_catalog.load_table(IDENTIFIER)
    assert table.scan().to_arrow()["revenue"].to_pylist() == [5.0]
    assert [s.summary["meshgate.run"] for s in table.snapshots()] == ["1", "2"]


def test_an_empty_first_result_creates_the_table_without_a_snapshot(sqlite_catalog):
    """Every batch of a subject rejected: Bronze is empty, so is the model; that is not an error."""
    write_iceberg(sqlite_catalog, IDENTIFIER, rows(), {"meshgate.run": "1"})
    table = sqlite_catalog.load_table(IDENTIFIER)
    assert table.current_snapshot() is None
    assert table.scan().to_arrow().num_rows == 0


def test_an_empty_result_after_data_empties_the_table(sqlite_catalog):
    write_iceberg(sqlite_catalog, IDENTIFIER, rows(1.0), {"meshgate.run": "1"})
    write_iceberg(sqlite_catalog, IDENTIFIER, rows(), {"meshgate.run": "2"})
    table = sqlite_catalog.load_table(IDENTIFIER)
    assert table.scan().to_arrow().num_rows == 0
    assert table.current_snapshot().summary["meshgate.run"] == "2"
