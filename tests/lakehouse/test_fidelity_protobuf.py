"""Protobuf contracts: a record sent as proto3 JSON and the same record sent as binary Protobuf land
the same Bronze row, value by value and type by type.

Each case is one JSON line; the binary twin is what protobuf's own ``json_format.Parse`` makes of it,
serialized and length-delimited. Both go through the real gate into real Iceberg tables (SQLite
catalog) and are read back with pyiceberg: implicit proto3 defaults for absent and null scalars,
empty repeated fields and maps, null ``optional`` and message fields, ``Duration`` from its JSON
string, ``Struct`` / ``Value`` / ``ListValue`` as canonical JSON text.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from google.protobuf import json_format

from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from lakehouse.schema_mapping import message_class
from meshgate.demo import load_generator
from registry.contract import Contract
from tests.lakehouse.test_fidelity import same

delimited = load_generator().delimited  # varint length, then the message, as the sample files


SCHEMA = """syntax = "proto3";
package t.v1;
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";

message Row {
  string s = 1;
  int32 i = 2;
  int64 l = 3;
  uint64 u = 4;
  double d = 5;
  float f = 6;
  bool b = 7;
  bytes by = 8;
  Plan plan = 9;
  repeated string tags = 10;
  map<string, int32> counts = 11;
  optional string maybe = 12;
  Inner inner = 13;
  google.protobuf.Timestamp at = 14;
  google.protobuf.Duration took = 15;
  google.protobuf.Struct attrs = 16;
  google.protobuf.Value any = 17;
  google.protobuf.ListValue items = 18;
  repeated google.protobuf.Value anys = 19;
}
enum Plan { PLAN_UNSPECIFIED = 0; FREE = 1; }
message Inner { string name = 1; int32 n = 2; }
"""
DEFAULTS = {
    "s": "", "i": 0, "l": 0, "u": Decimal(0), "d": 0.0, "f": 0.0, "b": False, "by": b"",
    "plan": "PLAN_UNSPECIFIED", "tags": [], "counts": [], "maybe": None, "inner": None, "at": None,
    "took": None, "attrs": None, "any": None, "items": None, "anys": [],
}  # fmt: skip
# a null Value is a value (below); protobuf's own json_format.Parse fails on null for a repeated Value
NULLS = "{" + ", ".join(f'"{name}": null' for name in DEFAULTS if name not in ("any", "anys")) + "}"

# (case id, JSON line, the fields of the Bronze row that differ from DEFAULTS)
AGREES = [
    ("absent fields take proto3 defaults", "{}", {}),
    ("null fields take proto3 defaults", NULLS, {}),
    ("a null Value is JSON null", '{"any": null}', {"any": "null"}),
    ("sent values win", '{"s": "x", "i": -3, "l": "9007199254740993", "u": "18446744073709551615", "b": true,'
     ' "plan": "FREE", "tags": ["a"], "counts": {"k": 2}, "maybe": "", "by": "AP8="}',
     {"s": "x", "i": -3, "l": 9007199254740993, "u": Decimal(2**64 - 1), "b": True, "plan": "FREE",
      "tags": ["a"], "counts": [("k", 2)], "maybe": "", "by": b"\x00\xff"}),
    ("an empty message is set, its scalars defaulted", '{"inner": {}}', {"inner": {"name": "", "n": 0}}),
    ("an optional scalar sent as its default is kept", '{"maybe": ""}', {"maybe": ""}),
    ("Duration as its JSON string", '{"took": "1.500s"}', {"took": {"seconds": 1, "nanos": 500_000_000}}),
    ("negative Duration", '{"took": "-0.25s"}', {"took": {"seconds": 0, "nanos": -250_000_000}}),
    ("whole-second Duration", '{"took": "3s"}', {"took": {"seconds": 3, "nanos": 0}}),
    ("Struct as canonical JSON", '{"attrs": {"b": [1, 2.5, "x", true, null], "a": {"c": 1}}}',
     {"attrs": '{"a":{"c":1},"b":[1,2.5,"x",true,null]}'}),
    ("Struct numbers are doubles", '{"attrs": {"big": 12345678901234567890, "small": 1e-7, "whole": 2.0}}',
     {"attrs": '{"big":1.2345678901234567e+19,"small":1e-07,"whole":2}'}),
    ("Value of each kind", '{"any": [1, {"k": null}, "é"], "anys": [true, null, "x", 0.5]}',
     {"any": '[1,{"k":null},"é"]', "anys": ["true", "null", '"x"', "0.5"]}),
    ("ListValue", '{"items": [1, "a", []]}', {"items": '[1,"a",[]]'}),
    ("Timestamp", '{"at": "2026-01-01T10:00:00.123Z"}', {}),  # compared between the two inputs only
]  # fmt: skip


def contract(subject: str) -> Contract:
    return Contract(subject=subject, format="PROTOBUF", schema=SCHEMA)


def land(subject: str, path: Path, catalog, **options) -> list[dict]:
    result = ingest([str(path)], contract(subject), catalog, schema_id=1, schema_version=1, **options)
    assert result.status == "accepted", result.message
    return catalog.load_table(bronze_identifier(subject)).scan().to_arrow().to_pylist()


@pytest.mark.parametrize(("line", "differs"), [c[1:] for c in AGREES], ids=[c[0] for c in AGREES])
def test_json_lines_and_binary_protobuf_land_the_same_row(sqlite_catalog, tmp_path, line, differs):
    json_path = tmp_path / "batch.jsonl"
    json_path.write_text(line + "\n", encoding="utf-8")
    binary = json_format.Parse(line, message_class(contract("t.Row"))()).SerializeToString()
    binary_path = tmp_path / "batch.pb"
    binary_path.write_bytes(delimited(binary))

    (from_json,) = land("t.Row", json_path, sqlite_catalog)
    (from_binary,) = land("t.Binary", binary_path, sqlite_catalog)

    fields = {k: from_json[k] for k in DEFAULTS}
    assert same(fields, {k: from_binary[k] for k in DEFAULTS}), (fields, from_binary)
    if "at" not in line:
        assert same(fields, {**DEFAULTS, **differs}), fields


def test_the_fast_path_fills_top_level_defaults_too(sqlite_catalog, tmp_path):
    """A flat contract that pyarrow's reader can take: absent and null scalars still land as defaults."""
    flat = 'syntax = "proto3";\npackage t.v1;\nmessage Row { string id = 1; int64 n = 2; bool ok = 3; }\n'
    path = tmp_path / "flat.jsonl"
    path.write_text('{"id": "a", "n": 1, "ok": true}\n{"id": "b"}\n{"id": null, "n": null}\n')

    result = ingest([str(path)], Contract(subject="t.Flat", format="PROTOBUF", schema=flat), sqlite_catalog,
                    schema_id=1, schema_version=1)  # fmt: skip

    assert result.status == "accepted", result.message
    rows = sqlite_catalog.load_table(bronze_identifier("t.Flat")).scan().to_arrow().to_pylist()
    assert same(
        sorted((r["id"], r["n"], r["ok"]) for r in rows),
        [("", 0, False), ("a", 1, True), ("b", 0, False)],
    )


