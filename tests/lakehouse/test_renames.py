"""Renames at any depth keep their Iceberg column (same field id, old rows readable under the new name).

Avro renames by ``aliases``, Protobuf renames keeping the field number; nested records, records in
lists, and both at once, through the real gate on real Iceberg tables.
"""

from __future__ import annotations

import copy
import json

import pytest

from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from registry.contract import load_contract

AVRO_V1 = {
    "type": "record",
    "name": "Shipment",
    "namespace": "logistics",
    "fields": [
        {"name": "shipment_id", "type": "string"},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [
                    {"name": "cty", "type": "string"},
                    {
                        "name": "geo",
                        "type": {
                            "type": "record",
                            "name": "Geo",
                            "fields": [{"name": "lat", "type": "double"}],
                        },
                    },
                ],
            },
        },
        {
            "name": "parcels",
            "type": {
                "type": "array",
                "items": {"type": "record", "name": "Parcel", "fields": [{"name": "kg", "type": "double"}]},
            },
        },
    ],
}
PROTO_V1 = """syntax = "proto3";
package logistics.v1;
message Shipment {
  string shipment_id = 1;
  message Address {
    string cty = 1;
    message Geo { double lat = 1; }
    Geo geo = 2;
  }
  Address address = 2;
  message Parcel { double kg = 1; }
  repeated Parcel parcels = 3;
}
"""
SUBJECT = "logistics.Shipment"


def avro_v2() -> str:
    schema = copy.deepcopy(AVRO_V1)
    address = schema["fields"][1]
    address.update(name="destination", aliases=["address"])  # a top-level rename too
    city, geo = address["type"]["fields"]
    city.update(name="city", aliases=["cty"])
    geo["type"]["fields"][0].update(name="latitude", aliases=["lat"])  # three levels down
    schema["fields"][2]["type"]["items"]["fields"][0].update(name="weight_kg", aliases=["kg"])  # in a list
    return json.dumps(schema)


def proto_v2() -> str:
    renamed = {
        "cty = 1": "city = 1",
        "lat = 1": "latitude = 1",
        "kg = 1": "weight_kg = 1",
        "address = 2": "destination = 2",
    }
    text = PROTO_V1
    for old, new in renamed.items():
        text = text.replace(old, new)
    return text


CASES = {
    "avro": ("AVRO", "shipment.avsc", json.dumps(AVRO_V1), avro_v2()),
    "protobuf": ("PROTOBUF", "shipment.proto", PROTO_V1, proto_v2()),
}


def contract_version(tmp_path, case: str, version: int):
    fmt, schema_file, v1, v2 = CASES[case]
    folder = tmp_path / f"v{version}"
    folder.mkdir()
    (folder / schema_file).write_text(v1 if version == 1 else v2)
    (folder / "c.yaml").write_text(f"subject: {SUBJECT}\nformat: {fmt}\nschema: {schema_file}\n")
    return load_contract(folder / "c.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_renamed_fields_at_any_depth_keep_their_column(sqlite_catalog, tmp_path, case):
    v1 = {"shipment_id": "s1", "address": {"cty": "Porto", "geo": {"lat": 41.1}}, "parcels": [{"kg": 2.5}]}
    v2 = {
        "shipment_id": "s2",
        "destination": {"city": "Lyon", "geo": {"latitude": 45.7}},
        "parcels": [{"weight_kg": 1.0}],
    }
    ids = []
    for version, record in [(1, v1), (2, v2)]:
        contract = contract_version(tmp_path, case, version)
        path = tmp_path / f"b{version}.jsonl"
        path.write_text(json.dumps(record) + "\n")
        result = ingest([str(path)], contract, sqlite_catalog, schema_id=version, schema_version=version)
        assert result.status == "accepted", result.message
        schema = sqlite_catalog.load_table(bronze_identifier(SUBJECT)).schema()
        ids.append({name: schema.find_field(name).field_id for name in schema.column_names})

    renamed = {
        "address": "destination",
        "address.cty": "destination.city",
        "address.geo": "destination.geo",
        "address.geo.lat": "destination.geo.latitude",
        "parcels.element.kg": "parcels.element.weight_kg",
    }
    for old, new in renamed.items():
        assert ids[1][new] == ids[0][old], f"{old} -> {new} took a new column"
    assert not set(renamed) & set(ids[1])  # no column left under an old name
    assert len(ids[1]) == len(ids[0])  # no column added
    rows = (
        sqlite_catalog.load_table(bronze_identifier(SUBJECT))
        .scan()
        .to_arrow()
        .sort_by("shipment_id")
        .to_pylist()
    )
    assert [(r["destination"], r["parcels"]) for r in rows] == [
        ({"city": "Porto", "geo": {"latitude": 41.1}}, [{"weight_kg": 2.5}]),
        ({"city": "Lyon", "geo": {"latitude": 45.7}}, [{"weight_kg": 1.0}]),
    ]


def test_a_table_that_saw_the_new_names_already_is_not_renamed_again(sqlite_catalog, tmp_path):
    record = {"shipment_id": "s", "destination": {"city": "Lyon", "geo": {"latitude": 1.0}}, "parcels": []}
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(record) + "\n")
    for batch in ("a", "b"):  # version 2 twice: its aliases name columns the table does not have
        folder = tmp_path / batch
        folder.mkdir()
        contract = contract_version(folder, "avro", 2)
        result = ingest([str(path)], contract, sqlite_catalog, schema_id=2, schema_version=2, batch_id=batch)
        assert result.status == "accepted", result.message
    schema = sqlite_catalog.load_table(bronze_identifier(SUBJECT)).schema()
    assert "destination.city" in schema.column_names and "address" not in schema.column_names
