"""`meshgate dbt-sources`: dbt's Bronze sources generated from the contracts (files or registry)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lakehouse.dbt.glue import PROJECT_DIR
from lakehouse.dbt.sources import SOURCES_FILE, contracts_from_files, sources_yaml
from meshgate.cli import main
from registry.errors import InvalidArgument

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def generated() -> dict:
    return yaml.safe_load(sources_yaml(contracts_from_files(EXAMPLES)))


def table(name: str) -> dict:
    (bronze,) = generated()["sources"]
    return next(t for t in bronze["tables"] if t["name"] == name)


def column(table_name: str, name: str) -> dict:
    return next(c for c in table(table_name)["columns"] if c["name"] == name)


def column_tests(table_name: str, name: str) -> dict[str, dict]:
    return {
        kind: body for test in column(table_name, name).get("data_tests", []) for kind, body in test.items()
    }


def test_committed_sources_are_up_to_date_with_the_example_contracts():
    committed = (PROJECT_DIR / SOURCES_FILE).read_text(encoding="utf-8")
    assert committed == sources_yaml(contracts_from_files(EXAMPLES)), (
        "dbt/models/bronze/sources.yml is stale: run `meshgate dbt-sources --contracts examples/contracts`"
    )


def test_generation_is_deterministic_whatever_the_contract_order():
    contracts = contracts_from_files(EXAMPLES)
    assert sources_yaml(contracts) == sources_yaml(list(reversed(contracts)))


def test_every_column_is_described_from_avro_docs_and_protobuf_comments():
    assert (
        column("checkout__checkout_completed", "amount")["description"]
        == "Order total in the order's currency."
    )
    assert column("identity__user_signed_up", "country")["description"] == "ISO 3166 country code."
    for name in ("checkout__checkout_completed", "identity__user_signed_up"):
        assert all(c["description"] for c in table(name)["columns"]), name


def test_required_fields_enums_primary_key_and_quality_rules_become_tests():
    amount = column_tests("checkout__checkout_completed", "amount")
    assert set(amount) == {"not_null", "meshgate_min"}
    assert amount["meshgate_min"]["arguments"] == {"value": 0}
    assert amount["meshgate_min"]["name"] == "bronze__checkout__checkout_completed__amount__min"
    currency = column_tests("checkout__checkout_completed", "currency")
    assert currency["accepted_values"]["arguments"] == {"values": ["EUR", "USD", "GBP"]}
    assert len(column("checkout__checkout_completed", "currency")["data_tests"]) == 2  # enum = rule: once
    plan = column_tests("identity__user_signed_up", "plan")
    assert plan["accepted_values"]["arguments"] == {"values": ["PLAN_UNSPECIFIED", "FREE", "PRO"]}
    assert column_tests("identity__user_signed_up", "country")["meshgate_regex"]["arguments"] == {
        "pattern": "^[A-Z]{2}$"
    }
    unique = column_tests("checkout__checkout_completed", "event_id")["unique"]
    assert unique["config"] == {"severity": "warn"}  # Bronze keeps re-deliveries; Silver's unique is an error


def test_pii_owner_and_freshness_are_in_meta():
    checkout = table("checkout__checkout_completed")
    assert checkout["meta"]["owner"] == "checkout"
    assert checkout["meta"]["pii_fields"] == ["email"]
    assert checkout["config"]["freshness"] == {"error_after": {"count": 1, "period": "hour"}}
    assert column("checkout__checkout_completed", "email")["meta"] == {"pii": True, "masked_at": "silver"}
    assert "meta" not in column("checkout__checkout_completed", "user_id")


def test_rules_that_cannot_hold_on_a_bronze_hash_are_left_to_the_gate(tmp_path):
    contracts = copy_examples(tmp_path)
    path = contracts / "identity" / "user_signed_up.yaml"
    text = path.read_text().replace("quality:\n", 'quality:\n  - {field: email, rule: regex, value: "@"}\n')
    path.write_text(text)
    assert "meshgate_regex" not in column_tests_in(contracts, "identity__user_signed_up", "email")


def test_check_flag_fails_on_a_stale_file_and_passes_once_regenerated(tmp_path):
    project = tmp_path / "project"
    (project / SOURCES_FILE).parent.mkdir(parents=True)
    (project / SOURCES_FILE).write_text("version: 2\n")
    runner = CliRunner()
    args = ["dbt-sources", "--contracts", str(EXAMPLES), "--project-dir", str(project)]
    stale = runner.invoke(main, [*args, "--check"])
    assert stale.exit_code == 1 and "is stale" in stale.output
    assert runner.invoke(main, args).exit_code == 0
    assert runner.invoke(main, [*args, "--check"]).exit_code == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("pii: [email]", "pii: [e_mail]"), "pii: 'e_mail' is not a field of checkout.CheckoutCompleted"),
        (
            ("{field: amount, rule: min", "{field: total, rule: min"),
            "quality[2].field: 'total' is not a field",
        ),
        (("{field: amount, rule: min", "{field: items.quantity, rule: min"), "nested path 'items.quantity'"),
    ],
)
def test_contract_paths_dbt_cannot_test_are_named(tmp_path, edit, message):
    contracts = copy_examples(tmp_path)
    path = contracts / "checkout" / "checkout_completed.yaml"
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(InvalidArgument, match="checkout_completed.yaml: ") as caught:
        sources_yaml(contracts_from_files(contracts))
    assert message in str(caught.value)


def test_cli_reports_a_missing_contracts_folder(tmp_path):
    result = CliRunner().invoke(main, ["dbt-sources", "--contracts", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert f"--contracts {tmp_path / 'nope'}: not a directory" in result.output


def test_cli_reports_a_broken_contract_file_with_its_line(tmp_path):
    contracts = copy_examples(tmp_path)
    (contracts / "broken.yaml").write_text("subject: a.B\nformat: [AVRO\n")
    result = CliRunner().invoke(
        main, ["dbt-sources", "--contracts", str(contracts), "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"{contracts / 'broken.yaml'}:3:1: not valid YAML" in result.output


def test_sources_from_the_registry_equal_those_from_the_contract_files(tmp_path):
    from registry.client import RegistryClient
    from registry.server import RegistryServer, ThreadedServer

    server = ThreadedServer(RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1"))
    server.start()
    try:
        target = server.server.grpc_target
        with RegistryClient(target) as client:
            for contract in contracts_from_files(EXAMPLES):
                client.register(contract)
        result = CliRunner().invoke(
            main, ["dbt-sources", "--registry", target, "--project-dir", str(tmp_path)]
        )
        assert result.exit_code == 0, result.output
    finally:
        server.stop()
    assert (tmp_path / SOURCES_FILE).read_text() == sources_yaml(contracts_from_files(EXAMPLES))


def copy_examples(tmp_path: Path) -> Path:
    target = tmp_path / "contracts"
    shutil.copytree(EXAMPLES, target)
    return target


def column_tests_in(contracts: Path, table_name: str, name: str) -> dict:
    (bronze,) = yaml.safe_load(sources_yaml(contracts_from_files(contracts)))["sources"]
    found = next(t for t in bronze["tables"] if t["name"] == table_name)
    columns = {c["name"]: c for c in found["columns"]}
    return {kind: body for test in columns[name].get("data_tests", []) for kind, body in test.items()}
