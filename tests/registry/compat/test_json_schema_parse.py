"""Parsing JSON Schema: every dialect, invalid schemas refused with their JSON pointer and line,
``$ref`` across subjects through references, canonical form and fingerprint, the neutral field tree."""

from __future__ import annotations

import json

import pytest

from registry.compat import Direction, get_format
from registry.errors import InvalidSchema

FORMAT = get_format("JSON")

DIALECT_URIS = {
    "draft-04": "http://json-schema.org/draft-04/schema#",
    "draft-06": "http://json-schema.org/draft-06/schema#",
    "draft-07": "http://json-schema.org/draft-07/schema#",
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
}

# Each dialect's own spelling of a tuple of (string, integer) followed by nothing else.
TUPLES = {
    "draft-04": {"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False},
    "draft-06": {"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False},
    "draft-07": {"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False},
    "2019-09": {"items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False},
    "2020-12": {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
}


def _schema(dialect: str, **body) -> str:
    return json.dumps({"$schema": DIALECT_URIS[dialect], **body}, indent=2)


@pytest.mark.parametrize("dialect", DIALECT_URIS)
def test_each_dialect_parses_and_is_named(dialect):
    schema = FORMAT.parse(
        _schema(dialect, type="object", properties={"pair": {"type": "array", **TUPLES[dialect]}})
    )
    assert schema.dialect == dialect


def test_a_schema_without_dollar_schema_is_draft_07_as_in_confluent():
    assert FORMAT.parse('{"type": "string"}').dialect == "draft-07"


@pytest.mark.parametrize("dialect", DIALECT_URIS)
def test_tuples_compare_alike_in_every_dialect(dialect):
    old = FORMAT.parse(_schema(dialect, type="array", **TUPLES[dialect]))
    widened = {**TUPLES[dialect]}
    key = "prefixItems" if dialect == "2020-12" else "items"
    widened[key] = [{"type": "string"}, {"type": "number"}]
    new = FORMAT.parse(_schema(dialect, type="array", **widened))
    assert FORMAT.check(old, new, Direction.BACKWARD) == []
    [violation] = FORMAT.check(old, new, Direction.FORWARD)
    assert (violation.rule, violation.path) == ("TYPE_NARROWED", f"#/{key}/1")


# One schema per dialect that its metaschema refuses, and the JSON pointer of the problem.
INVALID = {
    "draft-04": (
        {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 3}}},
        "#/properties/n/exclusiveMinimum",
    ),
    "draft-06": (
        {"type": "object", "properties": {"n": {"type": "number", "minimum": "3"}}},
        "#/properties/n/minimum",
    ),
    "draft-07": ({"type": "object", "required": "name"}, "#/required"),
    "2019-09": ({"type": "object", "dependentRequired": {"a": "b"}}, "#/dependentRequired/a"),
    "2020-12": ({"type": "array", "prefixItems": {"type": "string"}}, "#/prefixItems"),
}


@pytest.mark.parametrize("dialect", INVALID)
def test_a_schema_its_dialect_refuses_names_the_json_pointer_and_line(dialect):
    body, where = INVALID[dialect]
    text = _schema(dialect, **body)
    with pytest.raises(InvalidSchema) as caught:
        FORMAT.parse(text, source_name="bad.json")
    assert caught.value.reason.startswith(f"{where}: not a valid {dialect} JSON Schema")
    assert caught.value.location.file == "bad.json" and caught.value.location.line > 1


def test_a_draft_07_schema_is_not_judged_by_2020_12():
    # "items" as an array is a tuple in draft-07 and refused in 2020-12
    tuple_items = {"type": "array", "items": [{"type": "string"}]}
    FORMAT.parse(_schema("draft-07", **tuple_items))
    with pytest.raises(InvalidSchema, match="#/items: not a valid 2020-12"):
        FORMAT.parse(_schema("2020-12", **tuple_items))


def test_an_unknown_dialect_is_refused_at_dollar_schema():
    with pytest.raises(InvalidSchema, match=r"#/\$schema: unknown dialect"):
        FORMAT.parse('{"$schema": "https://example.com/my-dialect", "type": "string"}')


def test_json_syntax_errors_carry_line_and_column():
    with pytest.raises(InvalidSchema) as caught:
        FORMAT.parse('{\n  "type": "object",\n  "properties": {,}\n}', source_name="broken.json")
    assert caught.value.location.line == 3 and caught.value.location.column is not None
    assert "invalid JSON" in caught.value.reason


def test_an_invalid_pattern_is_refused():
    with pytest.raises(InvalidSchema, match="#/pattern"):
        FORMAT.parse('{"type": "string", "pattern": "(unclosed"}')


def test_an_unresolvable_local_ref_names_its_pointer_and_line():
    text = '{\n  "type": "object",\n  "properties": {\n    "a": {"$ref": "#/$defs/missing"}\n  }\n}'
    with pytest.raises(InvalidSchema) as caught:
        FORMAT.parse(text)
    assert caught.value.reason.startswith("#/properties/a/$ref: $ref '#/$defs/missing' cannot be resolved")
    assert caught.value.location.line == 4


def test_a_ref_to_an_unknown_subject_schema_is_refused_with_the_references_known():
    with pytest.raises(InvalidSchema, match=r"#/properties/amount/\$ref: .*no schema named so.*'other.json'"):
        FORMAT.parse(
            '{"type": "object", "properties": {"amount": {"$ref": "money.json"}}}',
            references={"other.json": '{"type": "string"}'},
        )


MONEY_V1 = '{"type": "object", "properties": {"units": {"type": "integer"}, "currency": {"type": "string"}}, "additionalProperties": false}'
MONEY_V2 = '{"type": "object", "properties": {"units": {"type": "integer"}, "currency": {"type": "string", "maxLength": 3}}, "additionalProperties": false}'
CHECKOUT = '{"type": "object", "properties": {"total": {"$ref": "money.json"}, "tax": {"$ref": "money.json#/properties/units"}}}'


def test_a_ref_to_another_subjects_schema_resolves_by_reference_name():
    schema = FORMAT.parse(CHECKOUT, references={"money.json": MONEY_V1})
    total = next(f for f in schema.fields() if f.name == "total")
    assert total.type.kind == "record"
    assert [f.path for f in total.type.fields] == ["total.units", "total.currency"]
    assert next(f for f in schema.fields() if f.name == "tax").type.kind == "long"


def test_a_relative_ref_resolves_against_the_schemas_id_and_the_references_url():
    text = '{"$id": "https://example.com/schemas/checkout.json", "properties": {"total": {"$ref": "money.json"}}}'
    schema = FORMAT.parse(text, references={"https://example.com/schemas/money.json": MONEY_V1})
    assert schema.fields()[0].type.kind == "record"


def test_a_change_in_a_referenced_subject_is_found_through_the_ref():
    checkout = json.dumps(json.loads(CHECKOUT), indent=2)  # "total": {"$ref": ...} opens on line 4
    old = FORMAT.parse(checkout, references={"money.json": MONEY_V1})
    new = FORMAT.parse(checkout, references={"money.json": MONEY_V2})
    [violation] = FORMAT.check(old, new, Direction.BACKWARD)
    assert (violation.rule, violation.path) == (
        "MAX_LENGTH_ADDED",
        "#/properties/total/properties/currency/maxLength",
    )
    assert "field total.currency" in violation.message
    assert violation.line == 4  # the line of the $ref in the new schema, not a line of money.json


def test_a_recursive_schema_checks_without_looping():
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
        "$ref": "#/$defs/node",
    }
    old = FORMAT.parse(json.dumps(tree))
    tree["$defs"]["node"]["properties"]["value"]["type"] = "number"
    new = FORMAT.parse(json.dumps(tree))
    assert FORMAT.check(old, new, Direction.BACKWARD) == []
    assert [v.rule for v in FORMAT.check(old, new, Direction.FORWARD)] == ["TYPE_NARROWED"]


def test_identical_schemas_written_differently_share_canonical_text_and_fingerprint():
    a = FORMAT.parse('{"type": "object", "properties": {"n": {"type": "number", "maximum": 1.0}}}')
    b = FORMAT.parse('{\n  "properties": {"n": {"maximum": 1, "type": "number"}},\n  "type": "object"\n}')
    assert a.canonical == b.canonical == '{"properties":{"n":{"maximum":1,"type":"number"}},"type":"object"}'
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64


def test_different_schemas_have_different_fingerprints():
    a = FORMAT.parse('{"type": "string"}')
    b = FORMAT.parse('{"type": "string", "maxLength": 3}')
    assert a.fingerprint != b.fingerprint


def test_format_is_registered_under_json():
    assert get_format("json").name == "JSON" and FORMAT.rulesets == ()


FIELDS_SCHEMA = {
    "type": "object",
    "required": ["id", "at", "tags"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "the event id"},
        "at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "clock": {"type": "string", "format": "time"},
        "count": {"type": "integer", "default": 0},
        "ratio": {"type": "number"},
        "ok": {"type": "boolean"},
        "note": {"type": ["string", "null"]},
        "maybe": {"oneOf": [{"type": "null"}, {"type": "integer"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "attrs": {"type": "object", "additionalProperties": {"type": "number"}},
        "page": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        "free": {"type": "object"},
        "mixed": {"type": ["string", "integer"]},
    },
}


def test_the_neutral_field_tree_maps_json_schema_types():
    fields = {f.name: f for f in FORMAT.parse(json.dumps(FIELDS_SCHEMA)).fields()}
    assert {name: f.type.kind for name, f in fields.items()} == {
        "id": "uuid",
        "at": "timestamp",
        "day": "date",
        "clock": "time",
        "count": "long",
        "ratio": "double",
        "ok": "boolean",
        "note": "string",
        "maybe": "long",
        "tags": "list",
        "attrs": "map",
        "page": "record",
        "free": "json",
        "mixed": "json",
    }
    assert (fields["at"].type.unit, fields["at"].type.tz) == ("micros", "UTC")
    assert (
        not fields["id"].nullable
        and fields["day"].nullable
        and fields["note"].nullable
        and fields["maybe"].nullable
    )
    assert fields["id"].doc == "the event id"
    assert (fields["count"].has_default, fields["count"].default) == (True, 0)
    assert not fields["note"].has_default
    assert fields["tags"].type.element.type.kind == "string" and fields["tags"].type.element.path == "tags[]"
    assert (fields["attrs"].type.key.type.kind, fields["attrs"].type.value.type.kind) == ("string", "double")
    [url] = fields["page"].type.fields
    assert (url.path, url.type.kind, url.nullable) == ("page.url", "string", False)
    assert FORMAT.parse(json.dumps(FIELDS_SCHEMA)).columns() == tuple(fields)


def test_up_to_draft_07_keywords_beside_a_ref_are_ignored_and_the_target_compared():
    old = FORMAT.parse(
        '{"properties": {"a": {"$ref": "#/definitions/x", "maxLength": 3}}, "definitions": {"x": {"type": "string"}}}'
    )
    new = FORMAT.parse(
        '{"properties": {"a": {"$ref": "#/definitions/x", "maxLength": 2}}, "definitions": {"x": {"type": "integer"}}}'
    )
    assert [v.rule for v in FORMAT.check(old, new, Direction.BACKWARD)] == ["TYPE_CHANGED"]


def test_from_2019_09_keywords_beside_a_ref_are_compared():
    schema = '{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties": {"a": {"$ref": "#/$defs/x", "maxLength": %d}}, "$defs": {"x": {"type": "string"}}}'
    old, new = FORMAT.parse(schema % 3), FORMAT.parse(schema % 2)
    assert [v.rule for v in FORMAT.check(old, new, Direction.BACKWARD)] == ["MAX_LENGTH_DECREASED"]


def test_draft_04_boolean_exclusive_bounds_compare_as_bounds():
    draft_04 = '{"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "maximum": 10%s}'
    exclusive, inclusive = FORMAT.parse(draft_04 % ', "exclusiveMaximum": true'), FORMAT.parse(draft_04 % "")
    assert FORMAT.check(exclusive, inclusive, Direction.BACKWARD) == []
    [violation] = FORMAT.check(inclusive, exclusive, Direction.BACKWARD)
    assert (violation.rule, violation.path) == ("EXCLUSIVE_MAXIMUM_ADDED", "#/exclusiveMaximum")


def test_parsing_the_same_text_again_returns_the_parsed_schema():
    text = '{"type": "object", "properties": {"a": {"type": "string"}}}'
    assert FORMAT.parse(text, source_name="a.json") is FORMAT.parse(text, source_name="a.json")
