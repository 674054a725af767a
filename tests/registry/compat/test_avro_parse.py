"""Parsing Avro schemas: every kind of bad input gets file:line:column, never a traceback;
canonical form and fingerprint follow the specification."""

from __future__ import annotations

import hashlib
import json

import fastavro.schema
import pytest

from registry.compat import MAX_SCHEMA_BYTES, Direction, get_format
from registry.compat.avro import _validate_with_fastavro
from registry.compat.avro_json import MAX_NESTING, read_json
from registry.errors import InvalidSchema

AVRO = get_format("AVRO")


def parse_error(text: str, **kwargs) -> InvalidSchema:
    with pytest.raises(InvalidSchema) as info:
        AVRO.parse(text, source_name="bad.avsc", **kwargs)
    return info.value


def test_json_syntax_error_carries_file_line_and_column():
    error = parse_error('{\n  "type": "record",\n  "name": "A"\n  "fields": []\n}')
    assert (error.location.file, error.location.line, error.location.column) == ("bad.avsc", 4, 3)
    assert str(error).startswith("bad.avsc:4:3: invalid JSON")


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_refused(text):
    assert "empty" in parse_error(text).reason


def test_binary_garbage_is_refused_with_a_location():
    garbage = bytes(range(256)).decode("latin-1")
    error = parse_error(garbage)
    assert "NUL byte" in error.reason and error.location.line == 1
    error = parse_error("\x89PNG\r\n\x1a\n\xff\xfe")
    assert error.reason.startswith("invalid JSON") and error.location.line == 1


def test_text_over_the_size_cap_is_refused_naming_the_cap():
    text = json.dumps({"type": "record", "name": "Big", "doc": "x" * MAX_SCHEMA_BYTES, "fields": []})
    error = parse_error(text)
    assert f"{MAX_SCHEMA_BYTES} byte cap" in error.reason


def nested_arrays(depth: int) -> str:
    return '{"type": "array", "items": ' * depth + '"int"' + "}" * depth


def test_500_levels_of_nesting_are_refused_at_the_level_that_crosses_the_limit():
    error = parse_error(nested_arrays(500))
    assert f"deeper than {MAX_NESTING}" in error.reason
    assert (error.location.line, error.location.column) == (
        1,
        MAX_NESTING * len('{"type": "array", "items": ') + 1,
    )


def test_nesting_too_deep_for_json_itself_is_refused_cleanly():
    assert f"deeper than {MAX_NESTING}" in parse_error(nested_arrays(20_000)).reason
    assert "invalid JSON" in parse_error('{"a": tru' + "[" * 20_000).reason


def test_nesting_within_the_limit_parses_and_compares():
    schema: object = "int"
    for level in range(60):  # 60 nested records are 180 JSON levels
        schema = {"type": "record", "name": f"R{level}", "fields": [{"name": "f", "type": schema}]}
    parsed = AVRO.parse(json.dumps(schema))
    assert AVRO.check(parsed, parsed, Direction.BACKWARD) == []
    assert AVRO.parse(nested_arrays(MAX_NESTING - 1)).parsing_canonical_form.count("array") == MAX_NESTING - 1


def test_recursive_linked_list_parses_and_refers_to_itself_by_name():
    schema = AVRO.parse(
        json.dumps(
            {
                "type": "record",
                "name": "Node",
                "namespace": "ll",
                "fields": [
                    {"name": "value", "type": "long"},
                    {"name": "next", "type": ["null", "Node"], "default": None},
                ],
            }
        )
    )
    assert schema.parsing_canonical_form == (
        '{"name":"ll.Node","type":"record","fields":[{"name":"value","type":"long"},'
        '{"name":"next","type":["null","ll.Node"]}]}'
    )


