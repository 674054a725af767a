"""The gate's input formats under fuzz: JSON Lines, Avro object container files, length-delimited
Protobuf and Confluent wire-format dumps, plain or gzip / zstd wrapped, through
``lakehouse.decode.read_batch``.

The property (docs/lakehouse-inputs.md): any file either decodes, its bad rows as ``RowViolation``s,
or raises ``lakehouse.errors.InvalidBatch``; never another exception. Inputs start from valid
records of four contracts (Avro and Protobuf, a plain and a rich one each: decimals, maps, unions,
enums, ``Struct``, ``Duration``, wrappers) and are then damaged: hostile JSON values and literals,
flipped, cut and inserted bytes, wrong lengths, magic bytes and schema ids, broken compression.
"""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal
from functools import cache

import fastavro
import zstandard
from google.protobuf import json_format
from hypothesis import strategies as st

from lakehouse.decode import read_batch
from lakehouse.errors import InvalidBatch
from lakehouse.schema_mapping import message_class, parsed_schema
from lakehouse.validate import RowViolation
from meshgate.demo import load_generator
from registry.contract import Contract, ContractMetadata, QualityRule

varint = load_generator().varint  # the sample files' length prefix


RICH_AVRO = {
    "type": "record",
    "name": "Rich",
    "namespace": "fuzz",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "n", "type": "int"},
        {"name": "big", "type": "long", "default": 0},
        {"name": "x", "type": ["null", "double"], "default": None},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}, "default": 0},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
        {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "string"}}},
        {"name": "blob", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "item", "type": {"type": "record", "name": "Item", "fields": [
            {"name": "sku", "type": "string"}, {"name": "qty", "type": "int", "default": 1}]}},
    ],
}  # fmt: skip
PLAIN_AVRO = {
    "type": "record",
    "name": "Plain",
    "namespace": "fuzz",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
}
RICH_PROTO = """syntax = "proto3";
package fuzz.v1;
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message Rich {
  string id = 1;
  int64 big = 2;
  uint64 huge = 3;
  bytes blob = 4;
  Colour colour = 5;
  repeated int32 many = 6;
  map<string, Inner> inners = 7;
  optional string maybe = 8;
  google.protobuf.Timestamp at = 9;
  google.protobuf.Duration took = 10;
  google.protobuf.Struct attrs = 11;
  google.protobuf.Value any = 12;
  google.protobuf.Int64Value wrapped = 13;
  double ratio = 14;
  oneof choice { string text = 15; int32 number = 16; }
}
enum Colour { COLOUR_UNSPECIFIED = 0; RED = 1; }
message Inner { string name = 1; repeated string labels = 2; }
"""
PLAIN_PROTO = 'syntax = "proto3";\npackage fuzz.v1;\nmessage Plain { string id = 1; int32 n = 2; }\n'
RULES = ContractMetadata(
    primary_key=["id"], quality_rules=[QualityRule("id", "not_null"), QualityRule("id", "unique")]
)

RICH_JSON = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["id", "n"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "n": {"type": "integer", "minimum": 0, "maximum": 1000, "multipleOf": 2},
        "x": {"type": ["number", "null"], "exclusiveMaximum": 1e300},
        "at": {"type": "string", "format": "date-time"},
        "colour": {"enum": ["RED", "GREEN"]},
        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 1, "maxLength": 20},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
        "item": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                 "required": ["sku"]},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
}  # fmt: skip

CONTRACTS = {
    "rich_avro": Contract(subject="fuzz.Rich", format="AVRO", schema=json.dumps(RICH_AVRO), metadata=RULES),
    "plain_avro": Contract(subject="fuzz.Plain", format="AVRO", schema=json.dumps(PLAIN_AVRO)),
    "rich_proto": Contract(subject="fuzz.Rich", format="PROTOBUF", schema=RICH_PROTO, metadata=RULES),
    "plain_proto": Contract(subject="fuzz.Plain", format="PROTOBUF", schema=PLAIN_PROTO),
    "rich_json": Contract(subject="fuzz.Rich", format="JSON", schema=json.dumps(RICH_JSON), metadata=RULES),
}
AVRO_CONTRACTS = ["rich_avro", "plain_avro"]
PROTO_CONTRACTS = ["rich_proto", "plain_proto"]
SCHEMA_IDS = {1: "rich_avro", 2: "plain_avro", 3: "rich_proto", 4: "plain_proto"}
"""What a Confluent dump's schema ids resolve to; any other id is unknown (the lookup raises)."""

