"""``contract-check diff --format json`` end to end: the real console script, run on JSON Schema files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT_CHECK = Path(sys.executable).parent / "contract-check"
PAGE_VIEWED = Path(__file__).resolve().parents[2] / "examples/contracts/web/page_viewed.schema.json"


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONTRACT_CHECK), "diff", "--format", "json", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def changed(tmp_path: Path, name: str, change) -> Path:
    """The example schema with ``change`` applied, written indented (one keyword per line)."""
    schema = json.loads(PAGE_VIEWED.read_text())
    change(schema)
    path = tmp_path / name
    path.write_text(json.dumps(schema, indent=2) + "\n")
    return path


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_an_optional_property_added_to_the_closed_model_passes_backward(tmp_path):
    new = changed(tmp_path, "v2.json", lambda s: s["properties"].update(campaign={"type": "string"}))
    result = run("--level", "BACKWARD", "--output", "json", PAGE_VIEWED, new)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compatible": True, "violations": []}


def test_a_narrowed_type_exits_1_with_confluents_rule_the_pointer_and_the_line(tmp_path):
    new = changed(tmp_path, "v2.json", lambda s: s["properties"]["duration_ms"].update(maximum=600000))
    result = run("--level", "BACKWARD", "--output", "json", PAGE_VIEWED, new)
    assert result.returncode == 1, result.stderr
    (violation,) = json.loads(result.stdout)["violations"]
    assert (violation["rule"], violation["path"]) == ("MAXIMUM_ADDED", "#/properties/duration_ms/maximum")
    assert violation["line"] == line_of(new, '"maximum"')
    assert "field duration_ms" in violation["message"]


def test_forward_refuses_what_backward_accepts(tmp_path):
    new = changed(tmp_path, "v2.json", lambda s: s["properties"].update(campaign={"type": "string"}))
    result = run("--level", "FORWARD", "--output", "json", PAGE_VIEWED, new)
    assert result.returncode == 1
    rules = [v["rule"] for v in json.loads(result.stdout)["violations"]]
    assert rules == ["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"]


def drop_session_id(schema: dict) -> None:
    del schema["properties"]["session_id"]
    schema["required"].remove("session_id")


def test_transitive_levels_check_every_old_file(tmp_path):
    as_integer = changed(tmp_path, "v1.json", lambda s: s["properties"]["session_id"].update(type="integer"))
    v2 = changed(tmp_path, "v2.json", drop_session_id)
    v3 = changed(tmp_path, "v3.json", lambda s: s["required"].remove("session_id"))  # back, optional
    assert run("--level", "BACKWARD", "--output", "json", as_integer, v2, v3).returncode == 0
    result = run("--level", "BACKWARD_TRANSITIVE", "--output", "json", as_integer, v2, v3)
    assert result.returncode == 1
    (violation,) = json.loads(result.stdout)["violations"]
    assert (violation["rule"], violation["path"]) == ("TYPE_CHANGED", "#/properties/session_id")


def test_text_output_names_file_line_rule_and_pointer(tmp_path):
    new = changed(tmp_path, "v2.json", lambda s: s["properties"]["device"]["enum"].remove("tablet"))
    result = run("--level", "BACKWARD", PAGE_VIEWED, new)
    assert result.returncode == 1
    enum_line = line_of(new, '"enum"')
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert f"{new}:{enum_line} ENUM_ARRAY_NARROWED #/properties/device/enum" in lines  # the line, exactly


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"type": "object", "properties": {"n": {"minimum": "zero"}}}', "#/properties/n/minimum"),
        ('{"properties": {"total": {"$ref": "money.json"}}}', "#/properties/total/$ref"),
        ('{"type": "object",', "bad.json:1"),
    ],
    ids=["not of its dialect", "unresolvable $ref", "not JSON"],
)
def test_an_invalid_schema_exits_2_naming_where(tmp_path, text, named):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    result = run("--level", "BACKWARD", PAGE_VIEWED, bad)
    assert result.returncode == 2
    assert named in result.stderr and result.stdout == ""


def test_json_has_no_named_rule_sets(tmp_path):
    result = run("--level", "BACKWARD", "--ruleset", "WIRE", PAGE_VIEWED, PAGE_VIEWED)
    assert result.returncode == 2
    assert "--format json has none" in result.stderr
