"""dbt models as consumers: dropping a Bronze column a model reads blocks and names the model.

The manifest comes from a real ``dbt parse`` (run by contract-check itself, once per module) of a
tiny dbt project: two Silver models on the checkout source, one ``select *`` model on the identity one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ci_plugin.config import DbtConfig
from ci_plugin.dbt_consumers import load_manifest
from tests.ci_plugin.conftest import AVRO_CONTRACT, AVRO_SCHEMA, PROTO_SCHEMA, init_repo

DBT_FILES = {
    "dbt_project.yml": (
        "name: contract_check_fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n"
        "model-paths: ['models']\nflags:\n  send_anonymous_usage_stats: false\n"
    ),
    "profiles.yml": "fixture:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: fixture.duckdb\n",
    "models/bronze/sources.yml": (
        "version: 2\nsources:\n  - name: bronze\n    tables:\n"
        "      - name: checkout__checkout_completed\n"
        "        columns: [{name: event_id}, {name: order_id}, {name: email}, {name: amount}, {name: currency}]\n"
        "      - name: identity__user_signed_up\n"
    ),
    "models/silver/silver_orders.sql": (
        "-- email is not read here (this comment must not count as a use)\n"
        "select event_id, cast(amount as double) as amount, currency\n"
        "from {{ source('bronze', 'checkout__checkout_completed') }}\n"
    ),
    "models/silver/silver_customers.sql": (
        "select distinct lower(email) as email\n"
        "from {{ source('bronze', 'checkout__checkout_completed') }} as src\n"
        "where email <> 'order_id'  /* a string literal and a comment: user_id */\n"
    ),
    "models/silver/silver_signups.sql": "select * from {{ source('bronze', 'identity__user_signed_up') }}\n",
}
DBT_SECTION = "dbt:\n  manifest: dbt/target/manifest.json\n  project_dir: dbt\n"


@pytest.fixture(scope="module")
def parsed_dbt_project(tmp_path_factory) -> Path:
    """The tiny dbt project with target/manifest.json, produced by contract-check's own `dbt parse`."""
    root = tmp_path_factory.mktemp("dbt_parse")
    for path, text in DBT_FILES.items():
        (root / "dbt" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "dbt" / path).write_text(text)
    manifest = load_manifest(root, DbtConfig(manifest="dbt/target/manifest.json", project_dir="dbt"))
    assert "source.contract_check_fixture.bronze.checkout__checkout_completed" in manifest["sources"]
    return root / "dbt"


@pytest.fixture
def dbt_repo(contract_repo, parsed_dbt_project):
    """The contract repository with the dbt project and its manifest on main, branch feature checked out."""
    contract_repo.git("checkout", "-q", "main")
    shutil.copytree(
        parsed_dbt_project, contract_repo.root / "dbt", ignore=shutil.ignore_patterns("*.duckdb*", "logs")
    )
    contract_repo.write(".gitignore", "dbt/logs/\n*.duckdb\n")
    contract_repo.write("meshgate.yaml", contract_repo.read("meshgate.yaml") + DBT_SECTION)
    contract_repo.commit("dbt project")
    contract_repo.git("checkout", "-q", "feature")
    contract_repo.git("merge", "-q", "--ff-only", "main")
    return contract_repo


def drop_avro_field(repo, name: str) -> None:
    repo.edit_json(
        AVRO_SCHEMA, lambda s: s["fields"].remove(next(f for f in s["fields"] if f["name"] == name))
    )


def test_dropping_a_column_a_silver_model_reads_blocks_and_names_the_model(dbt_repo):
    drop_avro_field(dbt_repo, "email")  # BACKWARD-compatible for Avro readers, not for the dbt model
    dbt_repo.commit("drop email")

    result = dbt_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1, result.stderr
    (contract,) = json.loads(result.stdout)["contracts"]
    (finding,) = contract["findings"]
    assert finding["rule"] == "DBT_COLUMN_DROPPED"
    assert finding["consumers"] == ["silver_customers"]
    assert "models/silver/silver_customers.sql" in finding["message"]
    assert finding["file"] == AVRO_SCHEMA and finding["path"] == "CheckoutCompleted.email"


def test_dropping_a_column_no_model_reads_passes(dbt_repo):
    drop_avro_field(dbt_repo, "user_id")
    dbt_repo.commit("drop user_id")

    result = dbt_repo.contract_check("--against", "main")

    assert result.exit_code == 0, result.stdout + result.stderr


