"""Batch files read from S3-compatible storage (moto's server mode: a real HTTP endpoint on loopback)."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lakehouse.decode import open_input, read_batch
from lakehouse.errors import InvalidBatch


@pytest.fixture
def landing_bucket():
    """A bucket ``landing`` on a fresh moto S3 server; yields (storage_options, boto3 client)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {
        "s3.endpoint": endpoint,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
        region_name="us-east-1",
    )  # fmt: skip
    client.create_bucket(Bucket="landing")
    yield options, client
    server.stop()


def test_a_zstd_compressed_batch_on_s3_decodes_like_a_local_one(
    landing_bucket, generate, checkout_contract, tmp_path
):
    options, client = landing_bucket
    local = generate.write("checkout", tmp_path / "batch.jsonl.zst", 500, bad=True)
    client.put_object(Bucket="landing", Key="checkout/batch.jsonl.zst", Body=local.read_bytes())

    remote = list(
        read_batch("s3://landing/checkout/batch.jsonl.zst", checkout_contract, storage_options=options)
    )
    here = list(read_batch(str(local), checkout_contract))

    assert sum(c.table.num_rows for c in remote) == sum(c.table.num_rows for c in here) == 499
    assert [(v.row, v.rule, v.byte_offset) for c in remote for v in c.violations] == [
        (v.row, v.rule, v.byte_offset) for c in here for v in c.violations
    ]
    assert remote[0].violations[0].file == "s3://landing/checkout/batch.jsonl.zst"


def test_an_avro_file_on_s3_decodes(landing_bucket, generate, checkout_contract, tmp_path):
    options, client = landing_bucket
    local = generate.write("checkout", tmp_path / "batch.avro", 100, fmt="avro")
    client.put_object(Bucket="landing", Key="batch.avro", Body=local.read_bytes())

    chunks = list(read_batch("s3://landing/batch.avro", checkout_contract, storage_options=options))

    assert sum(c.table.num_rows for c in chunks) == 100


def test_a_missing_s3_object_is_an_invalid_batch_naming_it(landing_bucket):
    options, _ = landing_bucket

    with pytest.raises(InvalidBatch, match="cannot open") as caught:
        open_input("s3://landing/nothing-here.jsonl", options)
    assert caught.value.file == "s3://landing/nothing-here.jsonl"
