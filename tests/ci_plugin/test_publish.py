"""contract-check publish: registers changed contracts references first, and a rerun registers nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ci_plugin.changes import ContractFile
from ci_plugin.config import ConfigError, ContractEntry
from ci_plugin.publish import dependency_order
from registry.client import RegistryClient
from registry.contract import Contract, Reference
from tests.ci_plugin.conftest import AVRO_SCHEMA

MONEY = {
    "type": "record",
    "name": "Money",
    "namespace": "com.example",
    "fields": [{"name": "units", "type": "long"}, {"name": "currency", "type": "string"}],
}
INVOICE = {
    "type": "record",
    "name": "Invoice",
    "namespace": "com.example",
    "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "com.example.Money"}],
}


def add_referencing_contracts(repo) -> None:
    """billing.Invoice (sorted first by path) imports finance.Money's record."""
    repo.write("contracts/finance/money.avsc", json.dumps(MONEY, indent=2))
    repo.write("contracts/finance/money.yaml", "subject: finance.Money\nformat: AVRO\nschema: money.avsc\n")
    repo.write("contracts/billing/invoice.avsc", json.dumps(INVOICE, indent=2))
    repo.write(
        "contracts/billing/invoice.yaml",
        "subject: billing.InvoiceIssued\nformat: AVRO\nschema: invoice.avsc\n"
        "references:\n  - {name: com.example.Money, subject: finance.Money, version: 1}\n",
    )


def published(result) -> list[tuple[str, str]]:
    return [(entry["subject"], entry["outcome"]) for entry in json.loads(result.stdout)]


def test_publish_registers_references_first_and_a_rerun_registers_nothing(contract_repo, registry):
    add_referencing_contracts(contract_repo)
    contract_repo.commit("billing and finance contracts")

    first = contract_repo.contract_check("publish", "--registry", registry, "--output", "json")
    again = contract_repo.contract_check("publish", "--registry", registry, "--output", "json")

    assert first.exit_code == 0, first.stderr
    assert published(first) == [("finance.Money", "registered"), ("billing.InvoiceIssued", "registered")]
    assert again.exit_code == 0
    assert published(again) == [
        ("finance.Money", "already registered"),
        ("billing.InvoiceIssued", "already registered"),
    ]
    with RegistryClient(registry) as client:
        assert client.list_versions("billing.InvoiceIssued") == [1]
        assert client.get_version("billing.InvoiceIssued", 1).references[0].subject == "finance.Money"
        assert client.list_subjects() == [
            "billing.InvoiceIssued",
            "finance.Money",
        ]  # unchanged ones untouched


def test_publish_registers_only_what_changed_since_the_base(contract_repo, registry):
    contract_repo.contract_check("publish", "--all", "--registry", registry)
    contract_repo.edit_json(
        AVRO_SCHEMA,
        lambda s: s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None}),
    )
    contract_repo.commit("optional coupon")

    result = contract_repo.contract_check("publish", "--registry", registry)

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "registered: checkout.CheckoutCompleted version 2 (contracts/checkout/checkout_completed.yaml)"
    ]
    rerun = contract_repo.contract_check("publish", "--registry", registry)
    assert rerun.stdout.startswith("already registered: checkout.CheckoutCompleted version 2")


def test_publish_with_nothing_changed_says_so(contract_repo, registry):
    contract_repo.write("README.md", "docs\n")
    contract_repo.commit("docs only")

    result = contract_repo.contract_check("publish", "--registry", registry)

    assert result.exit_code == 0
    assert result.stdout.strip() == "nothing to publish: no contract changed"


def test_publish_refused_by_the_registry_exits_1(contract_repo, registry):
    contract_repo.contract_check("publish", "--all", "--registry", registry)
    contract_repo.edit_json(
        AVRO_SCHEMA, lambda s: next(f for f in s["fields"] if f["name"] == "amount").update(type="string")
    )
    contract_repo.commit("breaking change merged anyway")

    result = contract_repo.contract_check("publish", "--registry", registry)

    assert result.exit_code == 1
    assert "registry refused" in result.stderr and "TYPE_CHANGED" in result.stderr


def test_publish_to_an_unreachable_registry_exits_3(contract_repo, unreachable_registry):
    result = contract_repo.contract_check("publish", "--all", "--registry", unreachable_registry)

    assert result.exit_code == 3
    assert "unreachable" in result.stderr


def contract_file(subject: str, *references: str) -> ContractFile:
    refs = [Reference(name=r, subject=r, version=1) for r in references]
    contract = Contract(subject=subject, format="AVRO", schema="{}", references=refs)
    path = f"contracts/{subject}.yaml"
    return ContractFile(contract, path, path.replace(".yaml", ".avsc"), ContractEntry("contracts/*.yaml"))


def test_dependency_order_puts_every_reference_before_its_user():
    files = [contract_file("a.A", "c.C"), contract_file("b.B", "a.A", "x.External"), contract_file("c.C")]

    ordered = [f.contract.subject for f in dependency_order(files)]

    assert ordered == ["c.C", "a.A", "b.B"]


def test_reference_cycle_is_a_configuration_error():
    files = [contract_file("a.A", "b.B"), contract_file("b.B", "a.A")]

    with pytest.raises(ConfigError, match=r"cycle between contracts: a\.A -> b\.B -> a\.A"):
        dependency_order(files)


def test_reference_cycle_exits_2(contract_repo, registry):
    add_referencing_contracts(contract_repo)
    money = Path(contract_repo.root / "contracts/finance/money.yaml")
    money.write_text(
        money.read_text()
        + "references:\n  - {name: com.example.Invoice, subject: billing.InvoiceIssued, version: 1}\n"
    )
    contract_repo.commit("cycle")

    result = contract_repo.contract_check("publish", "--registry", registry)

    assert result.exit_code == 2
    assert "cycle between contracts" in result.stderr


def test_first_publish_of_a_new_repository_registers_every_contract(tmp_path, registry):
    from tests.ci_plugin.conftest import EXAMPLES, MESHGATE_YAML, init_repo

    repo = init_repo(tmp_path / "fresh")
    repo.write("meshgate.yaml", MESHGATE_YAML)
    shutil.copytree(EXAMPLES / "checkout", repo.root / "contracts" / "checkout")
    repo.commit("the only commit: HEAD has no parent")

    result = repo.contract_check("publish", "--registry", registry, "--output", "json")

    assert result.exit_code == 0, result.stderr
    assert published(result) == [("checkout.CheckoutCompleted", "registered")]


def test_all_zero_base_of_a_new_github_branch_publishes_every_contract(contract_repo, registry):
    add_referencing_contracts(contract_repo)
    contract_repo.commit("billing and finance contracts")

    result = contract_repo.contract_check(
        "publish", "--base", "0" * 40, "--registry", registry, "--output", "json"
    )

    assert result.exit_code == 0, result.stderr
    assert [subject for subject, _ in published(result)] == [
        "finance.Money",
        "billing.InvoiceIssued",
        "checkout.CheckoutCompleted",
        "identity.UserSignedUp",
    ]


def test_unknown_publish_base_exits_2(contract_repo, registry):
    result = contract_repo.contract_check("publish", "--base", "nope", "--registry", registry)

    assert result.exit_code == 2
    assert "--base 'nope' does not name a commit" in result.stderr
