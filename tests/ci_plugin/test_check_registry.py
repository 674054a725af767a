"""contract-check against a real registry (gRPC on loopback): levels over registered versions, registered
consumers, new and deleted subjects, and an unreachable registry with and without --offline-fallback."""

from __future__ import annotations

import json

from registry.client import RegistryClient
from registry.contract import load_contract
from tests.ci_plugin.conftest import AVRO_CONTRACT, AVRO_SCHEMA, PROTO_CONTRACT


def register_main_contracts(repo, target: str) -> None:
    """What a merge to main would have published: version 1 of both subjects."""
    with RegistryClient(target) as client:
        for path in (AVRO_CONTRACT, PROTO_CONTRACT):
            client.register(load_contract(repo.root / path))


def drop_field(repo, name: str) -> None:
    repo.edit_json(
        AVRO_SCHEMA, lambda s: s["fields"].remove(next(f for f in s["fields"] if f["name"] == name))
    )


def test_compatible_change_passes_against_the_registry(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    contract_repo.edit_json(
        AVRO_SCHEMA,
        lambda s: s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None}),
    )
    contract_repo.commit("optional coupon")

    result = contract_repo.contract_check("--registry", registry)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "ok checkout.CheckoutCompleted (modified" in result.stdout
    assert "against registry, BACKWARD)" in result.stdout  # the subject's level, as the registry has it


