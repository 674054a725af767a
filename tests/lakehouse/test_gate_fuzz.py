"""Seeded random records through the gate: every valid one lands and reads back equal, every
corrupted one is quarantined with a reason, and nothing raises.

2,000 records per contract, about one in five corrupted one way; small chunks, so that clean
blocks take the fast path and blocks with a corrupted line the precise pass, and both must agree.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier, quarantine_identifier
from registry.contract import Contract

RECORDS = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ITEM = {
    "type": "record",
    "name": "Item",
    "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
}
FLAT = [
    {"name": "id", "type": "long"},
    {"name": "name", "type": "string"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "ratio", "type": ["null", "double"], "default": None},
    {"name": "count", "type": "int", "default": 0},
    {"name": "ok", "type": "boolean"},
    {"name": "items", "type": {"type": "array", "items": ITEM}},
]  # fmt: skip
NESTED = [*FLAT, {"name": "attrs", "type": {"type": "map", "values": "long"}}]


def avro(fields: list[dict]) -> Contract:
    schema = {"type": "record", "name": "Row", "namespace": "fuzz", "fields": fields}
    return Contract(subject="fuzz.Row", format="AVRO", schema=json.dumps(schema))


def json_schema_contract() -> Contract:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "ok": {"type": "boolean"},
            "ratio": {"type": ["number", "null"]},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "sku": {"type": "string"}, "qty": {"type": "integer"}}, "required": ["sku", "qty"]}},
            "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
            "extra": {"type": "object"},
        },
        "required": ["id", "name", "at", "ok", "items", "attrs", "extra"],
    }  # fmt: skip
    return Contract(subject="fuzz.Row", format="JSON", schema=json.dumps(schema))


def protobuf_contract() -> Contract:
    text = """syntax = "proto3";
package fuzz.v1;
message Row {
  int64 id = 1;
  string name = 2;
  bool ok = 3;
  double ratio = 4;
  message Item { string sku = 1; int32 qty = 2; }
  repeated Item items = 5;
  map<string, int64> attrs = 6;
  int64 big_number = 7;
}
"""
    return Contract(subject="fuzz.Row", format="PROTOBUF", schema=text)


class Generator:
    """Random records as (JSON object to send, the row Bronze must hold) for one contract kind."""

    def __init__(self, kind: str, seed: int):
        self.kind, self.rng = kind, random.Random(seed)

    def text(self) -> str:
        alphabet = 'abcXYZ éü中😀"\\\n\t/'
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, 12)))

    def items(self) -> list[dict]:
        return [
            {"sku": self.text(), "qty": self.rng.randint(-(2**31), 2**31 - 1)}
            for _ in range(self.rng.randint(0, 3))
        ]

    def record(self, i: int) -> tuple[dict, dict]:
        rng = self.rng
        items = self.items()
        sent = {"id": i, "name": self.text(), "ok": rng.random() < 0.5, "items": items}
        row = dict(sent, items=[dict(item) for item in items])
        if self.kind in ("flat", "nested", "json"):
            millis = rng.randint(-(10**12), 4 * 10**12)
            moment = EPOCH + timedelta(milliseconds=millis)
            if self.kind == "json":
                moment += timedelta(microseconds=rng.randint(0, 999))
                sent["at"], row["at"] = moment.isoformat().replace("+00:00", "Z"), moment
            else:
                sent["at"] = millis if rng.random() < 0.5 else moment.isoformat()
                row["at"] = moment
        if self.kind in ("flat", "nested"):
            cents = rng.randint(-(10**11), 10**11)
            price = Decimal(cents).scaleb(-2)
            sent["price"] = str(price) if rng.random() < 0.5 else _Number(str(price))
            row["price"] = price
            days = rng.randint(-20000, 40000)
            sent["day"] = (
                days if rng.random() < 0.5 else (date(1970, 1, 1) + timedelta(days=days)).isoformat()
            )
            row["day"] = date(1970, 1, 1) + timedelta(days=days)
            sent["colour"] = row["colour"] = rng.choice(["RED", "GREEN", "BLUE"])
            if rng.random() < 0.5:
                sent["count"] = row["count"] = rng.randint(-100, 100)
            else:
                row["count"] = 0  # absent: the default
        ratio = rng.choice([None, 0.0, -1.5, 1e300, rng.random()])
        if self.kind == "protobuf":
            if ratio is not None:
                sent["ratio"] = ratio
            row["ratio"] = 0.0 if ratio is None else ratio  # proto3: absent is the implicit default
        elif ratio is not None or rng.random() < 0.5:
            sent["ratio"] = row["ratio"] = ratio
        else:
            row["ratio"] = None
        if self.kind in ("nested", "json", "protobuf"):
            attrs = {self.text(): rng.randint(-(2**63), 2**63 - 1) for _ in range(rng.randint(0, 3))}
            sent["attrs"], row["attrs"] = attrs, list(attrs.items())
        if self.kind == "json":
            extra = {"k": [1, "two", None, {"z": True}], "a": rng.randint(0, 9)}
            sent["extra"] = extra
            row["extra"] = json.dumps(extra, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if self.kind == "protobuf":
            big = rng.randint(-(2**63), 2**63 - 1)
            row["big_number"] = big
            name = "bigNumber" if rng.random() < 0.5 else "big_number"
            sent[name] = str(big) if rng.random() < 0.5 else big
            if rng.random() < 0.5:
                sent["userName"] = "unknown fields are ignored"
        return sent, row

    def corrupt(self, sent: dict) -> bytes:
        """The record's line, broken one way the gate must refuse."""
        rng = self.rng
        choices = ["wrong type", "nan", "duplicate", "utf8", "integral float", "out of range"]
        if self.kind != "protobuf":  # proto3 has no required fields
            choices.append("missing")
        if "price" in sent:
            choices += ["decimal places", "bad timestamp", "bad enum"]
        how = rng.choice(choices)
        line = dumps(sent)
        if how == "wrong type":
            return dumps({**sent, "ok": "yes"})
        if how == "nan":
            return dumps({**sent, "ratio": 1.0}).replace(
                b'"ratio": 1.0', rng.choice([b'"ratio": NaN', b'"ratio": -Infinity'])
            )
        if how == "duplicate":
            return line.replace(b'"ok": ', b'"ok": true, "ok": ', 1)
        if how == "utf8":
            return dumps({**sent, "name": "\udcff"}).replace(b"\\udcff", b"\xff")
        if how == "integral float":
            return dumps({**sent, "id": 0}).replace(b'"id": 0', b'"id": 3.0')
        if how == "missing":
            return dumps({k: v for k, v in sent.items() if k != "name"})
        if how == "out of range":
            return dumps({**sent, "items": [{"sku": "s", "qty": 2**63}]})
        if how == "decimal places":
            return dumps({**sent, "price": "1.234"})
        if how == "bad timestamp":
            return dumps({**sent, "at": "2026-13-01T00:00:00Z"})
        return dumps({**sent, "colour": "PURPLE"})


