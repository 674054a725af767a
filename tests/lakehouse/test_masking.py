"""PII masking: HMAC-SHA256 keyed hashes, per column and through nested records."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from lakehouse.masking import MissingPiiKey, UnknownPiiField, mask_key, mask_table, masked_schema, pii_hash

KEY = b"test-key"


def test_pii_hash_is_hmac_sha256_hex_of_the_utf8_value():
    assert pii_hash("ana@example.com", KEY) == hmac.new(KEY, b"ana@example.com", hashlib.sha256).hexdigest()
    assert pii_hash("ana@example.com", KEY) != pii_hash("ana@example.com", b"other-key")


def test_mask_key_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MESHGATE_PII_KEY", "s3cret")
    assert mask_key() == b"s3cret"


def test_mask_key_missing_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("MESHGATE_PII_KEY", raising=False)
    with pytest.raises(MissingPiiKey, match="MESHGATE_PII_KEY is not set"):
        mask_key()


def test_mask_table_hashes_top_level_and_nested_fields_and_keeps_nulls():
    table = pa.table(
        {
            "email": ["a@x.io", None, "a@x.io"],
            "customer": pa.array(
                [{"phone": 123, "name": "A"}, None, {"phone": 456, "name": "B"}],
                pa.struct([("phone", pa.int64()), ("name", pa.string())]),
            ),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    masked = mask_table(table, ["email", "customer.phone"], KEY)
    assert masked.column("email").to_pylist() == [pii_hash("a@x.io", KEY), None, pii_hash("a@x.io", KEY)]
    customers = masked.column("customer").to_pylist()
    assert customers[0] == {"phone": pii_hash("123", KEY), "name": "A"}
    assert customers[1] is None
    assert masked.column("amount").to_pylist() == [1.0, 2.0, 3.0]
    assert masked.schema == masked_schema(table.schema, ["email", "customer.phone"])


@pytest.mark.parametrize(
    ("path", "message"),
    [("phone", "no column 'phone'"), ("amount.x", "not a record"), ("customer.age", "no field 'age'")],
)
def test_unknown_pii_paths_are_named(path, message):
    table = pa.table({"amount": [1.0], "customer": [{"name": "A"}]})
    with pytest.raises(UnknownPiiField, match=message):
        mask_table(table, [path], KEY)
    with pytest.raises(UnknownPiiField, match=message):
        masked_schema(table.schema, [path])
