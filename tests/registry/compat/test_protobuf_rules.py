"""One case per Protobuf rule: ``protobuf_cases/<RULE_ID>/`` holds old.proto, new.proto and case.json
(rule set, direction, and every violation expected, with its path and line in the new file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.compat import Direction, get_format

CASES = Path(__file__).parent / "protobuf_cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
FORMAT = get_format("PROTOBUF")


def test_every_rule_in_the_table_has_a_case():
    assert sorted(FORMAT.rules) == CASE_NAMES


def test_every_rule_belongs_to_a_known_rule_set_and_describes_itself():
    for rule in FORMAT.rules.values():
        assert rule.categories and set(rule.categories) <= {"CONFLUENT", "WIRE", "WIRE_JSON"}
        assert rule.description.endswith(".")


@pytest.mark.parametrize("name", CASE_NAMES)
def test_rule_case(name):
    folder = CASES / name
    spec = json.loads((folder / "case.json").read_text())
    old = FORMAT.parse((folder / "old.proto").read_text(), source_name=f"{name}/old.proto")
    new = FORMAT.parse((folder / "new.proto").read_text(), source_name=f"{name}/new.proto")
    violations = FORMAT.check(old, new, Direction(spec["direction"]), spec["ruleset"])
    found = sorted((v.rule, v.path, v.line) for v in violations)
    expected = sorted((e["rule"], e["path"], e["line"]) for e in spec["expected"])
    assert found == expected
    assert name in {v.rule for v in violations}
    for violation in violations:
        assert violation.message.endswith(".") and len(violation.message) > 40


@pytest.mark.parametrize("name", CASE_NAMES)
def test_unchanged_schema_passes_its_rule_set(name):
    folder = CASES / name
    spec = json.loads((folder / "case.json").read_text())
    old = FORMAT.parse((folder / "old.proto").read_text())
    for direction in Direction:
        assert FORMAT.check(old, old, direction, spec["ruleset"]) == []
