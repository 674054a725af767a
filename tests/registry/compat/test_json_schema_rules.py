"""One case per JSON Schema rule, in both directions: ``json_schema_cases/rules.json`` holds, for every
rule id, an old and a new schema, the Confluent ``Difference.Type`` it follows (null: a meshgate
rule), and the violations expected for BACKWARD (new reads old) and for FORWARD (old reads new)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.compat import Direction, Level, check_compatibility, get_format

CASES = json.loads((Path(__file__).parent / "json_schema_cases" / "rules.json").read_text())
FORMAT = get_format("JSON")


def _parse(schema: dict, name: str):
    return FORMAT.parse(json.dumps(schema, indent=2), source_name=name)


def test_every_rule_in_the_table_has_exactly_one_case():
    assert sorted(case["rule"] for case in CASES) == sorted(FORMAT.rules)


def test_every_rule_says_what_it_detects_and_incompatible_ones_how_to_fix_it():
    for rule in FORMAT.rules.values():
        assert rule.description.endswith(".") and set(rule.categories) <= {"CONFLUENT", "MESHGATE"}
    for violation_rule in FORMAT.rules.keys() - FORMAT.compatible_rules:
        assert violation_rule in {v for case in CASES for v in case["backward"] + case["forward"]}


def test_rule_ids_are_confluents_difference_types_except_the_meshgate_ones():
    meshgate = {rule.id for rule in FORMAT.rules.values() if rule.categories == ("MESHGATE",)}
    assert meshgate == {"FORMAT_ADDED", "FORMAT_REMOVED", "FORMAT_CHANGED"}
    for case in CASES:
        assert case["confluent"] == (None if case["rule"] in meshgate else case["rule"])


@pytest.mark.parametrize("case", CASES, ids=[case["rule"] for case in CASES])
def test_rule_case_backward(case):
    old, new = _parse(case["old"], "old.json"), _parse(case["new"], "new.json")
    found = FORMAT.differences(old, new, Direction.BACKWARD)
    assert case["rule"] in {d.rule for d in found}, "the case's own difference is detected"
    violations = FORMAT.check(old, new, Direction.BACKWARD)
    assert sorted(v.rule for v in violations) == case["backward"]
    for violation in violations:
        assert violation.path.startswith("#") and violation.line is not None
        assert violation.message.endswith(".") and len(violation.message) > 60
        assert "{name}" not in violation.message and "{keyword}" not in violation.message


@pytest.mark.parametrize("case", CASES, ids=[case["rule"] for case in CASES])
def test_rule_case_forward(case):
    old, new = _parse(case["old"], "old.json"), _parse(case["new"], "new.json")
    assert sorted(v.rule for v in FORMAT.check(old, new, Direction.FORWARD)) == case["forward"]


@pytest.mark.parametrize("case", CASES, ids=[case["rule"] for case in CASES])
def test_rule_case_full_is_both_directions(case):
    old, new = _parse(case["old"], "old.json"), _parse(case["new"], "new.json")
    result = check_compatibility(FORMAT, Level.FULL, new, [old])
    assert {v.rule for v in result.violations} == set(case["backward"]) | set(case["forward"])
    assert result.compatible == (not case["backward"] and not case["forward"])


@pytest.mark.parametrize("case", CASES, ids=[case["rule"] for case in CASES])
def test_unchanged_schema_has_no_difference(case):
    old = _parse(case["old"], "old.json")
    again = _parse(case["old"], "again.json")
    for direction in Direction:
        assert FORMAT.differences(old, again, direction) == []


def test_the_documented_rule_table_lists_every_rule_with_its_verdict():
    doc = (Path(__file__).parents[3] / "docs" / "json-schema-compatibility.md").read_text()
    for rule_id in FORMAT.rules:
        verdict = "yes" if rule_id in FORMAT.compatible_rules else "**no**"
        assert any(
            line.startswith(f"| `{rule_id}`") and f"| {verdict} |" in line for line in doc.splitlines()
        ), rule_id
