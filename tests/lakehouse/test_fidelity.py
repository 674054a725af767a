"""Every JSON shape a real API sends lands in Bronze as sent; every bad one is refused with a reason.

Each case goes through the real gate into a real Iceberg table (SQLite catalog) and is read back
with pyiceberg, compared value by value and type by type (an int is an int, a bool a bool).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
from registry.contract import Contract

AT = datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)
AT_MICROS = datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
EPOCH_MS = int(AT.timestamp()) * 1000 + 123
DAYS = (date(2026, 1, 2) - date(1970, 1, 1)).days


def avro(*fields: dict) -> Contract:
    schema = {"type": "record", "name": "Row", "namespace": "t", "fields": list(fields)}
    return Contract(subject="t.Row", format="AVRO", schema=json.dumps(schema))


def proto(body: str) -> Contract:
    text = 'syntax = "proto3";\npackage t.v1;\n' + body
    return Contract(subject="t.Row", format="PROTOBUF", schema=text)


def json_schema(properties: dict, required: list[str] | None = None) -> Contract:
    schema = {"type": "object", "properties": properties, "required": required or list(properties)}
    return Contract(subject="t.Row", format="JSON", schema=json.dumps(schema))


def logical(base: str, name: str, **extra) -> dict:
    return {"type": base, "logicalType": name, **extra}


RECORD = {
    "type": "record",
    "name": "Item",
    "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
}
COLOUR = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}

# (case id, contract, JSON text of "v" per line, the value read back from Bronze for each line)
LANDS = [
    ("timestamp-millis number and string", avro({"name": "v", "type": logical("long", "timestamp-millis")}),
     [str(EPOCH_MS), '"2026-01-01T10:00:00.123Z"', '"2026-01-01T12:00:00.123+02:00"'], [AT, AT, AT]),
    ("timestamp-micros number and string", avro({"name": "v", "type": logical("long", "timestamp-micros")}),
     [str(EPOCH_MS * 1000 + 456), '"2026-01-01T10:00:00.123456Z"'], [AT_MICROS, AT_MICROS]),
    ("local-timestamp-millis number and string",
     avro({"name": "v", "type": logical("long", "local-timestamp-millis")}),
     [str(EPOCH_MS), '"2026-01-01T10:00:00.123"'], [AT.replace(tzinfo=None)] * 2),
    ("local-timestamp-micros number", avro({"name": "v", "type": logical("long", "local-timestamp-micros")}),
     [str(EPOCH_MS * 1000 + 456)], [AT_MICROS.replace(tzinfo=None)]),
    ("date days and string", avro({"name": "v", "type": logical("int", "date")}),
     [str(DAYS), '"2026-01-02"'], [date(2026, 1, 2)] * 2),
    ("time-millis number and string", avro({"name": "v", "type": logical("int", "time-millis")}),
     ["3723004", '"01:02:03.004"'], [time(1, 2, 3, 4000)] * 2),
    ("time-micros number and string", avro({"name": "v", "type": logical("long", "time-micros")}),
     ["3723004005", '"01:02:03.004005"'], [time(1, 2, 3, 4005)] * 2),
    ("decimal number and string, exact",
     avro({"name": "v", "type": logical("bytes", "decimal", precision=38, scale=10)}),
     ["12345678901234567890.1234567891", '"12345678901234567890.1234567891"', "0.1", "7"],
     [Decimal("12345678901234567890.1234567891")] * 2 + [Decimal("0.1000000000"), Decimal("7.0000000000")]),
    ("uuid string", avro({"name": "v", "type": logical("string", "uuid")}),
     ['"123e4567-e89b-12d3-a456-426614174000"'], ["123e4567-e89b-12d3-a456-426614174000"]),
    ("exact 64-bit integers", avro({"name": "v", "type": "long"}),
     ["9007199254740993", "-9223372036854775808", "9223372036854775807"],
     [9007199254740993, -(2**63), 2**63 - 1]),
    ("booleans stay booleans", avro({"name": "v", "type": "boolean"}), ["true", "false"], [True, False]),
    ("map of longs", avro({"name": "v", "type": {"type": "map", "values": "long"}}),
     ['{"a": 1, "b": 2}', "{}"], [[("a", 1), ("b", 2)], []]),
    ("map of records", avro({"name": "v", "type": {"type": "map", "values": RECORD}}),
     ['{"x": {"sku": "s", "qty": 2}}'], [[("x", {"sku": "s", "qty": 2})]]),
    ("array of maps", avro({"name": "v", "type": {"type": "array", "items": {"type": "map", "values": "string"}}}),
     ['[{"a": "1"}, {}]'], [[[("a", "1")], []]]),
    ("nullable map", avro({"name": "v", "type": ["null", {"type": "map", "values": "double"}], "default": None}),
     ['{"a": 1.5}', "null"], [[("a", 1.5)], None]),
    ("map of maps of arrays (three levels)",
     avro({"name": "v", "type": {"type": "map", "values": {"type": "map", "values": {"type": "array", "items": "int"}}}}),
     ['{"a": {"b": [1, 2]}}'], [[("a", [("b", [1, 2])])]]),
]  # fmt: skip


def land(contract: Contract, lines: list[str], catalog, tmp_path: Path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in lines))
    return ingest([str(path)], contract, catalog, schema_id=1, schema_version=1)


def bronze_rows(catalog) -> list[dict]:
    table = catalog.load_table(bronze_identifier("t.Row"))
    return table.scan().to_arrow().to_pylist()


def same(got, expected) -> bool:
    """Equal, and of the same Python type at every level."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list | tuple):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected, strict=True))
    return got == expected