def test_select_star_from_the_source_reads_every_column(dbt_repo):
    dbt_repo.edit(PROTO_SCHEMA, "  // ISO 3166 country code.\n  string country = 4;\n", "  reserved 4;\n")
    dbt_repo.commit("drop country, number reserved")

    result = dbt_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    assert "DBT_COLUMN_DROPPED UserSignedUp.country" in result.stdout
    assert "dbt model silver_signups" in result.stdout


def test_deleting_a_contract_dbt_reads_blocks_offline(dbt_repo):
    dbt_repo.git("rm", "-q", "-r", "contracts/checkout")
    dbt_repo.commit("drop checkout")

    result = dbt_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    assert f"{AVRO_CONTRACT} DBT_SOURCE_DELETED" in result.stdout
    assert "silver_customers, silver_orders" in result.stdout


def test_dbt_source_named_in_meshgate_yaml_overrides_the_naming_rule(dbt_repo):
    dbt_repo.write(
        "meshgate.yaml",
        "default_branch: main\ncontracts:\n"
        f"  - path: {AVRO_CONTRACT}\n    dbt_source: bronze.identity__user_signed_up\n"
        "  - contracts/**/*.yaml\n" + DBT_SECTION,
    )
    drop_avro_field(dbt_repo, "order_id")  # read by no checkout model, but "*" of the named table
    dbt_repo.commit("map checkout to the identity table, drop order_id")

    result = dbt_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    assert "dbt model silver_signups" in result.stdout


def test_missing_manifest_without_project_dir_exits_2(contract_repo):
    contract_repo.write(
        "meshgate.yaml", contract_repo.read("meshgate.yaml") + "dbt:\n  manifest: dbt/target/manifest.json\n"
    )
    drop_avro_field(contract_repo, "email")
    contract_repo.commit("dbt configured, never parsed")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "dbt.manifest: cannot read dbt/target/manifest.json" in result.stderr


def test_failing_dbt_parse_exits_2(contract_repo):
    contract_repo.write("meshgate.yaml", contract_repo.read("meshgate.yaml") + DBT_SECTION)
    contract_repo.write("dbt/dbt_project.yml", "name: [not, a, name]\n")
    drop_avro_field(contract_repo, "email")
    contract_repo.commit("broken dbt project")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "dbt.project_dir: `dbt parse` failed" in result.stderr


def test_repository_config_and_real_dbt_project_name_the_silver_model(tmp_path):
    """This repository's own meshgate.yaml, example contracts and dbt/ project, in a scratch clone."""
    root = Path(__file__).resolve().parents[2]
    repo = init_repo(tmp_path / "clone")
    shutil.copy(root / "meshgate.yaml", repo.root / "meshgate.yaml")
    shutil.copytree(root / "examples" / "contracts", repo.root / "examples" / "contracts")
    shutil.copytree(
        root / "dbt", repo.root / "dbt", ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*")
    )
    repo.commit("as on main")
    repo.git("checkout", "-q", "-b", "feature")
    schema_path = "examples/contracts/checkout/checkout_completed.avsc"
    repo.edit_json(
        schema_path, lambda s: s["fields"].remove(next(f for f in s["fields"] if f["name"] == "email"))
    )
    repo.commit("drop email")

    result = repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1, result.stderr
    findings = json.loads(result.stdout)["contracts"][0]["findings"]
    assert [(f["rule"], f["consumers"]) for f in findings] == [
        ("DBT_COLUMN_DROPPED", ["silver_checkout_completed"])
    ]


def test_dbt_models_count_in_registry_mode_too_and_the_text_says_the_fix(dbt_repo, registry):
    from registry.client import RegistryClient
    from registry.contract import load_contract

    with RegistryClient(registry) as client:
        client.register(load_contract(dbt_repo.root / AVRO_CONTRACT))
    drop_avro_field(dbt_repo, "email")  # the registry has no consumer that minds
    dbt_repo.commit("drop email")

    result = dbt_repo.contract_check("--registry", registry)

    assert result.exit_code == 1
    assert f"{AVRO_SCHEMA} DBT_COLUMN_DROPPED CheckoutCompleted.email" in result.stdout
    assert (
        "fix: Keep field 'email', or first change dbt model silver_customers to stop reading it."
        in result.stdout
    )