AVRO_RECORDS = {
    "rich_avro": [
        {"id": "123e4567-e89b-12d3-a456-426614174000", "n": 7, "big": 2**62, "x": 1.5, "price": Decimal("12.34"),
         "at": 1767261600123, "day": 20455, "colour": "GREEN", "tags": {"a": ["x", "y"], "b": []},
         "blob": b"\x00\x01\x02\x03", "item": {"sku": "s-1", "qty": 2}},
        {"id": "00000000-0000-0000-0000-000000000000", "n": -1, "big": -5, "x": None, "price": Decimal("-0.01"),
         "at": 0, "day": 0, "colour": "RED", "tags": {}, "blob": b"abcd", "item": {"sku": "", "qty": 0}},
    ],
    "plain_avro": [{"id": "a", "amount": 1.25}, {"id": "b", "amount": -3e300}],
}  # fmt: skip
PROTO_RECORDS = {
    "rich_proto": [
        {"id": "r1", "big": "9007199254740993", "huge": "18446744073709551615", "blob": "AP8=", "colour": "RED",
         "many": [1, -2], "inners": {"k": {"name": "n", "labels": ["l"]}}, "maybe": "", "at": "2026-01-01T10:00:00Z",
         "took": "1.5s", "attrs": {"a": [1, "b", None]}, "any": 3, "wrapped": "5", "ratio": 0.5, "text": "t"},
        {"id": "r2", "number": 4},
        {},
    ],
    "plain_proto": [{"id": "p1", "n": 1}, {"n": -7}],
}  # fmt: skip

# -- strategies


def _json_values() -> st.SearchStrategy:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12)
        | st.sampled_from(["", "2026-01-01T00:00:00Z", "1.5s", "AP8=", "RED", "GREEN", "9007199254740993",
                           "12.345", "123e4567-e89b-12d3-a456-426614174000", "\u202e", "a" * 300])
    )  # fmt: skip
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=12,
    )  # fmt: skip


RAW_JSON = [
    b'{"id": NaN}', b'{"n": Infinity, "x": -Infinity}', b'{"id": "a", "id": "b"}', b'{"id": "\\ud800"}',
    b'{"id": "\xff\xfe"}', b"[" * 3000 + b"]" * 3000, b'{"n": ' + b"1" * 5000 + b"}", b'{"x": 1e999}',
    b'{"n": 3.0}', b"null", b"[]", b"{}", b"{", b'"text"', b"\x00", b"\xef\xbb\xbf{}", b'{"tags": {"a": 1}}',
    b'{"attrs": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
]  # fmt: skip


@st.composite
def _json_line(draw, contract: str) -> bytes:
    names = [f.name for f in _fields(contract)] + ["unknown", "userId", "inners", "attrs"]
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.sampled_from(RAW_JSON))
    if choice == 1:
        return draw(st.binary(max_size=40))
    base = dict(draw(st.sampled_from(_samples(contract))))
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        if draw(st.booleans()):
            base[name] = draw(_json_values())
        else:
            base.pop(name, None)
    line = json.dumps(base).encode()
    if choice == 3:
        line = _damaged(draw, line)
    return line.replace(b"\n", b" ")


JSON_RECORDS = {
    "rich_json": [
        {"id": "123e4567-e89b-12d3-a456-426614174000", "n": 4, "x": 1.5, "at": "2026-01-01T00:00:00Z",
         "colour": "RED", "name": "abc", "tags": ["a", "b"], "item": {"sku": "s", "qty": 1}, "either": 3},
        {"id": "123e4567-e89b-12d3-a456-426614174001", "n": 0},
    ],
}  # fmt: skip


def _samples(contract: str) -> list[dict]:
    if contract in JSON_RECORDS:
        return JSON_RECORDS[contract]
    if contract in AVRO_RECORDS:
        return [{k: _as_json(v) for k, v in r.items()} for r in AVRO_RECORDS[contract]]
    return PROTO_RECORDS[contract]


def _as_json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


@cache
def _fields(contract: str):
    from lakehouse.schema_mapping import contract_schema

    return contract_schema(CONTRACTS[contract]).fields()


