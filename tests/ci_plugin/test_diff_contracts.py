"""``contract-check diff`` of two contract files: the schemas at the level, and the Confluent rules
and metadata they publish (notes and warnings that never change the exit code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

CONTRACT_CHECK = Path(sys.executable).parent / "contract-check"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONTRACT_CHECK), "diff", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def versions(tmp_path: Path, edit) -> tuple[Path, Path]:
    """The example Avro contract as v1/ and an edited copy as v2/."""
    for name in ("v1", "v2"):
        shutil.copytree(EXAMPLES / "checkout", tmp_path / name)
    new = tmp_path / "v2" / "checkout_completed.yaml"
    new.write_text(edit(new.read_text()))
    return tmp_path / "v1" / "checkout_completed.yaml", new


def test_removed_quality_rule_is_a_warning_and_the_diff_stays_compatible(tmp_path):
    old, new = versions(tmp_path, lambda text: text.replace("  - {field: amount, rule: min, value: 0}\n", ""))

    result = run(old, new)

    assert result.returncode == 0, result.stderr
    assert "compatible:" in result.stdout
    assert "warning WRITE_CONDITION_REMOVED ruleSet.domainRules.meshgate_min_amount" in result.stdout


def test_json_output_lists_the_data_contract_changes_beside_the_violations(tmp_path):
    old, new = versions(tmp_path, lambda text: text.replace("owner: checkout", "owner: payments"))

    result = run("--output", "json", old, new)

    report = json.loads(result.stdout)
    assert report["compatible"] is True and report["violations"] == []
    assert report["data_contract_changes"] == [
        {
            "rule": "METADATA_CHANGED",
            "path": "metadata.properties.owner",
            "message": "Property owner: 'checkout' -> 'payments'.",
            "severity": "note",
        }
    ]


def test_breaking_schema_change_in_contract_files_exits_1(tmp_path):
    old, new = versions(tmp_path, lambda text: text)
    schema_file = new.parent / "checkout_completed.avsc"
    schema = json.loads(schema_file.read_text())
    schema["fields"].append({"name": "coupon", "type": "string"})
    schema_file.write_text(json.dumps(schema))

    result = run("--level", "BACKWARD", old, new)

    assert result.returncode == 1
    assert "BREAKING" in result.stdout


def test_schema_and_contract_files_mixed_is_a_usage_error(tmp_path):
    old, _ = versions(tmp_path, lambda text: text)

    result = run("--format", "avro", old, old.parent / "checkout_completed.avsc")

    assert result.returncode == 2
    assert "either schema files or contract files" in result.stderr


def test_format_disagreeing_with_the_contracts_is_a_usage_error(tmp_path):
    old, new = versions(tmp_path, lambda text: text)

    result = run("--format", "protobuf", old, new)

    assert result.returncode == 2
    assert "different formats: AVRO, PROTOBUF" in result.stderr


def test_schema_files_without_format_is_a_usage_error(tmp_path):
    old, _ = versions(tmp_path, lambda text: text)
    schema = old.parent / "checkout_completed.avsc"

    result = run(schema, schema)

    assert result.returncode == 2
    assert "--format is required for schema files" in result.stderr


def test_invalid_contract_file_is_a_usage_error_naming_it(tmp_path):
    old, new = versions(tmp_path, lambda text: text + "colour: blue\n")

    result = run(old, new)

    assert result.returncode == 2
    assert f"{new}: unknown key(s) colour" in result.stderr