SCHEMA_ERRORS = [
    (
        '{"type": "record", "name": "A", "fields": [\n {"name": "x", "type": "Missing"}]}',
        2,
        "unknown type 'Missing'",
    ),
    (
        '{"type": "record", "name": "A", "fields": [\n {"name": "x",\n  "type": "int", "default": "one"}]}',
        2,
        'has default "one", which is not a valid int',
    ),
    (
        '{"type": "record", "name": "A", "fields": [\n {"name": "x", "type": "int"},\n {"name": "x", "type": "long"}]}',
        3,
        "two fields named 'x'",
    ),
    ('{"type": "record",\n "name": "1st", "fields": []}', 2, "'1st' is not a valid Avro name"),
    (
        '{"type": "record", "name": "A", "fields": [\n {"name": "bad-name", "type": "int"}]}',
        2,
        'invalid name "bad-name"',
    ),
    (
        '{"type": "bytes",\n "logicalType": "decimal", "precision": 4, "scale": 6}',
        2,
        "decimal scale must be an integer from 0 to the precision (4)",
    ),
    ('{"type": "bytes",\n "logicalType": "decimal", "precision": 0}', 2, "positive integer"),
    (
        '{"type": "fixed", "name": "F", "size": 2,\n "logicalType": "decimal", "precision": 9}',
        2,
        "does not fit in fixed 'F' of 2 bytes",
    ),
    (
        '{"type": "string",\n "logicalType": "timestamp-millis"}',
        2,
        "timestamp-millis annotates long, not string",
    ),
    ('{"type": "enum", "name": "E",\n "symbols": ["A", "A"]}', 2, "symbol(s) A more than once"),
    (
        '{"type": "enum", "name": "E", "symbols": ["A"],\n "default": "B"}',
        2,
        'default "B", which is not one of its symbols',
    ),
    ('{"type": "fixed", "name": "F",\n "size": -1}', 2, "non-negative integer"),
    ('["null",\n ["int"]]', 2, "may not immediately contain another union"),
    ('["int",\n "int"]', 2, "two branches of type 'int'"),
    ('{"type": "record", "name": "A"}', 1, 'needs "fields"'),
    ('{"type": "array"}', 1, 'needs "items"'),
    ('{"type": "map", "values": "int",\n "values": "long"}', 2, 'duplicate key "values"'),
    (
        '{"type": "record", "name": "A", "fields": [\n {"name": "b", "type": {"type": "record", "name": "A", "fields": []}}]}',
        2,
        "'A' is defined twice",
    ),
    ('{"type": "record", "name": "int", "fields": []}', 1, "named after the primitive type"),
    ("42", 1, "expected a type"),
    ('{"type": 7}', 1, '"type" to be a string'),
    ('{"type": "record", "name": "A", "fields": [\n {"name": "x"}]}', 2, 'needs "type"'),
    ('{"type": "array", "items": [1.5,\n NaN]}', 2, "NaN and Infinity"),
]


@pytest.mark.parametrize(("text", "line", "reason"), SCHEMA_ERRORS, ids=[r for _, _, r in SCHEMA_ERRORS])
def test_schema_errors_name_the_problem_and_its_line(text, line, reason):
    error = parse_error(text)
    assert reason in error.reason
    assert (error.location.file, error.location.line) == ("bad.avsc", line)


def test_short_names_resolve_in_the_enclosing_namespace_only():
    text = json.dumps(
        {
            "type": "record",
            "name": "Outer",
            "fields": [
                {"name": "b", "type": {"type": "record", "name": "B", "fields": []}},
                {
                    "name": "inner",
                    "type": {
                        "type": "record",
                        "name": "I",
                        "namespace": "x",
                        "fields": [{"name": "ref", "type": "B"}],
                    },
                },
            ],
        }
    )
    assert "unknown type 'B' (looked up as 'x.B')" in parse_error(text).reason


def test_what_fastavro_still_refuses_becomes_an_invalid_schema_error():
    document = read_json(
        '{"type": "record", "name": "A", "namespace": "x", "fields": [{"name": "f", "type": "B"}]}', "a.avsc"
    )
    with pytest.raises(InvalidSchema, match="a.avsc:1: fastavro rejects the schema"):
        _validate_with_fastavro(document, {})


def test_errors_in_a_reference_name_the_reference():
    with pytest.raises(InvalidSchema) as info:
        AVRO.parse('"shared.Money"', references={"shared.Money": '{"type": "record", "name": "Money"}'})
    assert info.value.location.file == "shared.Money"


def test_unknown_logical_types_are_ignored_as_the_specification_asks():
    schema = AVRO.parse('{"type": "string", "logicalType": "color"}')
    assert schema.parsing_canonical_form == '"string"'


