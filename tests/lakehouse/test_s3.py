"""The gate on S3-compatible storage: input files and the warehouse in buckets of moto's server.

moto's server mode is a real HTTP S3 endpoint on loopback (no AWS reachable here); pyiceberg's
FileIO and pyarrow's S3 filesystem talk to it exactly as they would to MinIO or AWS.
"""

from __future__ import annotations

import json

import pytest

from lakehouse.bronze import SUMMARY_BATCH_ID
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from registry.contract import load_contract
from tests.lakehouse.conftest import moto_options


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


ROWS, CHUNK_ROWS = 3000, 500  # six data files per batch: the restart falls between them


def test_the_s3_server_restarted_mid_append_fails_the_gate_and_its_retry_lands_once(
    generate, checkout_contract, tmp_path
):
    """The S3 endpoint goes away after the first chunk's data file and comes back on the same port.

    moto's server runs in this process, so its objects outlive the restart of its HTTP server, as an
    object store's data outlives a restart of its front end; every connection in between is refused.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = moto_options(host, port)
    catalog = open_catalog(tmp_path / "data", warehouse="s3://lake/warehouse", storage_options=options)
    path = generate.write("checkout", tmp_path / "batch-1.jsonl", ROWS, seed=7)
    chunks = []

    def stop_mid_append(rows_read: int, bytes_read: int, total_bytes: int) -> None:
        chunks.append(rows_read)
        if len(chunks) == 2:
            server.stop()  # the first chunk's data file is written, the rest of the append is not

    def gate(progress=None):
        return ingest([str(path)], checkout_contract, catalog, schema_id=1, schema_version=1,
                      storage_options=options, chunk_rows=CHUNK_ROWS, progress=progress)  # fmt: skip

    try:
        s3 = boto3.client("s3", endpoint_url=options["s3.endpoint"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
        s3.create_bucket(Bucket="lake")
        with pytest.raises(OSError) as failed:
            gate(stop_mid_append)
        assert len(chunks) >= 2  # the server stopped after the first chunk
        assert f"Failed to connect to {host}:{port}" in str(failed.value)  # pyarrow's S3 error, with where
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)  # the restart
        server.start()
        table = catalog.load_table(bronze_identifier("checkout.CheckoutCompleted"))
        assert table.current_snapshot() is None  # nothing of the batch was committed

        retried, again = gate(), gate()

        assert (retried.status, retried.rows_accepted, again.status) == ("accepted", ROWS, "duplicate")
        table.refresh()
        assert table.scan().to_arrow().num_rows == ROWS
        assert [s.summary.get(SUMMARY_BATCH_ID) for s in table.snapshots()] == [retried.batch_id]
    finally:
        server.stop()
