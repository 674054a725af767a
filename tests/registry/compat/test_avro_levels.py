"""Compatibility levels applied to Avro schemas through ``check_compatibility`` (Confluent semantics)."""

from __future__ import annotations

import json

import pytest

from registry.compat import Direction, Level, check_compatibility, get_format

AVRO = get_format("AVRO")


def version(*fields: tuple[str, object, dict]) -> object:
    schema = {
        "type": "record",
        "name": "Order",
        "fields": [{"name": name, "type": type_, **extra} for name, type_, extra in fields],
    }
    return AVRO.parse(json.dumps(schema, indent=2))


ID = ("id", "string", {})
V1 = version(ID)  # no "note" at all
V2 = version(ID, ("note", ["null", "string"], {"default": None}))


def rules(result) -> list[tuple[str, str, Direction]]:
    return [(v.rule, v.path, v.direction) for v in result.violations]


def test_backward_adding_a_field_without_default_breaks_and_with_default_passes():
    added = version(ID, ("note", "string", {}))
    assert rules(check_compatibility(AVRO, Level.BACKWARD, added, [V1])) == [
        ("FIELD_MISSING_DEFAULT", "Order.note", Direction.BACKWARD)
    ]
    assert check_compatibility(AVRO, Level.BACKWARD, V2, [V1]).compatible


def test_forward_checks_that_the_old_schema_reads_new_data():
    assert check_compatibility(AVRO, Level.FORWARD, V1, [V2]).compatible  # old V2 reader has a default
    assert rules(check_compatibility(AVRO, Level.FORWARD, V1, [version(ID, ("note", "string", {}))])) == [
        ("FIELD_MISSING_DEFAULT", "Order.note", Direction.FORWARD)
    ]


def test_full_reports_both_directions():
    new = version(ID, ("note", "int", {"default": 0}))
    result = check_compatibility(AVRO, Level.FULL, new, [V2])
    assert rules(result) == [
        ("UNION_BRANCH_MISSING", "Order.note<null>", Direction.BACKWARD),
        ("UNION_BRANCH_MISSING", "Order.note<string>", Direction.BACKWARD),
        ("TYPE_NOT_IN_UNION", "Order.note", Direction.FORWARD),
    ]


# A history where only version 1 conflicts with the new version: v1 had "note" as an int, v2 dropped
# it, the new version brings it back as a string. Each step is FULL compatible with the one before.
HISTORY = [version(ID, ("note", "int", {"default": 0})), version(ID)]
NOTE_AS_STRING = version(ID, ("note", "string", {"default": ""}))


@pytest.mark.parametrize("level", [Level.BACKWARD, Level.FORWARD, Level.FULL])
def test_non_transitive_levels_look_at_the_latest_version_only(level):
    assert check_compatibility(AVRO, level, HISTORY[1], HISTORY[:1]).compatible
    assert check_compatibility(AVRO, level, NOTE_AS_STRING, HISTORY).compatible


@pytest.mark.parametrize(
    ("level", "directions"),
    [
        (Level.BACKWARD_TRANSITIVE, [Direction.BACKWARD]),
        (Level.FORWARD_TRANSITIVE, [Direction.FORWARD]),
        (Level.FULL_TRANSITIVE, [Direction.BACKWARD, Direction.FORWARD]),
    ],
)
def test_transitive_levels_find_the_conflict_with_version_one(level, directions):
    result = check_compatibility(AVRO, level, NOTE_AS_STRING, HISTORY)
    assert rules(result) == [("TYPE_CHANGED", "Order.note", d) for d in directions]
    assert all(
        "from int to string" in v.message or "from string to int" in v.message for v in result.violations
    )


def test_forward_transitive_checks_every_old_reader():
    v1 = version(ID, ("note", "int", {}))
    new = version(ID)
    assert check_compatibility(AVRO, Level.FORWARD, new, [v1, V2]).compatible
    assert rules(check_compatibility(AVRO, Level.FORWARD_TRANSITIVE, new, [v1, V2])) == [
        ("FIELD_MISSING_DEFAULT", "Order.note", Direction.FORWARD)
    ]


def test_none_accepts_anything():
    assert check_compatibility(AVRO, Level.NONE, version(("id", "int", {})), [V1]).compatible
