"""A transitive check over a long history: versions that cannot differ are checked once, and a
violation found only against an old version is still reported."""

from __future__ import annotations

import json

import pytest

from registry.compat import Level, check_compatibility, get_format


def _json(description: str, note_type: str = "string", **extra) -> str:
    schema = {
        "type": "object",
        "description": description,
        "properties": {"id": {"type": "string", "title": description}, "note": {"type": note_type}},
        "additionalProperties": False,
        **extra,
    }
    return json.dumps(schema)


def _parse(texts: list[str]):
    json_schema = get_format("JSON")
    return json_schema, [json_schema.parse(text) for text in texts]


def test_json_schemas_differing_only_in_annotations_share_a_check_key():
    _, (first, second, third) = _parse([_json("v1"), _json("v2", examples=[{"id": "x"}]), _json("v3")])
    assert first.check_key is not None
    assert first.check_key == second.check_key == third.check_key
    assert first.fingerprint != second.fingerprint  # still distinct schemas, with their own ids


def test_a_property_named_description_is_not_an_annotation():
    def schema(kind: str) -> str:
        return json.dumps({"type": "object", "properties": {"description": {"type": kind}}})

    _, (as_string, as_integer) = _parse([schema("string"), schema("integer")])
    assert as_string.check_key != as_integer.check_key


def test_a_schema_with_references_promises_nothing():
    json_schema = get_format("JSON")
    money = json.dumps({"type": "number"})
    text = json.dumps({"type": "object", "properties": {"amount": {"$ref": "money.json"}}})
    assert json_schema.parse(text, {"money.json": money}).check_key is None


def test_a_schema_with_combinators_promises_nothing():
    # anyOf branches count once per distinct text, description included: two that differ only there
    # are two branches, so the annotations can change a verdict
    branches = [{"type": "string", "description": "a"}, {"type": "string", "description": "b"}]
    text = json.dumps({"type": "object", "properties": {"note": {"anyOf": branches}}})
    assert get_format("JSON").parse(text).check_key is None


def test_avro_and_protobuf_promise_nothing_beyond_the_schema_itself():
    avro = get_format("AVRO").parse(json.dumps({"type": "record", "name": "R", "fields": []}))
    proto = get_format("PROTOBUF").parse('syntax = "proto3";\nmessage R {}\n')
    assert avro.check_key is None and proto.check_key is None


@pytest.mark.parametrize("level", [Level.BACKWARD_TRANSITIVE, Level.FULL_TRANSITIVE])
def test_a_violation_against_the_first_version_is_found_behind_many_equivalent_ones(level):
    # version 1 types note as an integer; versions 2-60 only reword the description
    history = [_json("v1", note_type="integer"), *(_json(f"v{i}") for i in range(2, 61))]
    json_schema, previous = _parse(history)
    (new,) = _parse([_json("new")])[1]
    result = check_compatibility(json_schema, level, new, previous)
    assert {(v.rule, v.field_path) for v in result.violations} == {("TYPE_CHANGED", "note")}
    assert len(result.violations) == len(level.directions)  # one each way
    assert result.against == [0] * len(level.directions)  # found against version 1 (index 0)
    latest_only = check_compatibility(
        json_schema, Level(level.value.removesuffix("_TRANSITIVE")), new, previous
    )
    assert latest_only.compatible


def test_the_deduplicated_check_finds_what_checking_every_version_finds():
    history = [
        _json(f"v{i}", note_type=kind) for i, kind in enumerate(["integer", "string", "string", "boolean"])
    ]
    json_schema, previous = _parse(history)
    (new,) = _parse([_json("new")])[1]
    every = []
    for old in reversed(previous):
        for direction in Level.FULL_TRANSITIVE.directions:
            every += [v for v in json_schema.check(old, new, direction) if v not in every]
    result = check_compatibility(json_schema, Level.FULL_TRANSITIVE, new, previous)
    assert {(v.rule, v.path, v.message) for v in result.violations} == {
        (v.rule, v.path, v.message) for v in every
    }
    assert result.violations
