"""The neutral field tree (``ParsedSchema.fields()``): every type of the vocabulary, from Avro and Protobuf."""

from __future__ import annotations

import json

import pytest

from registry.compat import get_format
from registry.compat.fields import Field, Type
from registry.errors import InvalidSchema

AVRO = get_format("AVRO")
PROTOBUF = get_format("PROTOBUF")


def avro_fields(*fields: dict) -> dict[str, Field]:
    schema = {"type": "record", "name": "Row", "namespace": "t", "fields": list(fields)}
    return {f.name: f for f in AVRO.parse(json.dumps(schema)).fields()}


def proto_fields(body: str, syntax: str = "proto3") -> dict[str, Field]:
    text = f'syntax = "{syntax}";\npackage t.v1;\nimport "google/protobuf/timestamp.proto";\n'
    text += 'import "google/protobuf/wrappers.proto";\n' + body
    return {f.name: f for f in PROTOBUF.parse(text).fields()}


def test_avro_primitives_and_logical_types_are_their_neutral_kinds():
    fields = avro_fields(
        {"name": "flag", "type": "boolean"},
        {"name": "n", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "amount", "type": "double"},
        {"name": "name", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "hash", "type": {"type": "fixed", "name": "Md5", "size": 16}},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["ON", "OFF"]}},
    )

    assert {name: f.type.kind for name, f in list(fields.items())[:7]} == {
        "flag": "boolean", "n": "int", "big": "long", "ratio": "float", "amount": "double",
        "name": "string", "blob": "bytes",
    }  # fmt: skip
    assert fields["price"].type == Type("decimal", precision=12, scale=2)
    assert fields["day"].type == Type("date")
    assert fields["clock"].type == Type("time", unit="millis")
    assert fields["at"].type == Type("timestamp", unit="micros", tz="UTC")
    assert fields["local"].type == Type("timestamp", unit="millis")
    assert fields["id"].type == Type("uuid")
    assert fields["hash"].type == Type("fixed", size=16)
    assert fields["state"].type == Type("enum", name="t.State", symbols=("ON", "OFF"))
    assert not any(f.nullable for f in fields.values())


def test_avro_union_with_null_is_nullable_and_defaults_docs_aliases_are_kept():
    fields = avro_fields(
        {"name": "note", "type": ["null", "string"], "default": None, "doc": "Free text."},
        {"name": "count", "type": "int", "default": 3, "aliases": ["n"]},
        {"name": "either", "type": ["null", "string", "long"]},
    )

    note, count, either = fields["note"], fields["count"], fields["either"]
    assert note.nullable and note.type == Type("string") and note.has_default and note.default is None
    assert note.doc == "Free text."
    assert not count.nullable and count.has_default and count.default == 3 and count.aliases == ("n",)
    assert count.number is None
    assert either.nullable and either.type == Type("union", branches=(Type("string"), Type("long")))
    assert not either.has_default


def test_avro_nested_records_arrays_and_maps_carry_paths_and_element_nullability():
    fields = avro_fields(
        {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
            {"name": "sku", "type": "string"}]}}},
        {"name": "tags", "type": {"type": "map", "values": ["null", "long"]}},
    )  # fmt: skip

    items = fields["items"].type
    assert items.kind == "list" and items.element.path == "Row.items[]" and not items.element.nullable
    assert items.element.type.kind == "record" and items.element.type.name == "t.Item"
    (sku,) = items.element.type.fields
    assert (sku.name, sku.path, sku.type) == ("sku", "Row.items[].sku", Type("string"))
    tags = fields["tags"].type
    assert tags.kind == "map" and tags.key.type == Type("string")
    assert tags.value.path == "Row.tags{}" and tags.value.nullable and tags.value.type == Type("long")


def test_avro_recursive_record_has_no_field_tree_but_has_columns():
    node = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}
    schema = AVRO.parse(json.dumps(node))

    assert schema.columns() == ("next",)
    with pytest.raises(InvalidSchema, match=r"Node\.next: recursive Avro type 'Node'"):
        schema.fields()


def test_avro_top_level_non_record_has_no_columns_and_no_field_tree():
    schema = AVRO.parse('{"type": "enum", "name": "E", "symbols": ["A"]}')

    assert schema.columns() == ()
    with pytest.raises(InvalidSchema, match="top-level type must be a record"):
        schema.fields()


def test_protobuf_scalars_well_known_types_and_enums_are_their_neutral_kinds():
    fields = proto_fields(
        """
        message Row {
          bool flag = 1; int32 n = 2; sint64 big = 3; uint32 small = 4; uint64 huge = 5;
          float ratio = 6; double amount = 7; string name = 8; bytes blob = 9;
          google.protobuf.Timestamp at = 10; google.protobuf.UInt64Value maybe = 11;
          enum Plan { FREE = 0; PRO = 1; } Plan plan = 12;
        }
        """
    )

    kinds = {name: f.type for name, f in fields.items()}
    assert kinds["flag"] == Type("boolean") and kinds["n"] == Type("int") and kinds["big"] == Type("long")
    assert kinds["small"] == Type("long")  # widened: no unsigned types
    assert kinds["huge"] == kinds["maybe"] == Type("decimal", precision=20, scale=0)
    assert kinds["ratio"] == Type("float") and kinds["amount"] == Type("double")
    assert kinds["name"] == Type("string") and kinds["blob"] == Type("bytes")
    assert kinds["at"] == Type("timestamp", unit="nanos", tz="UTC")
    assert kinds["plan"] == Type("enum", name="t.v1.Row.Plan", symbols=("FREE", "PRO"))
    assert [f.number for f in fields.values()] == list(range(1, 13))
    assert all(f.nullable for f in fields.values())  # proto3: every field may be absent on the wire


def test_protobuf_repeated_maps_nested_messages_comments_and_proto2_defaults():
    fields = proto_fields(
        """
        message Row {
          // The row's id.
          required string id = 1;
          optional int32 n = 2 [default = 7];
          repeated string tags = 3;
          map<string, int64> counts = 4;
          optional Address shipping = 5;
        }
        message Address { optional string city = 1; }
        """,
        syntax="proto2",
    )

    assert not fields["id"].nullable and fields["id"].doc == "The row's id."
    assert fields["n"].has_default and fields["n"].default == 7 and not fields["id"].has_default
    tags = fields["tags"].type
    assert tags.kind == "list" and tags.element.type == Type("string") and not tags.element.nullable
    counts = fields["counts"].type
    assert counts.kind == "map" and counts.key.type == Type("string") and counts.value.type == Type("long")
    assert counts.value.nullable and counts.value.path == "Row.counts{}"
    shipping = fields["shipping"].type
    assert shipping.kind == "record" and shipping.name == "t.v1.Address"
    assert [(f.name, f.path, f.number) for f in shipping.fields] == [("city", "Row.shipping.city", 1)]


def test_protobuf_recursive_message_has_no_field_tree_and_columns_pick_the_named_message():
    schema = PROTOBUF.parse(
        'syntax = "proto3";\npackage t.v1;\nmessage Node { string name = 1; repeated Node children = 2; }\n'
        "message Other { string x = 1; }\n"
    )

    assert schema.columns() == ("name", "children")
    assert schema.columns("Other") == ("x",)
    assert schema.columns("Missing") == ("name", "children")
    with pytest.raises(InvalidSchema, match="t.v1.Node: recursive messages"):
        schema.fields()


def test_an_unknown_kind_is_not_a_neutral_type():
    with pytest.raises(ValueError, match="unknown neutral type kind 'int32'"):
        Type("int32")