def test_change_that_breaks_only_a_registered_consumer_blocks_and_names_it(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    with RegistryClient(registry) as client:
        client.register_consumer("fraud-scoring", "checkout.CheckoutCompleted", version=1, fields=["email"])
        client.register_consumer("finance-ledger", "checkout.CheckoutCompleted", version=1, fields=["amount"])
    drop_field(contract_repo, "email")  # BACKWARD-compatible: only old readers of email break
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 1, result.stderr
    (contract,) = json.loads(result.stdout)["contracts"]
    (finding,) = contract["findings"]
    assert finding["consumers"] == ["fraud-scoring"]
    assert "fraud-scoring" in finding["message"] and "email" in finding["message"]
    assert finding["file"] == AVRO_SCHEMA and finding["line"] == 1
    assert "finance-ledger" not in result.stdout


def test_a_consumer_finding_takes_the_consumer_and_its_fields_from_the_registry_verdict(
    contract_repo, registry
):
    """The consumer comes from the verdict's data (``broken_consumers``), not from the message text:
    the fix names the field the consumer registered, which no message spells as a field list."""
    register_main_contracts(contract_repo, registry)
    with RegistryClient(registry) as client:
        client.register_consumer(
            "fraud-scoring", "checkout.CheckoutCompleted", version=1, fields=["email", "amount"]
        )
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 1, result.stderr
    (finding,) = json.loads(result.stdout)["contracts"][0]["findings"]
    assert finding["consumers"] == ["fraud-scoring"]
    assert finding["fix"].startswith("Keep field(s) email that consumer fraud-scoring reads")


def test_the_same_change_passes_offline_where_no_consumer_is_known(contract_repo):
    """The control for the test above: without the registry the drop is BACKWARD-compatible."""
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")

    assert contract_repo.contract_check("--against", "main").exit_code == 0


def test_level_violation_over_registered_versions_blocks(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    contract_repo.edit_json(
        AVRO_SCHEMA, lambda s: next(f for f in s["fields"] if f["name"] == "amount").update(type="string")
    )
    contract_repo.commit("amount as text")

    result = contract_repo.contract_check("--registry", registry)

    assert result.exit_code == 1
    line = contract_repo.line_of(AVRO_SCHEMA, '"name": "amount"') + 1
    assert f"{AVRO_SCHEMA}:{line} TYPE_CHANGED CheckoutCompleted.amount" in result.stdout


def test_unregistered_subject_passes_with_a_note(contract_repo, registry):
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email before anything was published")

    result = contract_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 0
    (contract,) = json.loads(result.stdout)["contracts"]
    assert contract["notes"] == ["new subject checkout.CheckoutCompleted: no registered version yet"]


def test_deleted_contract_with_registered_consumers_blocks(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    with RegistryClient(registry) as client:
        client.register_consumer("crm-sync", "identity.UserSignedUp", version=1)
    contract_repo.git("rm", "-q", "-r", "contracts/identity")
    contract_repo.commit("drop identity")

    result = contract_repo.contract_check("--registry", registry)

    assert result.exit_code == 1
    assert f"{PROTO_CONTRACT} CONTRACT_DELETED_WITH_CONSUMERS" in result.stdout
    assert "crm-sync" in result.stdout


def test_deleted_contract_without_consumers_passes(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    contract_repo.git("rm", "-q", "-r", "contracts/identity")
    contract_repo.commit("drop identity")

    result = contract_repo.contract_check("--registry", registry)

    assert result.exit_code == 0
    assert "the registry lists no consumers of identity.UserSignedUp" in result.stdout


def test_registry_address_comes_from_meshgate_yaml(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    contract_repo.write("meshgate.yaml", contract_repo.read("meshgate.yaml") + f"registry: {registry}\n")
    drop_field(contract_repo, "amount")
    contract_repo.commit("config and change")

    result = (
        contract_repo.contract_check()
    )  # no sub-command, no option: check against the configured registry

    assert result.exit_code == 0
    assert "(registry)" in result.stdout


def test_unreachable_registry_exits_3(contract_repo, unreachable_registry):
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("--registry", unreachable_registry)

    assert result.exit_code == 3
    assert f"registry at {unreachable_registry} is unreachable" in result.stderr
    assert "--offline-fallback" in result.stderr


def test_unreachable_registry_with_offline_fallback_checks_against_the_base(
    contract_repo, unreachable_registry
):
    contract_repo.edit_json(
        AVRO_SCHEMA, lambda s: next(f for f in s["fields"] if f["name"] == "amount").update(type="string")
    )
    contract_repo.commit("amount as text")

    result = contract_repo.contract_check(
        "--registry", unreachable_registry, "--offline-fallback", "--output", "json"
    )

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["mode"] == "offline"
    assert "unreachable" in report["notes"][0]
    assert [f["rule"] for f in report["contracts"][0]["findings"]] == ["TYPE_CHANGED"]


def test_offline_fallback_passes_a_compatible_change(contract_repo, unreachable_registry):
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("check", "--registry", unreachable_registry, "--offline-fallback")

    assert result.exit_code == 0
    assert "checked offline against the base" in result.stdout


def test_the_subjects_level_in_the_registry_applies_not_the_contract_file(contract_repo, registry):
    register_main_contracts(contract_repo, registry)
    with RegistryClient(registry) as client:
        client.set_config("checkout.CheckoutCompleted", "FULL")
    drop_field(contract_repo, "email")  # fine under the contract file's BACKWARD, not under FULL
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("--registry", registry)

    assert result.exit_code == 1
    assert "against registry, FULL)" in result.stdout
    assert "FIELD_MISSING_DEFAULT CheckoutCompleted.email" in result.stdout


def test_new_contract_referencing_another_new_contract_passes_before_either_is_registered(
    contract_repo, registry
):
    from tests.ci_plugin.test_publish import add_referencing_contracts

    add_referencing_contracts(contract_repo)
    contract_repo.commit("billing and finance contracts, nothing registered yet")

    result = contract_repo.contract_check("--registry", registry, "--output", "json")

    assert result.exit_code == 0, result.stderr
    notes = {c["subject"]: c["notes"] for c in json.loads(result.stdout)["contracts"]}
    assert notes["finance.Money"] == ["new subject finance.Money: no registered version yet"]
    assert any(
        "finance.Money" in note and "not registered" in note for note in notes["billing.InvoiceIssued"]
    )
