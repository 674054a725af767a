"""The JSON Schema keywords vectorised over Arrow against jsonschema-rs alone: generated records
(valid, each keyword broken, nulls sent and properties left out, extra members, wrong JSON types)
must give the same (row, JSON pointer, keyword) both ways, and the Arrow checks must send only a
few lines of a valid block to the validator."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lakehouse.decode.context import BatchContext
from lakehouse.decode.jsonl import (
    _as_read,
    _fast_plan,
    _keyword_suspects,
    _keyword_violations,
    _line_starts,
    _parse_block,
)
from lakehouse.decode.values import parse_json_line
from lakehouse.gate import ingest
from lakehouse.json_schema_vector import vector_check
from lakehouse.schema_mapping import arrow_schema, nullable
from lakehouse.validate import UniqueTracker
from registry.contract import Contract, ContractMetadata

ROOT = Path(__file__).resolve().parents[2]
PAGE_VIEWED = json.loads((ROOT / "examples/contracts/web/page_viewed.schema.json").read_text())


class Raw(str):
    """A JSON number written with exactly these digits."""


WIDE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "s_len": {"type": "string", "minLength": 2, "maxLength": 4},
        "s_pattern": {"type": "string", "pattern": "^[a-c]+\\d?$"},
        "s_search": {"type": "string", "pattern": "b{2}|(?:x|y)z"},
        "s_dot": {"type": "string", "pattern": "^a.c$"},
        "s_space": {"type": "string", "pattern": "\\s"},
        "f_date_time": {"type": "string", "format": "date-time"},
        "f_date": {"type": "string", "format": "date"},
        "f_time": {"type": "string", "format": "time"},
        "f_uuid": {"type": "string", "format": "uuid"},
        "f_email": {"type": ["string", "null"], "format": "email"},
        "f_uri": {"type": "string", "format": "uri"},
        "e_string": {"type": "string", "enum": ["x", "y"]},
        "e_nullable": {"type": ["string", "null"], "enum": ["x", None]},
        "c_integer": {"type": "integer", "const": 3},
        "e_number": {"type": "number", "enum": [1, 2.5]},
        "c_boolean": {"type": "boolean", "const": True},
        "i_bounds": {"type": "integer", "minimum": 0.5, "exclusiveMaximum": 10},
        "i_exclusive": {"type": "integer", "exclusiveMinimum": -2, "maximum": 7.5},
        "i_multiple": {"type": "integer", "multipleOf": 3},
        "i_multiple_half": {"type": "integer", "multipleOf": 1.5},
        "n_bounds": {"type": "number", "minimum": 0, "maximum": 1},
        "n_exclusive": {"type": "number", "exclusiveMinimum": 0.1, "exclusiveMaximum": 2.5},
        "n_multiple": {"type": "number", "multipleOf": 0.5},
        "nested": {
            "type": ["object", "null"],
            "properties": {"a": {"type": "string", "minLength": 1}, "b": {"type": ["integer", "null"]}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 3},
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
        },
        "counts": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0}},
        "required_nullable": {"type": ["string", "null"]},
        "plain": {"type": "string"},
    },
    "required": ["required_nullable", "s_len"],
    "additionalProperties": False,
}
OPEN_DRAFT_07 = {  # no $schema: draft-07, and extra members allowed everywhere
    **{k: v for k, v in WIDE.items() if k not in ("$schema", "additionalProperties")},
    "properties": {
        **WIDE["properties"],
        "nested": {k: v for k, v in WIDE["properties"]["nested"].items() if k != "additionalProperties"},
    },
}

TEXTS = ["", "a", "ab", "abc", "abcd", "abcde", "é", "éé", "😀😀", "a\n", "bb", "xz", "ab1", "a1b", "ac"]
POOLS = {
    "string": TEXTS + ["abc", "a c", "a\u00a0", "aXc", "a\rc", "a\u2028c"],
    "f_date_time": [
        "2026-01-01T10:00:00Z",
        "2026-01-01t10:00:00.123456z",
        "2026-01-01T10:00:00+23:59",
        "2026-01-01T10:00:00+24:00",
        "2026-01-01T23:59:60Z",
        "2024-02-29T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-01-01 10:00:00Z",
        "2026-01-01T10:00:00",
        "2026-04-31T01:02:03Z",
        "2026-01-01T10:00:00.Z",
    ],
    "f_date": [
        "2026-01-01",
        "2026-02-28",
        "2024-02-29",
        "2026-02-29",
        "2026-04-31",
        "2026-1-01",
        "0000-12-31",
    ],
    "f_time": ["10:00:00Z", "10:00:00", "23:59:59.5+01:00", "23:59:60Z", "24:00:00Z", "10:00:00z"],
    "f_uuid": [
        "123e4567-e89b-12d3-a456-426614174000",
        "123E4567-E89B-12D3-A456-426614174000",
        "123e4567e89b12d3a456426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "x",
    ],
    "f_email": [
        "a@b.com",
        "a@b",
        "a.b@c.de",
        "a..b@c.de",
        ".a@c.de",
        "a@-b.com",
        "é@c.de",
        '"a b"@c.de',
        "a@[127.0.0.1]",
        "a" * 64 + "@b.com",
        "a" * 65 + "@b.com",
        "a@" + "b" * 64 + ".com",
        "plain",
    ],
    "f_uri": ["https://example.com/", "not a uri", "x:y"],
    "integer": [-3, -2, -1, 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 2**62, -(2**62)],
    "number": [
        -1.5,
        0,
        0.0,
        0.1,
        0.5,
        1,
        1.0,
        2.5,
        2.4,
        3,
        Raw("1.00000000000000000001"),
        Raw("0.10000000000000000001"),
        Raw("0.09999999999999999999"),
        Raw("1e-400"),
        Raw("-1e-400"),
        Raw("2.5e0"),
    ],
    "tags[]": ["a", "b", "ab", "abcd"],
    "boolean": [True, False],
}
WRONG_TYPE = {"string": 5, "integer": "5", "number": True, "boolean": "yes", "object": [1], "array": {"a": 1}}


VALID = {  # without the properties whose every value the Arrow checks flag (s_dot, f_uri, n_multiple ...)
    "s_len": "abc", "s_pattern": "ab1", "s_search": "abba",
    "f_date_time": "2026-01-01T10:00:00Z", "f_date": "2026-01-01", "f_time": "10:00:00Z",
    "f_uuid": "123e4567-e89b-12d3-a456-426614174000", "f_email": "a@b.com",
    "e_string": "x", "e_nullable": None, "c_integer": 3, "c_boolean": True, "i_bounds": 1,
    "i_exclusive": -1, "i_multiple": 9, "n_bounds": 0.5, "n_exclusive": 1.5,
    "nested": {"a": "x", "b": 1}, "tags": ["a"], "counts": [0, 2],
    "required_nullable": "r", "plain": "p",
}  # fmt: skip
BASES = {"closed": VALID, "open-draft-07": VALID, "page-viewed": {
    "event_id": "123e4567-e89b-12d3-a456-426614174000", "viewed_at": "2026-01-01T10:00:00Z",
    "session_id": "s-1", "user_id": None, "user_email": None, "page": {"url": "https://shop.example.com/", "title": "Shop"},
    "referrer": None, "duration_ms": 1200, "device": "mobile",
}}  # fmt: skip


def kind(schema: dict) -> str:
    declared = schema["type"]
    return next(t for t in ([declared] if isinstance(declared, str) else declared) if t != "null")


def value(rng: random.Random, name: str, schema: dict, base, messy: bool):
    """Another value for one property (maybe breaking a keyword), or ``...`` to leave it out;
    ``messy``: values of another JSON type too (pyarrow refuses such a block, so each line of it
    goes to the validator)."""
    roll = rng.random()
    if roll < 0.15:
        return ...
    if roll < 0.3:
        return None
    if messy and roll < 0.35:
        return WRONG_TYPE[kind(schema)]
    if kind(schema) == "object":
        return record(rng, schema, base if isinstance(base, dict) else {}, messy)
    if kind(schema) == "array":
        items = [value(rng, f"{name}[]", schema["items"], None, messy) for _ in range(rng.randrange(5))]
        return [None if item is ... else item for item in items]
    pool = POOLS.get(name) or POOLS[kind(schema)]
    if "enum" in schema and rng.random() < 0.5:
        pool = schema["enum"]
    return rng.choice(pool)


def record(rng: random.Random, schema: dict, base: dict, messy: bool) -> dict:
    """The base record with none, one or two properties changed (and an extra member, if messy)."""
    found = dict(base)
    for name in rng.sample(sorted(schema["properties"]), rng.choice([0, 1, 1, 1, 2])):
        picked = value(rng, name, schema["properties"][name], base.get(name), messy)
        found.pop(name, None)
        if picked is not ...:
            found[name] = picked
    if messy and rng.random() < 0.2:
        found["extra"] = 1
    return found


def dumps(item) -> str:
    if isinstance(item, Raw):
        return str(item)
    if isinstance(item, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in item.items()) + "}"
    if isinstance(item, list):
        return "[" + ",".join(dumps(v) for v in item) + "]"
    return json.dumps(item, ensure_ascii=False)


def batch_of(schema: dict) -> BatchContext:
    contract = Contract(
        subject="t.Row", format="JSON", schema=json.dumps(schema), metadata=ContractMetadata()
    )
    declared = arrow_schema(contract)
    return BatchContext(contract, declared, nullable(declared), 1000, 1 << 20, UniqueTracker())


def ends(block: bytes, starts: np.ndarray) -> np.ndarray:
    return np.append(starts[1:] - 1, len(block))


def both_ways(block: bytes, batch: BatchContext) -> tuple[set, set]:
    """(row, pointer, keyword) through the Arrow checks, and through jsonschema-rs for every line."""
    starts = _line_starts(block)
    rows, offsets = np.arange(1, len(starts) + 1), starts
    vectorised = _keyword_violations(block, starts, rows, offsets, batch)
    lines = block.split(b"\n")
    alone = [
        v
        for i, line in enumerate(lines)
        if line
        for v in batch.keywords.violations(i + 1, 0, parse_json_line(line))
    ]
    return {(v.row, v.field, v.rule) for v in vectorised}, {(v.row, v.field, v.rule) for v in alone}


@pytest.mark.parametrize(
    ("name", "schema"), [("closed", WIDE), ("open-draft-07", OPEN_DRAFT_07), ("page-viewed", PAGE_VIEWED)]
)
def test_the_vector_path_finds_exactly_what_jsonschema_rs_finds(name, schema):
    rng = random.Random(14)
    batch = batch_of(schema)
    assert not batch.keywords.violations(1, 0, BASES[name])
    assert batch.keywords.vector is not None
    broken = read = 0
    for round_ in range(400):
        records = [record(rng, schema, BASES[name], messy=round_ % 4 == 0) for _ in range(rng.randint(1, 10))]
        block = "".join(dumps(r) + "\n" for r in records).encode()
        vectorised, alone = both_ways(block, batch)
        assert vectorised == alone, block.decode()
        broken += len({row for row, _, _ in alone})
        starts = _line_starts(block)
        read += not isinstance(_keyword_suspects(block, starts, ends(block, starts), batch), range)
    assert broken > 300 and read > 150  # keywords broken, and most blocks through the Arrow checks


OPEN_UNTIMED = {  # open, and no temporal format: the checks read the fast path's own table
    **OPEN_DRAFT_07,
    "properties": {
        k: v for k, v in OPEN_DRAFT_07["properties"].items() if k not in ("f_date_time", "f_date", "f_time")
    },
}


def test_the_checks_on_the_fast_paths_own_table_find_exactly_what_jsonschema_rs_finds():
    rng = random.Random(15)
    batch = batch_of(OPEN_UNTIMED)
    plan = _fast_plan(batch)
    base = {k: v for k, v in VALID.items() if k in OPEN_UNTIMED["properties"]}
    reused = 0
    for round_ in range(300):
        records = [record(rng, OPEN_UNTIMED, base, messy=round_ % 4 == 0) for _ in range(rng.randint(1, 10))]
        block = "".join(dumps(r) + "\n" for r in records).encode()
        typed = _parse_block(block, plan, batch.schema, threads=False)
        if typed is None:
            continue  # the precise pass's block: checked as in the test above
        starts = _line_starts(block)
        vectorised = _keyword_violations(block, starts, np.arange(1, len(starts) + 1), starts, batch, typed)
        _, alone = both_ways(block, batch)
        assert {(v.row, v.field, v.rule) for v in vectorised} == alone, block.decode()
        reused += _as_read(typed, batch.keywords.vector.read_schema) is not None
    assert reused > 150


def test_a_valid_block_sends_almost_no_line_to_the_validator():
    schema = PAGE_VIEWED
    good = {
        "event_id": "123e4567-e89b-12d3-a456-426614174000", "viewed_at": "2026-01-01T10:00:00Z",
        "session_id": "s-1", "user_id": None, "user_email": "a@b.com", "page": {"url": "https://x/", "title": "T"},
        "referrer": None, "duration_ms": 1200, "device": "mobile",
    }  # fmt: skip
    at_minimum = {**good, "duration_ms": 0}  # an integer bound is exact: not flagged either
    block = "".join(json.dumps(r) + "\n" for r in [good, at_minimum] * 500).encode()
    starts = _line_starts(block)
    assert len(_keyword_suspects(block, starts, ends(block, starts), batch_of(schema))) == 0


@pytest.mark.parametrize(
    "keywords",
    [
        {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"dependentRequired": {"a": ["b"]}},
        {"patternProperties": {"^x": {"type": "string"}}},
        {"unevaluatedProperties": False},
        {"properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"type": "string"}}},
        {"properties": {"a": {"not": {"const": "x"}}}},
        {"properties": {"a": {"type": "string", "if": {"const": "x"}, "then": {"minLength": 3}}}},
        {"properties": {"a": {"type": "object", "additionalProperties": {"type": "string"}}}},
        {"properties": {"a": {"type": ["string", "integer"]}}},
        {"properties": {"a": {"type": "array", "prefixItems": [{"type": "string"}]}}},
        {"properties": {"a": {"type": "integer", "exclusiveMinimum": True}}},
        {"required": "a"},
        {"properties": {"a": {"type": [["string"]]}}},
        {"properties": {"a": {"type": "string", "minLength": -1}}},
        {"properties": {"a": True}},
        {"properties": {"a": {"type": "number", "maximum": 10**400}}},
    ],
    ids=lambda k: next(iter(k)) if "properties" not in k else json.dumps(k["properties"]["a"])[:40],
)
def test_schemas_beyond_the_vector_subset_send_every_line_to_the_validator(keywords):
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, **keywords}
    assert vector_check(schema) is None


def test_a_block_pyarrow_cannot_read_for_the_checks_goes_to_the_validator_line_by_line():
    """A member a closed object does not declare fails pyarrow's read: every line is checked."""
    batch = batch_of(WIDE)
    lines = [{"s_len": "ab", "required_nullable": None}, {"s_len": "ab", "required_nullable": None, "x": 1}]
    block = "".join(json.dumps(r) + "\n" for r in lines).encode()
    starts = _line_starts(block)
    assert list(_keyword_suspects(block, starts, ends(block, starts), batch)) == [0, 1]
    vectorised, alone = both_ways(block, batch)
    assert vectorised == alone == {(2, "/", "additionalProperties")}