def test_union_default_may_match_any_branch_as_in_avro_1_12():
    parsed = AVRO.parse(
        '{"type": "record", "name": "A", "fields": [{"name": "x", "type": ["null", "int"], "default": 3}]}'
    )
    assert '"default":3' in parsed.canonical  # kept, not dropped as a mismatch with the first branch


# Parsing Canonical Form: the specification's transformations, and agreement with fastavro's.
CANONICAL = [
    ('"int"', '"int"'),
    ('{"type": "int"}', '"int"'),
    ('{"type": "long", "logicalType": "timestamp-millis"}', '"long"'),
    ('{"type": "array", "items": {"type": "string"}, "default": []}', '{"type":"array","items":"string"}'),
    ('{"values": "int", "type": "map"}', '{"type":"map","values":"int"}'),
    ('["null", {"type": "string"}]', '["null","string"]'),
    (
        '{"type": "fixed", "name": "F", "namespace": "x.y", "size": 16, "aliases": ["G"]}',
        '{"name":"x.y.F","type":"fixed","size":16}',
    ),
    (
        '{"symbols": ["A", "B"], "doc": "d\\u00e9", "type": "enum", "name": "z.E", "default": "A"}',
        '{"name":"z.E","type":"enum","symbols":["A","B"]}',
    ),
    (
        '{"namespace": "n", "type": "record", "name": "R", "doc": "x", "fields": ['
        '{"type": {"type": "enum", "name": "E", "symbols": ["ETE"]}, "name": "e", "default": "ETE", "order": "descending"},'
        '{"name": "again", "type": "E"}]}',
        '{"name":"n.R","type":"record","fields":[{"name":"e","type":{"name":"n.E","type":"enum","symbols":["ETE"]}},'
        '{"name":"again","type":"n.E"}]}',
    ),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_parsing_canonical_form_follows_the_specification(text, canonical):
    parsed = AVRO.parse(text)
    assert parsed.parsing_canonical_form == canonical
    assert parsed.parsing_canonical_form == fastavro.schema.to_parsing_canonical_form(json.loads(text))


def test_canonical_strings_are_utf8_without_escapes():
    parsed = AVRO.parse('{"type": "record", "name": "R", "doc": "\\u00e9", "fields": []}')
    assert "\\u" not in parsed.parsing_canonical_form


def test_fingerprint_is_sha256_of_the_canonical_form():
    parsed = AVRO.parse('{"type": "map", "values": "int"}')
    assert parsed.fingerprint == hashlib.sha256(parsed.canonical.encode()).hexdigest()


def test_whitespace_attribute_order_and_primitive_shorthand_do_not_change_the_fingerprint():
    compact = '{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}'
    reordered = (
        '{\n  "fields": [ {"type": {"type": "int"}, "name": "a"} ],\n  "name": "R",\n  "type": "record"\n}'
    )
    assert AVRO.parse(compact).fingerprint == AVRO.parse(reordered).fingerprint
    assert AVRO.parse(compact).fingerprint != AVRO.parse(compact.replace('"int"', '"long"')).fingerprint


@pytest.mark.parametrize(
    "changed",
    [
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]}',
        '{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"int","logicalType":"date"}}]}',
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":["b"]}]}',
        '{"type":"record","name":"R","doc":"described","fields":[{"name":"a","type":"int"}]}',
    ],
)
def test_defaults_logical_types_aliases_and_docs_are_distinct_schemas(changed):
    """They share the Parsing Canonical Form but resolve (or document) differently: distinct global ids."""
    plain = AVRO.parse('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}')
    other = AVRO.parse(changed)
    assert other.parsing_canonical_form == plain.parsing_canonical_form
    assert other.fingerprint != plain.fingerprint


def test_examples_parse_and_match_fastavro_canonical_form(examples_dir):
    for path in [*examples_dir.glob("contracts/**/*.avsc"), *examples_dir.glob("evolution/*.avsc")]:
        text = path.read_text()
        assert AVRO.parse(
            text, source_name=str(path)
        ).parsing_canonical_form == fastavro.schema.to_parsing_canonical_form(json.loads(text))
