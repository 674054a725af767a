"""Contract schemas map to Arrow types as docs/lakehouse-types.md says."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from lakehouse.schema_mapping import UINT64, arrow_schema, message_class
from registry.contract import Contract
from registry.errors import InvalidSchema

TS = pa.timestamp("us", tz="UTC")


def avro_contract(fields: list[dict]) -> Contract:
    schema = {"type": "record", "name": "Row", "namespace": "t", "fields": fields}
    return Contract(subject="t.Row", format="AVRO", schema=json.dumps(schema))


def proto_contract(body: str, syntax: str = "proto3") -> Contract:
    text = f'syntax = "{syntax}";\npackage t.v1;\nimport "google/protobuf/timestamp.proto";\n'
    text += 'import "google/protobuf/wrappers.proto";\n' + body
    return Contract(subject="t.Row", format="PROTOBUF", schema=text)


def test_checkout_contract_maps_to_non_nullable_columns_with_docs_and_enum_symbols(checkout_contract):
    schema = arrow_schema(checkout_contract)

    assert schema.names == [
        "event_id", "order_id", "user_id", "email", "amount", "currency", "completed_at", "items",
    ]  # fmt: skip
    assert schema.field("amount").type == pa.float64()
    assert schema.field("completed_at").type == TS
    assert schema.field("currency").type == pa.string()
    assert json.loads(schema.field("currency").metadata[b"enum"]) == ["EUR", "USD", "GBP"]
    assert schema.field("event_id").metadata[b"doc"] == b"Unique id of this event."
    items = schema.field("items")
    assert items.type == pa.list_(
        pa.field(
            "item",
            pa.struct([pa.field("sku", pa.string(), False), pa.field("quantity", pa.int32(), False)]),
            False,
        )
    )
    assert not any(f.nullable for f in schema)


def test_signup_contract_maps_proto3_fields_as_nullable_with_comments_as_docs(signup_contract):
    schema = arrow_schema(signup_contract)

    assert schema.names == ["event_id", "user_id", "email", "country", "signed_up_at", "plan"]
    assert schema.field("signed_up_at").type == TS
    assert json.loads(schema.field("plan").metadata[b"enum"]) == ["PLAN_UNSPECIFIED", "FREE", "PRO"]
    assert schema.field("country").metadata[b"doc"] == b"ISO 3166 country code."
    assert all(f.nullable for f in schema)  # proto3: every field may be absent on the wire


def test_avro_logical_and_complex_types_follow_the_type_table():
    contract = avro_contract(
        [
            {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "at_micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
            {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "hash", "type": {"type": "fixed", "name": "Md5", "size": 16}},
            {"name": "ratio", "type": "float"},
            {"name": "flag", "type": "boolean"},
            {"name": "blob", "type": "bytes"},
            {"name": "tags", "type": {"type": "map", "values": "long"}},
            {"name": "note", "type": ["null", "string"], "default": None},
            {"name": "shipping", "type": {"type": "record", "name": "Address", "fields": [
                {"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"]}]}},
        ]
    )  # fmt: skip
    schema = arrow_schema(contract)

    assert schema.field("price").type == pa.decimal128(12, 2)
    assert schema.field("day").type == pa.date32()
    assert schema.field("at_micros").type == TS
    assert schema.field("local").type == pa.timestamp("us")
    assert schema.field("clock").type == pa.time64("us")
    assert schema.field("id").type == pa.string()
    assert schema.field("hash").type == pa.binary(16)
    assert schema.field("ratio").type == pa.float32()
    assert schema.field("flag").type == pa.bool_()
    assert schema.field("blob").type == pa.binary()
    assert schema.field("tags").type == pa.map_(pa.string(), pa.field("value", pa.int64(), False))
    assert schema.field("note").nullable and schema.field("note").type == pa.string()
    shipping = schema.field("shipping").type
    assert not shipping.field("city").nullable and shipping.field("zip").nullable


def test_avro_union_of_two_non_null_types_is_refused_with_its_path():
    contract = avro_contract([{"name": "either", "type": ["null", "string", "long"]}])

    with pytest.raises(InvalidSchema, match=r"Row\.either: union of 2 non-null types"):
        arrow_schema(contract)


def test_protobuf_scalars_repeated_maps_wrappers_and_nested_messages_follow_the_type_table():
    contract = proto_contract(
        """
        message Row {
          uint64 big = 1;
          uint32 small = 2;
          sint64 signed = 3;
          fixed64 fixed = 4;
          bytes blob = 5;
          repeated string tags = 6;
          map<string, int32> counts = 7;
          google.protobuf.Int64Value maybe = 8;
          google.protobuf.Timestamp at = 9;
          Address shipping = 10;
          optional string note = 11;
          oneof pick { string a = 12; int32 b = 13; }
        }
        message Address { string city = 1; }
        """
    )
    schema = arrow_schema(contract)

    assert schema.field("big").type == UINT64 == pa.decimal128(20, 0)
    assert schema.field("small").type == pa.int64()
    assert schema.field("signed").type == pa.int64()
    assert schema.field("fixed").type == UINT64
    assert schema.field("blob").type == pa.binary()
    assert schema.field("tags").type == pa.list_(pa.field("item", pa.string(), False))
    assert schema.field("counts").type == pa.map_(pa.string(), pa.int32())
    assert schema.field("maybe").type == pa.int64()
    assert schema.field("at").type == TS
    assert schema.field("shipping").type == pa.struct([pa.field("city", pa.string())])
    assert schema.names[-3:] == ["note", "a", "b"]


def test_proto2_required_fields_are_not_nullable():
    contract = proto_contract(
        "message Row { required string id = 1; optional int32 n = 2; }", syntax="proto2"
    )
    schema = arrow_schema(contract)

    assert not schema.field("id").nullable
    assert schema.field("n").nullable


def test_the_first_message_of_the_file_is_the_contracts_message():
    contract = proto_contract("message First { string a = 1; }\nmessage Second { string b = 1; }")

    assert arrow_schema(contract).names == ["a"]
    assert message_class(contract).DESCRIPTOR.full_name == "t.v1.First"
    assert message_class(contract, "t.v1.Second").DESCRIPTOR.full_name == "t.v1.Second"


def test_recursive_protobuf_message_is_refused():
    contract = proto_contract("message Node { string name = 1; repeated Node children = 2; }")

    with pytest.raises(InvalidSchema, match="t.v1.Node: recursive messages"):
        arrow_schema(contract)


def test_protobuf_schema_that_does_not_compile_names_the_problem():
    contract = proto_contract("message Row { strin name = 1; }")

    with pytest.raises(InvalidSchema, match="strin"):
        arrow_schema(contract)


@pytest.mark.parametrize(
    "contract",
    [
        Contract(subject="t.Free", format="JSON", schema='{"type": "object"}'),
        Contract(subject="t.Free", format="JSON", schema='{"$ref": "#"}'),
        avro_contract([]),
        proto_contract("message Row {}"),
    ],
    ids=["json-free-form", "json-self-ref", "avro-no-fields", "protobuf-empty-message"],
)
def test_a_schema_without_fields_is_refused_rather_than_landing_rows_with_no_value(contract):
    with pytest.raises(InvalidSchema, match="declares no fields, so Bronze would keep no value"):
        arrow_schema(contract)
