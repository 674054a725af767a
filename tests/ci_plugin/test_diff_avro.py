"""``contract-check diff --format avro`` end to end: the real console script, run on files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from registry.compat import MAX_SCHEMA_BYTES

CONTRACT_CHECK = Path(sys.executable).parent / "contract-check"


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONTRACT_CHECK), "diff", "--format", "avro", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, schema: object) -> Path:
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema, indent=2))
    return path


def order(tmp_path: Path, name: str, *fields: dict) -> Path:
    return write(
        tmp_path / name,
        {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}, *fields]},
    )


@pytest.fixture
def checkout(examples_dir):
    return (
        examples_dir / "contracts/checkout/checkout_completed.avsc",
        examples_dir / "evolution/checkout_completed.v2.avsc",
        examples_dir / "evolution/checkout_completed.v3-breaking.avsc",
    )


def test_compatible_change_exits_0_with_empty_violations(checkout):
    result = run("--level", "FULL", "--output", "json", checkout[0], checkout[1])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compatible": True, "violations": []}


def test_breaking_change_exits_1_with_rule_path_message_and_line(checkout):
    result = run("--level", "BACKWARD", "--output", "json", checkout[1], checkout[2])
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["compatible"] is False
    assert [(v["rule"], v["path"], v["line"]) for v in report["violations"]] == [
        ("TYPE_CHANGED", "CheckoutCompleted.amount", 29),
        ("FIELD_MISSING_DEFAULT", "CheckoutCompleted.channel", 84),
    ]
    assert all(set(v) == {"rule", "path", "message", "line"} for v in report["violations"])
    assert "from double to string" in report["violations"][0]["message"]


def test_text_output_names_file_line_rule_and_fix(checkout):
    result = run("--level", "BACKWARD", checkout[1], checkout[2])
    assert result.returncode == 1
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert f"{checkout[2]}:29 TYPE_CHANGED CheckoutCompleted.amount" in lines  # the line, exactly
    assert "Add a default to field 'channel'" in result.stdout


def test_parse_error_exits_2_with_file_line_and_column(tmp_path, checkout):
    bad = write(
        tmp_path / "bad.avsc",
        '{\n  "type": "record",\n  "name": "Order",\n  "fields": [\n    {"name": "id" "type": "int"}\n  ]\n}',
    )
    result = run(checkout[0], bad)
    assert result.returncode == 2
    assert f"{bad}:5:19: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_error_exits_2_with_the_line_of_the_element(tmp_path, checkout):
    bad = order(tmp_path, "bad.avsc", {"name": "total", "type": "Money"})
    result = run(checkout[0], bad)
    assert result.returncode == 2
    assert f"{bad}:11: unknown type 'Money'" in result.stderr


def test_empty_file_exits_2(tmp_path, checkout):
    empty = write(tmp_path / "empty.avsc", "")
    result = run(checkout[0], empty)
    assert result.returncode == 2 and "empty" in result.stderr


def test_binary_garbage_exits_2(tmp_path, checkout):
    garbage = tmp_path / "garbage.avsc"
    garbage.write_bytes(bytes(range(256)) * 4)
    result = run(checkout[0], garbage)
    assert result.returncode == 2
    assert "binary" in result.stderr and "Traceback" not in result.stderr


def test_oversized_file_exits_2_naming_the_cap(tmp_path, checkout):
    big = write(tmp_path / "big.avsc", json.dumps({"type": "string", "doc": "x" * (MAX_SCHEMA_BYTES + 1)}))
    result = run(checkout[0], big)
    assert result.returncode == 2
    assert str(MAX_SCHEMA_BYTES) in result.stderr


def test_transitive_level_checks_every_old_file_and_plain_level_only_the_latest(tmp_path):
    v1 = order(tmp_path, "v1.avsc", {"name": "note", "type": "int", "default": 0})
    v2 = order(tmp_path, "v2.avsc")
    v3 = order(tmp_path, "v3.avsc", {"name": "note", "type": "string", "default": ""})
    assert run("--level", "FULL", v1, v2, v3).returncode == 0
    result = run("--level", "FULL_TRANSITIVE", "--output", "json", v1, v2, v3)
    assert result.returncode == 1
    assert [(v["rule"], v["path"]) for v in json.loads(result.stdout)["violations"]] == [
        ("TYPE_CHANGED", "Order.note"),
        ("TYPE_CHANGED", "Order.note"),
    ]


def test_unknown_level_and_single_file_are_usage_errors(checkout):
    assert run("--level", "SIDEWAYS", checkout[0], checkout[1]).returncode == 2
    assert run(checkout[0]).returncode == 2


def test_protobuf_ruleset_with_avro_is_a_usage_error(tmp_path):
    old = tmp_path / "old.avsc"
    old.write_text('{"type": "record", "name": "R", "fields": []}')
    result = subprocess.run(
        [str(CONTRACT_CHECK), "diff", "--format", "avro", "--ruleset", "WIRE", str(old), str(old)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "--ruleset applies to --format protobuf only" in result.stderr
    assert "Traceback" not in result.stderr