REFUSED = [
    ("Duration without its unit", '{"took": "1.5"}', "took", "type"),
    ("Duration as a number", '{"took": 1.5}', "took", "type"),
    ("Struct that is not an object", '{"attrs": [1]}', "attrs", "type"),
    ("ListValue that is not an array", '{"items": {"a": 1}}', "items", "type"),
    ("NaN inside a Struct", '{"attrs": {"x": NaN}}', "attrs.x", "decode"),
    ("a key twice inside a Struct", '{"attrs": {"x": 1, "x": 2}}', "attrs", "decode"),
    ("a number no double holds", '{"any": 1e999}', "any", "type"),
]


@pytest.mark.parametrize(("line", "field", "rule"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_well_known_type_in_the_wrong_json_form_is_refused_naming_the_field(
    sqlite_catalog, tmp_path, line, field, rule
):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"s": "ok"}\n' + line + "\n", encoding="utf-8")

    result = ingest([str(path)], contract("t.Row"), sqlite_catalog, schema_id=1, schema_version=1)

    assert result.status == "rejected", result.message
    assert [(v.row, v.field, v.rule) for v in result.violations] == [(2, field, rule)]
    assert result.violations[0].byte_offset == len('{"s": "ok"}\n')


def test_a_binary_struct_number_that_is_not_finite_is_refused_not_a_traceback(sqlite_catalog, tmp_path):
    cls = message_class(contract("t.Row"))
    message = cls(s="bad")
    message.attrs["x"] = float("nan")
    path = tmp_path / "nan.pb"
    path.write_bytes(delimited(cls(s="ok").SerializeToString()) + delimited(message.SerializeToString()))

    result = ingest([str(path)], contract("t.Row"), sqlite_catalog, schema_id=1, schema_version=1)

    assert result.status == "rejected", result.message
    assert [(v.row, v.rule) for v in result.violations] == [(2, "type")]
    assert "not a finite double" in result.violations[0].message