@pytest.mark.parametrize(("contract", "sent", "expected"), [c[1:] for c in LANDS], ids=[c[0] for c in LANDS])
def test_each_json_shape_lands_in_bronze_as_sent(sqlite_catalog, tmp_path, contract, sent, expected):
    result = land(contract, [f'{{"v": {v}}}' for v in sent], sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    got = [row["v"] for row in bronze_rows(sqlite_catalog)]
    assert same(got, expected), (got, expected)


DEFAULTS = [
    ({"name": "v", "type": "int", "default": 7}, 7),
    ({"name": "v", "type": "long", "default": 9007199254740993}, 9007199254740993),
    ({"name": "v", "type": "float", "default": 1.5}, 1.5),
    ({"name": "v", "type": "double", "default": 2.25}, 2.25),
    ({"name": "v", "type": "boolean", "default": True}, True),
    ({"name": "v", "type": "string", "default": "EUR"}, "EUR"),
    ({"name": "v", "type": "bytes", "default": "ab\u00ff"}, b"ab\xff"),  # Avro JSON: a code point per byte
    (
        {"name": "v", "type": {"type": "fixed", "name": "Two", "size": 2}, "default": "\u0000\u00ff"},
        b"\x00\xff",
    ),
    (
        {"name": "v", "type": logical("bytes", "decimal", precision=6, scale=2), "default": "\u0001\u0000"},
        Decimal("2.56"),
    ),
    ({"name": "v", "type": COLOUR, "default": "GREEN"}, "GREEN"),
    ({"name": "v", "type": RECORD, "default": {"sku": "none", "qty": 0}}, {"sku": "none", "qty": 0}),
    ({"name": "v", "type": {"type": "array", "items": "int"}, "default": [1, 2]}, [1, 2]),
    ({"name": "v", "type": {"type": "map", "values": "int"}, "default": {"k": 1}}, [("k", 1)]),
    ({"name": "v", "type": ["null", "string"], "default": None}, None),
    ({"name": "v", "type": ["string", "null"], "default": "x"}, "x"),
    ({"name": "v", "type": logical("long", "timestamp-millis"), "default": EPOCH_MS}, AT),
    ({"name": "v", "type": logical("int", "date"), "default": DAYS}, date(2026, 1, 2)),
]


@pytest.mark.parametrize(
    ("field", "expected"), DEFAULTS, ids=[json.dumps(f["type"])[:40] for f, _ in DEFAULTS]
)
def test_a_missing_field_takes_the_avro_default(sqlite_catalog, tmp_path, field, expected):
    contract = avro({"name": "id", "type": "string"}, field)

    result = land(contract, ['{"id": "a"}'], sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    (row,) = bronze_rows(sqlite_catalog)
    assert same(row["v"], expected), (row["v"], expected)


def test_a_missing_nested_field_takes_its_default_and_a_sent_value_wins(sqlite_catalog, tmp_path):
    item = {"type": "record", "name": "Item", "fields": [
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "int", "default": 1}]}  # fmt: skip
    contract = avro({"name": "items", "type": {"type": "array", "items": item}})

    result = land(contract, ['{"items": [{"sku": "a"}, {"sku": "b", "qty": 5}]}'], sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    assert bronze_rows(sqlite_catalog)[0]["items"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}]


def test_json_schema_contracts_land_their_types(sqlite_catalog, tmp_path):
    contract = json_schema(
        {
            "n": {"type": "integer"},
            "x": {"type": "number"},
            "ok": {"type": "boolean"},
            "s": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "page": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
            "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object"},
        }
    )
    line = {
        "n": 9007199254740993, "x": 0.5, "ok": False, "s": "é", "at": "2026-01-01T10:00:00.123456Z",
        "day": "2026-01-02", "id": "123e4567-e89b-12d3-a456-426614174000", "page": {"url": "https://a"},
        "attrs": {"a": 1}, "tags": ["t"], "extra": {"b": [1, 2.5, None], "a": "x"},
    }  # fmt: skip

    text = json.dumps(line, ensure_ascii=False).replace("2.5", "2.50")  # the digits as an API sends them
    result = land(contract, [text], sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    (row,) = bronze_rows(sqlite_catalog)
    expected = {
        **line, "at": AT_MICROS, "day": date(2026, 1, 2), "attrs": [("a", 1)],
        "extra": '{"a":"x","b":[1,2.50,null]}',  # canonical JSON text: keys sorted, numbers as sent
    }  # fmt: skip
    assert same({k: row[k] for k in expected}, expected), row


def test_json_schema_date_time_is_a_string_only(sqlite_catalog, tmp_path):
    """A JSON Schema ``date-time`` has no unit of its own: an epoch number would be a guess."""
    contract = json_schema({"at": {"type": "string", "format": "date-time"}})

    result = land(contract, [f'{{"at": {EPOCH_MS}}}'], sqlite_catalog, tmp_path)

    assert result.status == "rejected"
    assert [(v.row, v.field, v.rule) for v in result.violations] == [(1, "at", "type")]


PROTO = """
message Row {
  string user_id = 1;
  int64 big = 2;
  repeated int64 many = 3;
}
"""


@pytest.mark.parametrize(
    "line",
    [
        '{"user_id": "u", "big": 9007199254740993, "many": [1]}',
        '{"userId": "u", "big": "9007199254740993", "many": ["1"]}',
    ],
    ids=["original names, numbers", "lowerCamel names, 64-bit integers as strings"],
)
def test_protobuf_json_mapping_names_and_64_bit_integers(sqlite_catalog, tmp_path, line):
    result = land(proto(PROTO), [line], sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    (row,) = bronze_rows(sqlite_catalog)
    assert same(
        {k: row[k] for k in ("user_id", "big", "many")},
        {"user_id": "u", "big": 9007199254740993, "many": [1]},
    )


def test_protobuf_json_mapping_enums_by_name_or_number_and_bytes_as_base64(sqlite_catalog, tmp_path):
    contract = proto("""
enum Plan { PLAN_UNSPECIFIED = 0; FREE = 1; PRO = 5; }
message Row { Plan plan = 1; bytes blob = 2; repeated bytes blobs = 3; }
""")
    lines = ['{"plan": "PRO", "blob": "AP8=", "blobs": ["_w"]}', '{"plan": 5, "blob": "AP8", "blobs": []}']

    result = land(contract, lines, sqlite_catalog, tmp_path)

    assert result.status == "accepted", result.message
    rows = [{k: r[k] for k in ("plan", "blob", "blobs")} for r in bronze_rows(sqlite_catalog)]
    assert same(rows, [{"plan": "PRO", "blob": b"\x00\xff", "blobs": [b"\xff"]},
                       {"plan": "PRO", "blob": b"\x00\xff", "blobs": []}])  # fmt: skip


def test_a_protobuf_enum_number_it_does_not_know_is_refused(sqlite_catalog, tmp_path):
    contract = proto("enum Plan { PLAN_UNSPECIFIED = 0; FREE = 1; }\nmessage Row { Plan plan = 1; }\n")

    result = land(contract, ['{"plan": 7}'], sqlite_catalog, tmp_path)

    assert result.status == "rejected"
    assert [(v.row, v.field, v.rule) for v in result.violations] == [(1, "plan", "enum")]


def test_a_protobuf_field_given_under_both_names_is_refused(sqlite_catalog, tmp_path):
    result = land(proto(PROTO), ['{"user_id": "u", "userId": "v"}'], sqlite_catalog, tmp_path)

    assert result.status == "rejected"
    assert [(v.field, v.rule) for v in result.violations] == [("user_id", "type")]


GOOD = '{"n": 1, "x": 1.5, "s": "ok", "at": 1767261600123, "d": "1.25", "id": "123e4567-e89b-12d3-a456-426614174000"}'
STRICT = avro(
    {"name": "n", "type": "int"},
    {"name": "x", "type": "double"},
    {"name": "s", "type": "string"},
    {"name": "at", "type": logical("long", "timestamp-millis")},
    {"name": "d", "type": logical("bytes", "decimal", precision=6, scale=2)},
    {"name": "id", "type": logical("string", "uuid")},
)
INVALID = [
    ("NaN literal", GOOD.replace('"x": 1.5', '"x": NaN'), "x"),
    ("Infinity literal", GOOD.replace('"x": 1.5', '"x": Infinity'), "x"),
    ("-Infinity literal", GOOD.replace('"x": 1.5', '"x": -Infinity'), "x"),
    ("duplicate key", GOOD.replace('"n": 1,', '"n": 1, "n": 2,'), "n"),
    ("invalid UTF-8", GOOD.replace('"ok"', '"o\udcffk"'), "s"),
    ("lone surrogate escape", GOOD.replace('"ok"', '"\\ud800"'), "s"),
    ("integral float for an int", GOOD.replace('"n": 1', '"n": 3.0'), "n"),
    ("int out of range", GOOD.replace('"n": 1', '"n": 2147483648'), "n"),
    ("missing without default", GOOD.replace('"n": 1, ', ""), "n"),
    ("decimal with too many places", GOOD.replace('"1.25"', "1.255"), "d"),
    ("decimal too large", GOOD.replace('"1.25"', '"12345.6"'), "d"),
    ("not a uuid", GOOD.replace('"123e4567-e89b-12d3-a456-426614174000"', '"nope"'), "id"),
    ("fractional epoch", GOOD.replace("1767261600123", "1767261600123.5"), "at"),
    ("timestamp that is no date", GOOD.replace("1767261600123", '"yesterday"'), "at"),
]


@pytest.mark.parametrize(("line", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_each_invalid_input_is_refused_naming_line_field_and_offset(sqlite_catalog, tmp_path, line, field):
    result = land(STRICT, [GOOD, line], sqlite_catalog, tmp_path)

    assert result.status == "rejected"
    assert bronze_rows(sqlite_catalog) == []
    ((row, named, offset),) = {(v.row, v.field, v.byte_offset) for v in result.violations}
    assert (row, named, offset) == (2, field, len(GOOD) + 1)
    assert all(v.file and v.message for v in result.violations)


@pytest.fixture(scope="module")
def cli_contract(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("contract")
    (folder / "row.avsc").write_text(STRICT.schema)
    (folder / "row.yaml").write_text("subject: t.Row\nformat: AVRO\nschema: row.avsc\n")
    return folder / "row.yaml"


@pytest.mark.parametrize(("line", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_the_cli_refuses_each_invalid_input_without_a_traceback(tmp_path, cli_contract, line, field):
    path = tmp_path / "batch.jsonl"
    path.write_bytes((GOOD + "\n" + line + "\n").encode("utf-8", "surrogateescape"))
    meshgate = Path(sys.executable).with_name("meshgate")

    done = subprocess.run(
        [str(meshgate), "ingest", str(path), "--subject", "t.Row", "--contract", str(cli_contract),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "rejected" in done.stdout + done.stderr