def test_the_gate_reports_vectorised_keyword_violations_with_line_offset_pointer_and_keyword(
    sqlite_catalog, tmp_path
):
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 5}, "s": {"type": "string", "pattern": "^a"}},
        "additionalProperties": False,
    }
    contract = Contract(
        subject="t.Row", format="JSON", schema=json.dumps(schema), metadata=ContractMetadata()
    )
    lines = [json.dumps({"n": 1, "s": "ab"})] * 3 + [json.dumps({"n": 6, "s": "b"})]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(line + "\n" for line in lines))

    result = ingest([str(path)], contract, sqlite_catalog, schema_id=1, schema_version=1)

    offset = sum(len(line) + 1 for line in lines[:3])
    assert [(v.row, v.byte_offset, v.field, v.rule) for v in result.violations] == [
        (4, offset, "/n", "maximum"),
        (4, offset, "/s", "pattern"),
    ]


def test_pyarrow_reads_each_json_type_strictly():
    """The checks rely on it: a string column refuses a number, an int64 column a fraction."""
    import pyarrow.json as pa_json

    for line, arrow_type in (
        (b'{"a": 5}', pa.string()),
        (b'{"a": 5.5}', pa.int64()),
        (b'{"a": 1}', pa.bool_()),
    ):
        options = pa_json.ParseOptions(explicit_schema=pa.schema([("a", arrow_type)]))
        with pytest.raises(pa.ArrowInvalid):
            pa_json.read_json(pa.BufferReader(line + b"\n"), parse_options=options)