def _damaged(draw, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, cut or inserted (or as it is)."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:]
    return bytes(data)


def _wrapped(draw, data: bytes) -> tuple[str, bytes]:
    """The file as stored: plain, gzip or zstd, now and then with the compressed bytes damaged."""
    wrapper = draw(st.sampled_from(["plain", "gzip", "zstd"]))
    if wrapper == "gzip":
        data = gzip.compress(data, mtime=0)
    elif wrapper == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    if wrapper != "plain" and draw(st.integers(0, 3)) == 0:
        data = _damaged(draw, data)
    return wrapper, data


@st.composite
def jsonl_files(draw) -> tuple[str, str, bytes]:
    contract = draw(st.sampled_from(sorted(CONTRACTS)))
    lines = draw(st.lists(_json_line(contract), min_size=0, max_size=6))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + draw(st.sampled_from([b"", ending]))
    return (contract, *_wrapped(draw, data))


@st.composite
def avro_files(draw) -> tuple[str, str, bytes]:
    contract = draw(st.sampled_from(AVRO_CONTRACTS))
    if draw(st.integers(0, 5)) == 0:
        return (contract, *_wrapped(draw, draw(st.binary(max_size=200))))
    records = draw(st.lists(st.sampled_from(AVRO_RECORDS[contract]), min_size=1, max_size=5))
    buffer = io.BytesIO()
    codec = draw(st.sampled_from(["null", "deflate"]))
    fastavro.writer(
        buffer,
        parsed_schema(CONTRACTS[contract]),
        records,
        codec=codec,
        sync_interval=40,
        sync_marker=b"meshgate-fuzz-16",
    )  # fixed: the same draws make the same bytes
    return (contract, *_wrapped(draw, _damaged(draw, buffer.getvalue())))


def _proto_payload(draw, contract: str) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=60))
    record = draw(st.sampled_from(PROTO_RECORDS[contract]))
    payload = json_format.ParseDict(record, message_class(CONTRACTS[contract])()).SerializeToString()
    return _damaged(draw, payload) if draw(st.booleans()) else payload


@st.composite
def protobuf_files(draw) -> tuple[str, str, bytes]:
    contract = draw(st.sampled_from(PROTO_CONTRACTS))
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        payload = _proto_payload(draw, contract)
        length = len(payload) if draw(st.integers(0, 4)) else draw(st.integers(0, 2**64))
        parts.append(varint(length) + payload)  # the length may lie
    data = b"".join(parts)
    if draw(st.integers(0, 4)) == 0:
        data = _damaged(draw, data) + draw(st.sampled_from([b"", b"\xff" * 11, b"\x80"]))
    return (contract, *_wrapped(draw, data))


@st.composite
def confluent_files(draw) -> tuple[str, str, bytes]:
    contract = draw(st.sampled_from(AVRO_CONTRACTS + PROTO_CONTRACTS))  # what a Confluent dump holds
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        schema_id = draw(st.sampled_from([*SCHEMA_IDS, 0, 99, 2**32 - 1]))
        writer = SCHEMA_IDS.get(schema_id, contract)
        if writer in PROTO_CONTRACTS:
            indexes = draw(
                st.sampled_from([b"\x00", b"\x02\x00", b"\x02\x02", b"\x04\x00\x00", b"\x7f", b""])
            )
            body = indexes + _proto_payload(draw, writer)
        elif draw(st.integers(0, 3)):
            buffer = io.BytesIO()
            record = draw(st.sampled_from(AVRO_RECORDS[writer]))
            fastavro.schemaless_writer(buffer, parsed_schema(CONTRACTS[writer]), record)
            body = _damaged(draw, buffer.getvalue())
        else:
            body = draw(st.binary(max_size=40))
        magic = draw(st.sampled_from([b"\x00", b"\x00", b"\x00", b"\x01"]))
        record = magic + schema_id.to_bytes(4, "big") + body
        length = len(record) if draw(st.integers(0, 4)) else draw(st.integers(0, 2**32 - 1))
        parts.append(length.to_bytes(4, "big") + record)
    data = b"".join(parts)
    if draw(st.integers(0, 4)) == 0:
        data = _damaged(draw, data)
    return (contract, *_wrapped(draw, data))


# -- the check


def _lookup(schema_id: int) -> Contract:
    return CONTRACTS[SCHEMA_IDS[schema_id]]  # KeyError for an unknown id, as a registry would refuse it


def gate_check(input_format: str):
    """The check of one input format: decodes into chunks of RowViolations, or raises InvalidBatch."""

    def check(targets, value: tuple[str, str, bytes]) -> None:
        contract, wrapper, data = value
        path = targets.scratch / f"batch-{input_format}-{wrapper}"
        path.write_bytes(data)
        try:
            for chunk in read_batch(str(path), CONTRACTS[contract], input_format=input_format,
                                    chunk_rows=3, schema_lookup=_lookup, max_line_bytes=1 << 20):  # fmt: skip
                assert all(isinstance(v, RowViolation) and v.file == str(path) for v in chunk.violations)
                assert chunk.table.num_rows == len(chunk.rows)
        except InvalidBatch as refused:
            assert refused.message, refused

    return check


GATE_CHECKS = {
    "gate_jsonl": (jsonl_files(), gate_check("jsonl")),
    "gate_avro": (avro_files(), gate_check("avro")),
    "gate_protobuf": (protobuf_files(), gate_check("protobuf")),
    "gate_confluent": (confluent_files(), gate_check("confluent")),
}
"""The gate's input formats as fuzz entry points (the ``targets`` argument gives the scratch folder)."""