class _Number(str):
    """A decimal written into the JSON line as a bare number, digits as they are."""


def dumps(value: dict) -> bytes:
    text = json.dumps(value, default=str, ensure_ascii=bool(random.getrandbits(1)))
    for key, item in value.items():
        if isinstance(item, _Number):
            text = text.replace(f'"{key}": "{item}"', f'"{key}": {item}')
    return text.encode("utf-8", "surrogatepass")


def same(got, expected) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        return got == expected
    if type(got) is not type(expected):
        return False
    if isinstance(expected, dict):
        return got.keys() >= expected.keys() and all(same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list | tuple):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected, strict=True))
    return got == expected


CONTRACTS = {"flat": lambda: avro(FLAT), "nested": lambda: avro(NESTED), "json": json_schema_contract,
             "protobuf": protobuf_contract}  # fmt: skip


@pytest.mark.parametrize("kind", list(CONTRACTS))
def test_random_records_land_equal_and_corrupted_ones_are_refused_with_a_reason(
    sqlite_catalog, tmp_path, kind
):
    generator = Generator(kind, seed=13)
    random.seed(13)
    expected, corrupted, lines = {}, set(), []
    for i in range(RECORDS):
        sent, row = generator.record(i)
        if generator.rng.random() < 0.2:
            corrupted.add(i + 1)
            lines.append(generator.corrupt(sent))
        else:
            expected[i] = row
            lines.append(dumps(sent))
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    result = ingest([str(path)], CONTRACTS[kind](), sqlite_catalog, schema_id=1, schema_version=1,
                    on_invalid="quarantine", chunk_rows=256)  # fmt: skip

    assert result.rows_accepted == len(expected) and result.rows_rejected == len(corrupted), result.message
    landed = {
        row["id"]: row
        for row in sqlite_catalog.load_table(bronze_identifier("fuzz.Row")).scan().to_arrow().to_pylist()
    }
    assert landed.keys() == expected.keys()
    wrong = [i for i, row in expected.items() if not same(landed[i], row)]
    assert not wrong, (wrong[:3], [(landed[i], expected[i]) for i in wrong[:1]])
    quarantined = sqlite_catalog.load_table(quarantine_identifier("fuzz.Row")).scan().to_arrow().to_pylist()
    assert {q["row"] for q in quarantined} == corrupted
    assert all(q["reasons"] and all(r["rule"] and r["message"] for r in q["reasons"]) for q in quarantined)
