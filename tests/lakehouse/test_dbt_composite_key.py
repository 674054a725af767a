"""Silver deduplicates on a composite primary key: a real ``dbt build`` (dbt-duckdb) over Bronze.

The project's own macros (``macros/silver.sql``) and the sources generated from a contract whose
primary key is ``[order_id, line]``, in a copy of ``dbt/`` holding one Silver model on that key.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from lakehouse.catalog import open_catalog
from lakehouse.dbt.glue import DUCKDB_FILE, PROJECT_DIR, run_dbt, target_dir
from lakehouse.dbt.sources import sources_yaml
from lakehouse.gate import ingest
from lakehouse.masking import KEY_ENV
from registry.contract import load_contract

SCHEMA = {
    "type": "record",
    "name": "OrderLine",
    "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "line", "type": "int"},
        {"name": "sku", "type": "string"},
        {"name": "quantity", "type": "int"},
    ],
}
CONTRACT = """
subject: shop.OrderLine
format: AVRO
schema: order_line.avsc
primary_key: [order_id, line]
"""
MODEL = """
{{ config(alias='shop__order_line', unique_key=['order_id', 'line']) }}
with deliveries as (
    {{ silver_latest_deliveries('shop__order_line') }}
)
select
    cast(order_id as varchar) as order_id,
    cast(line as integer) as line,
    cast(sku as varchar) as sku,
    cast(quantity as integer) as quantity,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at
from deliveries
"""
MODEL_TESTS = """
version: 2
models:
  - name: silver_order_lines
    data_tests:
      - meshgate_unique_combination:
          arguments: {columns: [order_id, line]}
"""
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
BATCHES = [  # (batch id, rows): later batches re-deliver some (order_id, line) keys with new values
    ("lines-1", [("o1", 1, "A", 1), ("o1", 2, "B", 1), ("o2", 1, "C", 1)]),
    ("lines-2", [("o1", 2, "B", 5), ("o2", 2, "D", 1), ("o3", 1, "E", 1)]),
    ("lines-3", [("o1", 1, "A", 9), ("o2", 2, "D", 2)]),
]


@pytest.fixture
def project(tmp_path):
    """A copy of the dbt project whose only Silver model is keyed on (order_id, line)."""
    folder = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, folder, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for generated in ("models/silver", "models/gold", "tests"):
        shutil.rmtree(folder / generated)
    (folder / "models/silver").mkdir()
    (folder / "models/silver/silver_order_lines.sql").write_text(MODEL)
    (folder / "models/silver/_silver.yml").write_text(MODEL_TESTS)
    (tmp_path / "order_line.avsc").write_text(json.dumps(SCHEMA))
    (tmp_path / "order_line.yaml").write_text(CONTRACT)
    contract = load_contract(tmp_path / "order_line.yaml")
    (folder / "models/bronze/sources.yml").write_text(sources_yaml([contract]))
    return folder, contract


def silver(data_dir) -> dict[tuple, tuple]:
    with duckdb.connect(str(data_dir / DUCKDB_FILE), read_only=True) as conn:
        rows = conn.sql(
            "select order_id, line, sku, quantity, batch_id from silver.shop__order_line"
        ).fetchall()
    return {(order, line): (sku, quantity, batch) for order, line, sku, quantity, batch in rows}


def test_silver_keeps_the_latest_delivery_of_each_composite_key(project, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "composite-key-test")
    folder, contract = project
    data_dir = tmp_path / "data"
    catalog = open_catalog(data_dir)
    expected: dict[tuple, tuple] = {}
    for number, (batch_id, rows) in enumerate(BATCHES):
        path = tmp_path / f"{batch_id}.jsonl"
        path.write_text(
            "".join(
                json.dumps(dict(zip(("order_id", "line", "sku", "quantity"), r, strict=True))) + "\n"
                for r in rows
            )
        )
        ingested_at = DAY0 + timedelta(days=number)
        result = ingest([str(path)], contract, catalog, schema_id=1, schema_version=1, batch_id=batch_id,
                        clock=lambda at=ingested_at: at)  # fmt: skip
        assert result.status == "accepted", result.message
        build = run_dbt(["build"], data_dir, project_dir=folder)  # incremental after the first
        assert build.success, build.failures
        expected |= {(order, line): (sku, quantity, batch_id) for order, line, sku, quantity in rows}
        assert silver(data_dir) == expected
    catalog.engine.dispose()

    assert len(expected) == 5  # 8 deliveries of 5 keys: (o1, 1) and (o1, 2) share the order, not the key
    manifest = json.loads((target_dir(data_dir) / "manifest.json").read_text())
    assert manifest["nodes"]["model.meshgate.silver_order_lines"]["config"]["unique_key"] == [
        "order_id",
        "line",
    ]
    source_tests = [
        node for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node["name"] == "bronze__shop__order_line__order_id_line__unique"
    ]  # fmt: skip
    assert [t["config"]["severity"] for t in source_tests] == ["warn"]  # Bronze keeps re-deliveries
