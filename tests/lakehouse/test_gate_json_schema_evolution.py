"""A JSON Schema contract's compatible versions evolve its Bronze table as Avro's do (real pyiceberg).

Each version passes the compatibility engine the registry uses (BACKWARD against the one before);
its batch is gated into the same table: column ids stay, an added property is a new optional
column (nested ones too), a removed property keeps its column (null from then on), and the rows of
earlier versions read back unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse.bronze import SchemaEvolutionError
from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from registry.compat import Level, check_compatibility, get_format
from registry.contract import Contract, ContractMetadata

SUBJECT = "t.Evolving"
V1 = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "score": {"type": "integer"},
    "legacy": {"type": ["string", "null"]},
    "meta": {
        "type": "object",
        "properties": {"source": {"type": "string"}},
        "additionalProperties": False,
    },
}
V2 = {  # a property added (optional), and one inside the nested object
    **V1,
    "note": {"type": ["string", "null"]},
    "meta": {**V1["meta"], "properties": {"source": {"type": "string"}, "region": {"type": "string"}}},
}
V3 = {name: schema for name, schema in V2.items() if name != "legacy"}  # removed; content model opened
RECORDS = [
    {"id": 1, "name": "a", "score": 5, "legacy": "L", "meta": {"source": "web"}},
    {"id": 2, "name": "b", "score": 6, "note": "n", "meta": {"source": "app", "region": "eu"}},
    {"id": 3, "name": "c", "score": 7, "note": "m", "legacy": "ignored", "meta": {"source": "web"}},
]


def schema_text(properties: dict, closed: bool = True) -> str:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "required": ["id"],
    }
    return json.dumps({**schema, "additionalProperties": False} if closed else schema)


VERSIONS = [schema_text(V1), schema_text(V2), schema_text(V3, closed=False)]


def gate(catalog, tmp_path: Path, version: int, text: str, record: dict):
    path = tmp_path / f"v{version}.jsonl"
    path.write_text(json.dumps(record) + "\n")
    contract = Contract(subject=SUBJECT, format="JSON", schema=text, metadata=ContractMetadata())
    return ingest([str(path)], contract, catalog, schema_id=version, schema_version=version)


def test_the_versions_are_backward_compatible_as_the_registry_checks_them():
    fmt = get_format("JSON")
    for old, new in zip(VERSIONS, VERSIONS[1:], strict=False):
        result = check_compatibility(fmt, Level.BACKWARD, fmt.parse(new), [fmt.parse(old)])
        assert result.compatible, result.violations


def test_compatible_json_schema_versions_evolve_bronze_and_old_rows_read_back_unchanged(
    iceberg_catalog, tmp_path
):
    results, ids = [], []
    for version, (text, record) in enumerate(zip(VERSIONS, RECORDS, strict=True), start=1):
        result = gate(iceberg_catalog, tmp_path, version, text, record)
        assert result.status == "accepted", result.message
        results.append(result)
        schema = iceberg_catalog.load_table(bronze_identifier(SUBJECT)).schema()
        ids.append({field.name: field.field_id for field in schema.fields})
        ids[-1]["meta.source"] = schema.find_field("meta.source").field_id

    assert ids[1] == {**ids[0], "note": ids[1]["note"]} and ids[1]["note"] not in ids[0].values()  # same ids
    assert ids[2] == ids[1]  # the removed property keeps its column
    table = iceberg_catalog.load_table(bronze_identifier(SUBJECT))
    schema = table.schema()
    region = schema.find_field("meta.region")
    assert not region.required and region.field_id not in {*ids[0].values(), ids[1]["note"]}
    assert all(not schema.find_field(name).required for name in ("note", "legacy", "name"))

    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    data = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    assert data == [
        {
            "id": 1,
            "name": "a",
            "score": 5,
            "legacy": "L",
            "meta": {"source": "web", "region": None},
            "note": None,
        },
        {
            "id": 2,
            "name": "b",
            "score": 6,
            "legacy": None,
            "meta": {"source": "app", "region": "eu"},
            "note": "n",
        },
        {
            "id": 3,
            "name": "c",
            "score": 7,
            "legacy": None,
            "meta": {"source": "web", "region": None},
            "note": "m",
        },
    ]
    assert [r["_schema_version"] for r in rows] == [1, 2, 3]
    first = table.scan(snapshot_id=results[0].snapshot_id).to_arrow().to_pylist()
    assert [(r["id"], r["legacy"], r["meta"]["source"]) for r in first] == [(1, "L", "web")]


def test_integer_widened_to_number_is_refused_by_bronze_naming_the_column(sqlite_catalog, tmp_path):
    """Compatible for the registry (``integer`` is within ``number``), but Iceberg cannot promote
    long to double: the gate refuses the version with the column named, and writes nothing."""
    widened = schema_text({**V1, "score": {"type": "number"}})
    fmt = get_format("JSON")
    assert check_compatibility(fmt, Level.BACKWARD, fmt.parse(widened), [fmt.parse(VERSIONS[0])]).compatible
    assert gate(sqlite_catalog, tmp_path, 1, VERSIONS[0], RECORDS[0]).status == "accepted"

    with pytest.raises(SchemaEvolutionError, match="score: long -> double"):
        gate(sqlite_catalog, tmp_path, 2, widened, {**RECORDS[1], "score": 6.5})

    table = sqlite_catalog.load_table(bronze_identifier(SUBJECT))
    assert str(table.schema().find_field("score").field_type) == "long"
    assert table.scan().to_arrow().column("id").to_pylist() == [1]
