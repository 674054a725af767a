"""The gate on S3-compatible storage: input files and the warehouse in buckets of moto's server.

moto's server mode is a real HTTP S3 endpoint on loopback (no AWS reachable here); pyiceberg's
FileIO and pyarrow's S3 filesystem talk to it exactly as they would to MinIO or AWS.
"""

from __future__ import annotations

import json

import pytest

from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from registry.contract import load_contract


@pytest.fixture
def s3_options(s3_server):
    return s3_server


def test_a_batch_from_s3_lands_in_an_s3_warehouse_once(s3_options, examples_dir, tmp_path):
    options, client = s3_options
    records = [
        {"event_id": f"e{i}", "order_id": f"o{i}", "user_id": "u", "email": "a@b.io", "amount": 1.5 * i,
         "currency": "GBP", "completed_at": "2026-11-25T10:00:00Z", "items": []}
        for i in range(50)
    ]  # fmt: skip
    client.put_object(
        Bucket="landing", Key="checkout/batch-1.jsonl", Body="".join(json.dumps(r) + "\n" for r in records)
    )
    contract = load_contract(examples_dir / "contracts/checkout/checkout_completed.yaml")
    catalog = open_catalog(tmp_path / "data", warehouse="s3://lake/warehouse", storage_options=options)

    path = "s3://landing/checkout/batch-1.jsonl"
    first = ingest([path], contract, catalog, schema_id=1, schema_version=1, storage_options=options)
    again = ingest([path], contract, catalog, schema_id=1, schema_version=1, storage_options=options)

    assert (first.status, first.rows_accepted, again.status) == ("accepted", 50, "duplicate")
    table = catalog.load_table(bronze_identifier("checkout.CheckoutCompleted"))
    assert table.location().startswith("s3://lake/warehouse/")
    assert sorted(table.scan().to_arrow().column("event_id").to_pylist()) == sorted(
        r["event_id"] for r in records
    )
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="lake")["Contents"]]
    assert any(k.endswith(".parquet") for k in keys) and any(k.endswith(".metadata.json") for k in keys)
