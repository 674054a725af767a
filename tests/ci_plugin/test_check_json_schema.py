"""contract-check on a real git repository whose contract is a JSON Schema (``format: JSON``): offline
and against a real registry with consumers, every output format, and dbt models as consumers."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ci_plugin.config import DbtConfig
from ci_plugin.dbt_consumers import load_manifest
from registry.client import RegistryClient
from registry.contract import load_contract
from tests.ci_plugin.conftest import MESHGATE_YAML, init_repo
from tests.ci_plugin.test_reports import parse_command, sarif_schema

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "web"
CONTRACT = "contracts/web/page_viewed.yaml"
SCHEMA = "contracts/web/page_viewed.schema.json"
SUBJECT = "web.PageViewed"


@pytest.fixture
def json_repo(tmp_path):
    """A repository on branch ``feature``, just branched off ``main`` that holds the JSON Schema contract."""
    repo = init_repo(tmp_path / "repo")
    repo.write("meshgate.yaml", MESHGATE_YAML)
    shutil.copytree(EXAMPLE, repo.root / "contracts" / "web")
    repo.commit("the page-view contract")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


def edit_schema(repo, change) -> None:
    schema = json.loads(repo.read(SCHEMA))
    change(schema)
    repo.write(SCHEMA, json.dumps(schema, indent=2) + "\n")


def drop_duration(schema: dict) -> None:
    del schema["properties"]["duration_ms"]


def test_an_optional_property_added_passes_offline(json_repo):
    edit_schema(json_repo, lambda s: s["properties"].update(campaign={"type": ["string", "null"]}))
    json_repo.commit("campaign")

    result = json_repo.contract_check("--against", "main")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"ok {SUBJECT} (modified; {CONTRACT}; against main" in result.stdout


def test_a_property_removed_from_the_closed_model_blocks_at_its_pointer(json_repo):
    edit_schema(json_repo, drop_duration)
    json_repo.commit("no duration")

    result = json_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1
    (contract,) = json.loads(result.stdout)["contracts"]
    assert (contract["subject"], contract["level"]) == (SUBJECT, "BACKWARD")
    (finding,) = contract["findings"]
    assert finding["rule"] == "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
    assert (finding["file"], finding["path"]) == (SCHEMA, "#/properties/duration_ms")
    assert finding["line"] == 1  # the property is gone: the line of the object that lost it


def test_a_narrowed_bound_blocks_at_its_line_in_text_github_junit_and_sarif(json_repo):
    edit_schema(json_repo, lambda s: s["properties"]["duration_ms"].update(maximum=600000))
    json_repo.commit("bounded duration")
    line = json_repo.line_of(SCHEMA, '"maximum"')

    text = json_repo.contract_check("--against", "main")
    assert text.exit_code == 1
    assert f"{SCHEMA}:{line} MAXIMUM_ADDED #/properties/duration_ms/maximum" in text.stdout

    github = json_repo.contract_check("--against", "main", "--output", "github")
    commands = [parse_command(row) for row in github.stdout.splitlines() if row.startswith("::")]
    ((props, message),) = [(p, m) for name, p, m in commands if name == "error"]
    assert (props["file"], props["line"], props["title"].split(": ")[1]) == (
        SCHEMA,
        str(line),
        "MAXIMUM_ADDED",
    )
    assert "field duration_ms" in message

    junit = json_repo.contract_check("--against", "main", "--output", "junit")
    (case,) = ET.fromstring(junit.stdout).find("testsuite").findall("testcase")
    assert (case.get("name"), case.find("failure").get("type")) == (SUBJECT, "MAXIMUM_ADDED")

    sarif = json_repo.contract_check("--against", "main", "--output", "sarif")
    log = json.loads(sarif.stdout)
    jsonschema.validators.validator_for(sarif_schema())(sarif_schema()).validate(log)
    (found,) = log["runs"][0]["results"]
    assert found["ruleId"] == "MAXIMUM_ADDED"
    assert found["locations"][0]["physicalLocation"]["region"] == {"startLine": line}


def test_an_invalid_json_schema_exits_2_naming_the_pointer(json_repo):
    edit_schema(json_repo, lambda s: s["properties"]["duration_ms"].update(minimum="zero"))
    json_repo.commit("broken bound")

    result = json_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "#/properties/duration_ms/minimum: not a valid 2020-12 JSON Schema" in result.stderr
    assert f"(schema of {CONTRACT})" in result.stderr


def test_a_change_only_a_registered_consumer_reads_blocks_and_names_it(json_repo, registry):
    with RegistryClient(registry) as client:
        client.register(load_contract(json_repo.root / CONTRACT))
        client.register_consumer("seo-report", SUBJECT, version=1, fields=["page.title"])
        client.register_consumer("timing", SUBJECT, version=1, fields=["duration_ms"])
        client.set_config(SUBJECT, "NONE")
    edit_schema(json_repo, lambda s: s["properties"]["page"]["properties"]["title"].update(type="integer"))
    json_repo.commit("title as a number")

    result = json_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 1, result.stderr
    (contract,) = json.loads(result.stdout)["contracts"]
    (finding,) = contract["findings"]
    assert (finding["rule"], finding["consumers"]) == ("TYPE_CHANGED", ["seo-report"])
    assert finding["path"] == "#/properties/page/properties/title"
    assert "page.title" in finding["fix"] and "timing" not in result.stdout


DBT_FILES = {
    "dbt_project.yml": (
        "name: contract_check_json\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n"
        "model-paths: ['models']\nflags:\n  send_anonymous_usage_stats: false\n"
    ),
    "profiles.yml": "fixture:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: fixture.duckdb\n",
    "models/bronze/sources.yml": (
        "version: 2\nsources:\n  - name: bronze\n    tables:\n      - name: web__page_viewed\n"
        "        columns: [{name: event_id}, {name: duration_ms}, {name: referrer}]\n"
    ),
    "models/silver/silver_page_views.sql": (
        "select event_id, duration_ms / 1000.0 as duration_s\nfrom {{ source('bronze', 'web__page_viewed') }}\n"
    ),
}


@pytest.fixture(scope="module")
def parsed_dbt_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dbt_parse")
    for path, text in DBT_FILES.items():
        (root / "dbt" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "dbt" / path).write_text(text)
    load_manifest(root, DbtConfig(manifest="dbt/target/manifest.json", project_dir="dbt"))
    return root / "dbt"


def test_dropping_a_property_a_dbt_model_reads_blocks_and_names_the_model(json_repo, parsed_dbt_project):
    json_repo.git("checkout", "-q", "main")
    shutil.copytree(
        parsed_dbt_project, json_repo.root / "dbt", ignore=shutil.ignore_patterns("*.duckdb*", "logs")
    )
    json_repo.write(".gitignore", "dbt/logs/\n*.duckdb\n")
    json_repo.write("meshgate.yaml", MESHGATE_YAML + "dbt:\n  manifest: dbt/target/manifest.json\n")
    json_repo.commit("dbt project")
    json_repo.git("checkout", "-q", "feature")
    json_repo.git("merge", "-q", "--ff-only", "main")
    json_repo.edit(CONTRACT, "compatibility: BACKWARD", "compatibility: NONE")  # only dbt can object
    edit_schema(json_repo, drop_duration)
    edit_schema(json_repo, lambda s: s["properties"].pop("referrer"))  # no model reads it
    json_repo.commit("drop duration and referrer")

    result = json_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1, result.stderr
    (contract,) = json.loads(result.stdout)["contracts"]
    (finding,) = contract["findings"]
    assert (finding["rule"], finding["consumers"]) == ("DBT_COLUMN_DROPPED", ["silver_page_views"])
    assert finding["file"] == SCHEMA and finding["path"] == "PageViewed.duration_ms"
