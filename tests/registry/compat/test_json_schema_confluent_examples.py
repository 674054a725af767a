"""Examples from Confluent Schema Registry's own JSON Schema diff tests (json-schema-provider,
``diff-schema-examples.json``), restated: the same writer/reader pair gives the same differences, at
the same paths, and the same verdict. Where the 8.x line renamed a difference
(``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`` became ``OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL``)
the 8.x name is used."""

from __future__ import annotations

import json

import pytest

from registry.compat import Direction, get_format

FORMAT = get_format("JSON")
S, N = {"type": "string"}, {"type": "number"}

EXAMPLES = [
    (
        "Detect changes to type array",
        {"type": ["object"]},
        {"type": ["object", "array"]},
        ["SUM_TYPE_EXTENDED #"],
        True,
    ),
    (
        "Detect changes to sub schemas",
        {"oneOf": [S]},
        {"oneOf": [N]},
        ["COMBINED_TYPE_SUBSCHEMAS_CHANGED #"],
        False,
    ),
    (
        "Detect changes to remove properties",
        {"properties": {"foo": S}},
        {"properties": {"bar": S}},
        [
            "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/foo",
            "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/bar",
        ],
        False,
    ),
    (
        "Detect property added to partially open content model 1",
        {
            "properties": {"foo": S},
            "additionalProperties": False,
            "patternProperties": {"^S_": S, "^I_": {"type": "integer"}},
        },
        {
            "properties": {"foo": S, "I_123": N},
            "additionalProperties": False,
            "patternProperties": {"^S_": S, "^I_": {"type": "integer"}},
        },
        [
            "TYPE_EXTENDED #/properties/I_123",
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/I_123",
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/I_123",
        ],
        True,
    ),
    (
        "Detect property added to partially open content model 4",
        {"properties": {"foo": S}, "additionalProperties": S},
        {"properties": {"foo": S, "bar": S}, "required": ["bar"], "additionalProperties": S},
        [
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar",
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar",
        ],
        False,
    ),
    (
        "Detect property removed from partially open content model 3",
        {"properties": {"foo": S, "bar": N}, "additionalProperties": False},
        {"properties": {"foo": S}, "additionalProperties": S},
        [
            "TYPE_CHANGED #/properties/bar",
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar",
            "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties",
        ],
        False,
    ),
    (
        "Detect compatible changes to enum schema",
        {"allOf": [S, {"enum": ["red"]}]},
        {"allOf": [{"enum": ["red", "blue"]}, S]},
        ["ENUM_ARRAY_EXTENDED #/allOf/1/enum"],
        True,
    ),
    (
        "Detect incompatible changes to reference schemas",
        {"type": "array", "items": {"$ref": "#/definitions/someRef"}, "definitions": {"someRef": S}},
        {"type": "array", "items": {"$ref": "#/definitions/someRef"}, "definitions": {"someRef": N}},
        ["TYPE_CHANGED #/items"],
        False,
    ),
    (
        "Detect compatible change of moving to reference schema",
        S,
        {"$ref": "#/definitions/someRef", "definitions": {"someRef": S}},
        [],
        True,
    ),
    (
        "Detect removing from closed content model for array",
        {"type": "array", "items": [S, N, {"type": "boolean"}], "additionalItems": False},
        {"type": "array", "items": [S, N], "additionalItems": True},
        ["ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/2", "ADDITIONAL_ITEMS_ADDED #/additionalItems"],
        True,
    ),
    (
        "Detect change to oneOf schema",
        {"type": "string", "maxLength": 3},
        {"oneOf": [N, S]},
        ["MAX_LENGTH_REMOVED #/maxLength", "SUM_TYPE_EXTENDED #"],
        True,
    ),
    (
        "Detect compatible change to not schema",
        {"not": N},
        {"not": {"type": "integer"}},
        ["NOT_TYPE_NARROWED #/not"],
        True,
    ),
    (
        "Detect changes to dependencies as array",
        {"properties": {"foo": N, "bar": S}, "dependencies": {"foo": ["bar"]}},
        {"properties": {"foo": N, "bar": S}, "dependencies": {"bar": ["foo"]}},
        ["DEPENDENCY_ARRAY_REMOVED #/dependencies/foo", "DEPENDENCY_ARRAY_ADDED #/dependencies/bar"],
        False,
    ),
]


@pytest.mark.parametrize(
    ("description", "original", "update", "changes", "compatible"), EXAMPLES, ids=[e[0] for e in EXAMPLES]
)
def test_confluent_example(description, original, update, changes, compatible):
    writer, reader = FORMAT.parse(json.dumps(original)), FORMAT.parse(json.dumps(update))
    found = FORMAT.differences(writer, reader, Direction.BACKWARD)
    assert sorted(f"{d.rule} {d.path}" for d in found) == sorted(changes)
    assert (not FORMAT.check(writer, reader, Direction.BACKWARD)) is compatible