def test_a_fraction_breaking_a_keyword_is_shown_as_sent(sqlite_catalog, tmp_path):
    """The gate parses fractions as ``Decimal`` (exact digits): the violation shows them as sent."""
    schema = {"type": "object", "properties": {"x": {"type": "number", "maximum": 1}, "o": {"type": "object",
              "properties": {"y": {"type": "number"}}, "additionalProperties": False}}}  # fmt: skip
    contract = Contract(
        subject="t.Row", format="JSON", schema=json.dumps(schema), metadata=ContractMetadata()
    )
    path = tmp_path / "batch.jsonl"
    path.write_text('{"x": 1.00000000000000000001}\n{"x": 0.5, "o": {"y": 0.25, "z": 1.5}}\n')

    result = ingest([str(path)], contract, sqlite_catalog, schema_id=1, schema_version=1)

    assert [(v.row, v.field, v.rule, v.value) for v in result.violations] == [
        (1, "/x", "maximum", "1.00000000000000000001"),
        (2, "/o", "additionalProperties", '{"y": 0.25, "z": 1.5}'),
    ]


def test_the_precise_pass_checks_the_keywords_of_its_typed_lines_with_their_offsets(sqlite_catalog, tmp_path):
    """A line pyarrow refuses sends its block to the precise pass; the other lines' keywords are
    checked there the same way, each named by its own line and byte offset."""
    good = {**BASES["page-viewed"]}
    lines = [json.dumps(r) for r in (good, {**good, "duration_ms": "1.5s"}, {**good, "duration_ms": -1})]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    contract = Contract(
        subject="t.Row", format="JSON", schema=json.dumps(PAGE_VIEWED), metadata=ContractMetadata()
    )

    result = ingest([str(path)], contract, sqlite_catalog, schema_id=1, schema_version=1)

    assert [(v.row, v.byte_offset, v.field, v.rule) for v in result.violations] == [
        (2, len(lines[0]) + 1, "duration_ms", "type"),
        (3, len(lines[0]) + len(lines[1]) + 2, "/duration_ms", "minimum"),
    ]
