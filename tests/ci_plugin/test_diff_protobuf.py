"""``contract-check diff --format protobuf`` end to end: the real console script, run on files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT_CHECK = Path(sys.executable).parent / "contract-check"

ORDER_V1 = """syntax = "proto3";
package shop.v1;

message Order {
  string id = 1;
  int64 amount = 2;
  string note = 3;
}
"""


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONTRACT_CHECK), "diff", "--format", "protobuf", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def user_signed_up(examples_dir):
    return (
        examples_dir / "contracts/identity/user_signed_up.proto",
        examples_dir / "evolution/user_signed_up.v2.proto",
        examples_dir / "evolution/user_signed_up.v3-breaking.proto",
    )


def test_compatible_change_exits_0(user_signed_up):
    result = run("--level", "FULL", "--output", "json", user_signed_up[0], user_signed_up[1])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compatible": True, "violations": []}


def test_breaking_change_exits_1_with_rule_path_message_and_line(user_signed_up):
    result = run("--level", "BACKWARD", "--output", "json", user_signed_up[1], user_signed_up[2])
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["compatible"] is False
    assert [(v["rule"], v["path"], v["line"]) for v in report["violations"]] == [
        ("FIELD_SCALAR_KIND_CHANGED", "UserSignedUp.user_id", 12)
    ]
    assert set(report["violations"][0]) == {"rule", "path", "message", "line"}
    assert '"string" to "int64"' in report["violations"][0]["message"]


def test_wire_json_ruleset_is_stricter_than_the_default(user_signed_up):
    default = run("--level", "BACKWARD", "--output", "json", user_signed_up[1], user_signed_up[2])
    strict = run("--level", "BACKWARD", "--ruleset", "WIRE_JSON", "--output", "json", *user_signed_up[1:])
    assert strict.returncode == 1, strict.stderr
    rules = sorted(v["rule"] for v in json.loads(strict.stdout)["violations"])
    assert rules == [
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
    ]
    assert len(json.loads(default.stdout)["violations"]) == 1


def test_text_output_names_file_line_rule_and_path(user_signed_up):
    result = run("--level", "BACKWARD", user_signed_up[1], user_signed_up[2])
    assert result.returncode == 1
    assert f"{user_signed_up[2]}:12 FIELD_SCALAR_KIND_CHANGED UserSignedUp.user_id" in result.stdout
    assert "\x1b[" not in result.stdout  # no colours when not on a terminal


def test_parse_error_exits_2_with_file_line_and_column(tmp_path, user_signed_up):
    broken = write(tmp_path / "broken.proto", 'syntax = "proto3";\nmessage Order {\n  string id = 1\n}\n')
    result = run("--level", "BACKWARD", user_signed_up[0], broken)
    assert result.returncode == 2
    assert f"{broken}:4:1: " in result.stderr
    assert "Traceback" not in result.stderr and "meshgate_schema" not in result.stderr


def test_schema_without_messages_exits_2(tmp_path, user_signed_up):
    empty = write(tmp_path / "empty.proto", 'syntax = "proto3";\npackage shop.v1;\n')
    result = run("--level", "BACKWARD", user_signed_up[0], empty)
    assert result.returncode == 2
    assert "defines no message" in result.stderr


def test_transitive_level_checks_every_old_file(tmp_path):
    v1 = write(tmp_path / "v1.proto", ORDER_V1)
    v2 = write(tmp_path / "v2.proto", ORDER_V1.replace("  int64 amount = 2;\n", ""))
    v3 = write(
        tmp_path / "v3.proto",
        ORDER_V1.replace("  int64 amount = 2;\n", "").replace("}", "  string amount = 2;\n}"),
    )
    latest_only = run("--level", "BACKWARD", "--output", "json", v1, v2, v3)
    assert latest_only.returncode == 0, latest_only.stderr
    transitive = run("--level", "BACKWARD_TRANSITIVE", "--output", "json", v1, v2, v3)
    assert transitive.returncode == 1
    violations = json.loads(transitive.stdout)["violations"]
    assert [(v["rule"], v["path"], v["line"]) for v in violations] == [
        ("FIELD_SCALAR_KIND_CHANGED", "Order.amount", 7)
    ]
