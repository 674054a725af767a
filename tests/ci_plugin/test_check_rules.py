"""Confluent rules and metadata compared across versions by ``contract-check check`` on real git
repositories (offline and against a real registry): reported in every output, never breaking; a
removed WRITE condition is a warning, other changes are notes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from registry.client import RegistryClient
from registry.contract import load_contract
from tests.ci_plugin.conftest import AVRO_CONTRACT, PROTO_CONTRACT

MIN_RULE = "  - {field: amount, rule: min, value: 0}\n"
CURRENCY_RULE = "values: [EUR, USD, GBP]"


def test_removed_quality_rule_is_a_warning_that_does_not_block(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, MIN_RULE, "")
    contract_repo.commit("no minimum amount")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "warning WRITE_CONDITION_REMOVED ruleSet.domainRules.meshgate_min_amount" in result.stdout
    assert "producers stop refusing the records it refused" in result.stdout
    assert "OK: no breaking contract changes" in result.stdout


def test_changed_rule_is_a_note_in_json_with_what_changed(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, CURRENCY_RULE, "values: [EUR, USD, GBP, CHF]")
    contract_repo.commit("Swiss francs")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["breaking"] is False
    (contract,) = report["contracts"]
    assert contract["breaking"] is False
    (finding,) = contract["findings"]
    assert finding["rule"] == "RULE_CHANGED"
    assert finding["severity"] == "note"
    assert finding["path"] == "ruleSet.domainRules.meshgate_accepted_values_currency"
    assert finding["file"] == AVRO_CONTRACT
    assert '"CHF"' in finding["message"] and "expr:" in finding["message"]


def test_added_rule_and_changed_owner_are_notes(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, "owner: checkout", "owner: payments")
    contract_repo.edit(AVRO_CONTRACT, MIN_RULE, MIN_RULE + "  - {field: amount, rule: max, value: 100000}\n")
    contract_repo.commit("a maximum, new owner")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    findings = json.loads(result.stdout)["contracts"][0]["findings"]
    assert {(f["rule"], f["path"], f["severity"]) for f in findings} == {
        ("RULE_ADDED", "ruleSet.domainRules.meshgate_max_amount", "note"),
        ("METADATA_CHANGED", "metadata.properties.owner", "note"),
    }
    assert "Property owner: 'checkout' -> 'payments'." in [f["message"] for f in findings]


def test_rule_changes_in_github_sarif_and_junit_outputs(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, MIN_RULE, "")
    contract_repo.edit(AVRO_CONTRACT, CURRENCY_RULE, "values: [EUR]")
    contract_repo.commit("rules")

    github = contract_repo.contract_check("--against", "main", "--output", "github")
    sarif = json.loads(contract_repo.contract_check("--against", "main", "--output", "sarif").stdout)
    junit = ET.fromstring(contract_repo.contract_check("--against", "main", "--output", "junit").stdout)

    assert github.exit_code == 0
    assert (
        f"::warning file={AVRO_CONTRACT},title=checkout.CheckoutCompleted%3A WRITE_CONDITION_REMOVED::"
        in (github.stdout)
    )
    assert (
        f"::notice file={AVRO_CONTRACT},title=checkout.CheckoutCompleted%3A RULE_CHANGED::" in github.stdout
    )
    assert "no breaking changes" in github.stdout
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels == {"WRITE_CONDITION_REMOVED": "warning", "RULE_CHANGED": "note"}
    assert junit.get("failures") == "0"
    out = junit.find(".//testcase/system-out").text
    assert "warning: " + AVRO_CONTRACT + " WRITE_CONDITION_REMOVED" in out
    assert "note: " + AVRO_CONTRACT + " RULE_CHANGED" in out


def test_a_rule_change_beside_a_breaking_change_keeps_the_exit_1(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, MIN_RULE, "")
    contract_repo.edit(AVRO_CONTRACT, "compatibility: BACKWARD", "compatibility: FULL")
    contract_repo.edit_json(
        "contracts/checkout/checkout_completed.avsc",
        lambda s: s["fields"].remove(next(f for f in s["fields"] if f["name"] == "email")),
    )
    contract_repo.commit("drop email and a rule")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    assert "BREAKING: 1 problem(s) in 1 contract(s)" in result.stdout
    assert "warning WRITE_CONDITION_REMOVED" in result.stdout


def test_against_the_registry_rules_sent_by_clients_are_kept_and_changed_ones_reported(
    contract_repo, registry
):
    client_rule = {
        "name": "amountIsSmall",
        "kind": "CONDITION",
        "mode": "WRITE",
        "type": "CEL",
        "expr": "message.amount < 1000000.0",
    }
    with RegistryClient(registry) as client:
        client.register(load_contract(contract_repo.root / PROTO_CONTRACT))
        client.register(
            load_contract(contract_repo.root / AVRO_CONTRACT),
            data_metadata={"properties": {"team": "pay"}},
            rule_set={"domainRules": [client_rule]},
        )
    contract_repo.edit(AVRO_CONTRACT, MIN_RULE, "")
    contract_repo.commit("no minimum amount")

    result = contract_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 0, result.stderr
    findings = json.loads(result.stdout)["contracts"][0]["findings"]
    # the client's rule and property stay (the registry carries them over): only the quality rule goes
    assert [(f["rule"], f["path"], f["severity"]) for f in findings] == [
        ("WRITE_CONDITION_REMOVED", "ruleSet.domainRules.meshgate_min_amount", "warning")
    ]
