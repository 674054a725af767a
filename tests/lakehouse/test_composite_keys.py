"""Composite primary keys: ``unique`` over several fields in the gate (across the chunks of a batch)."""

from __future__ import annotations

import json

import pytest

from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier, quarantine_identifier
from registry.contract import load_contract
from registry.errors import InvalidArgument

SUBJECT = "shop.OrderLine"
SCHEMA = {
    "type": "record",
    "name": "OrderLine",
    "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "line", "type": "int"},
        {
            "name": "buyer",
            "type": {"type": "record", "name": "Buyer", "fields": [{"name": "email", "type": "string"}]},
        },
        {"name": "sku", "type": "string"},
    ],
}
CONTRACT = """
subject: shop.OrderLine
format: AVRO
schema: order_line.avsc
primary_key: [order_id, line]
pii: [buyer.email]
quality:
  - {field: [order_id, line], rule: unique}
"""


@pytest.fixture
def contract(tmp_path):
    (tmp_path / "order_line.avsc").write_text(json.dumps(SCHEMA))
    (tmp_path / "order_line.yaml").write_text(CONTRACT)
    return load_contract(tmp_path / "order_line.yaml")


def line(order: str, number: int, email: str = "a@b.io", sku: str = "S") -> dict:
    return {"order_id": order, "line": number, "buyer": {"email": email}, "sku": sku}


def write(tmp_path, records) -> str:
    path = tmp_path / "lines.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_a_composite_unique_key_is_parsed_from_a_list(contract):
    (rule,) = contract.metadata.quality_rules
    assert (rule.rule, rule.fields) == ("unique", ("order_id", "line"))
    assert contract.metadata.primary_key == ["order_id", "line"]


def test_a_composite_key_repeated_in_a_later_chunk_rejects_the_batch(sqlite_catalog, contract, tmp_path):
    records = [line("o1", 1), line("o1", 2), line("o2", 1), line("o3", 1), line("o1", 2, sku="T")]
    path = write(tmp_path, records)
    result = ingest([path], contract, sqlite_catalog, schema_id=1, schema_version=1, chunk_rows=2)

    assert result.status == "rejected" and result.reasons == {"unique": 1}
    (violation,) = result.violations
    assert (violation.row, violation.field, violation.value) == (5, "order_id,line", "(o1, 2)")
    assert "repeats the key of row 2" in violation.message


def test_rows_sharing_only_part_of_the_key_are_distinct(sqlite_catalog, contract, tmp_path):
    records = [line("o1", 1), line("o1", 2), line("o2", 1), line("o2", 2)]
    result = ingest([write(tmp_path, records)], contract, sqlite_catalog, schema_id=1, schema_version=1)

    assert result.status == "accepted" and result.rows_accepted == 4
    table = sqlite_catalog.load_table(bronze_identifier(SUBJECT)).scan().to_arrow()
    assert sorted(zip(table["order_id"].to_pylist(), table["line"].to_pylist(), strict=True)) == [
        ("o1", 1), ("o1", 2), ("o2", 1), ("o2", 2)
    ]  # fmt: skip


def test_repeats_of_a_composite_key_are_quarantined(sqlite_catalog, contract, tmp_path):
    records = [line("o1", 1), line("o1", 1, sku="X"), line("o2", 1), line("o1", 1, sku="Y")]
    path = write(tmp_path, records)
    result = ingest(
        [path], contract, sqlite_catalog, schema_id=1, schema_version=1, on_invalid="quarantine", chunk_rows=3
    )

    assert (result.status, result.rows_accepted, result.rows_rejected) == ("quarantined", 2, 2)
    quarantined = sqlite_catalog.load_table(quarantine_identifier(SUBJECT)).scan().to_arrow()
    assert sorted(quarantined["row"].to_pylist()) == [2, 4]


def test_a_pii_part_of_a_composite_key_is_not_echoed(sqlite_catalog, tmp_path):
    (tmp_path / "order_line.avsc").write_text(json.dumps(SCHEMA))
    (tmp_path / "order_line.yaml").write_text(
        CONTRACT.replace("[order_id, line], rule", "[order_id, buyer.email], rule")
    )
    contract = load_contract(tmp_path / "order_line.yaml")
    records = [line("o1", 1, email="jane@secret.io"), line("o1", 2, email="jane@secret.io")]
    result = ingest([write(tmp_path, records)], contract, sqlite_catalog, schema_id=1, schema_version=1)

    (violation,) = result.violations
    assert violation.value == "(o1, <redacted PII>)" and "jane" not in violation.message


def test_a_composite_key_must_be_a_list_of_paths(tmp_path):
    (tmp_path / "order_line.avsc").write_text(json.dumps(SCHEMA))
    (tmp_path / "order_line.yaml").write_text(
        CONTRACT.replace("[order_id, line], rule", "[order_id, 3], rule")
    )
    with pytest.raises(InvalidArgument, match=r"quality_rules\[0\].field: a composite unique key"):
        load_contract(tmp_path / "order_line.yaml")
