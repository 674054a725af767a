"""Batch files read from S3-compatible storage (moto's server mode: a real HTTP endpoint on loopback)."""

from __future__ import annotations

import pytest

from lakehouse.decode import BytesRead, open_input, read_batch
from lakehouse.errors import InvalidBatch


@pytest.fixture
def landing_bucket(s3_server):
    """The shared moto server's ``landing`` bucket: (storage_options, boto3 client)."""
    return s3_server


def test_a_zstd_compressed_batch_on_s3_decodes_like_a_local_one(
    landing_bucket, generate, checkout_contract, tmp_path
):
    options, client = landing_bucket
    local = generate.write("checkout", tmp_path / "batch.jsonl.zst", 500, bad=True)
    client.put_object(Bucket="landing", Key="checkout/batch.jsonl.zst", Body=local.read_bytes())

    meter = BytesRead(["s3://landing/checkout/batch.jsonl.zst"], options)
    remote = list(
        read_batch(
            "s3://landing/checkout/batch.jsonl.zst", checkout_contract, storage_options=options, meter=meter
        )
    )
    here = list(read_batch(str(local), checkout_contract))
    assert meter.count == meter.total == local.stat().st_size  # the object's compressed bytes

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
