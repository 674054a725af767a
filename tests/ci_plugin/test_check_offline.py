"""contract-check offline (``--against REF``) on real git repositories: what passes, what blocks, where."""

from __future__ import annotations

import json

from tests.ci_plugin.conftest import AVRO_CONTRACT, AVRO_SCHEMA, PROTO_CONTRACT, PROTO_SCHEMA


def field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_compatible_change_passes(contract_repo):
    contract_repo.edit_json(
        AVRO_SCHEMA,
        lambda s: s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None}),
    )
    contract_repo.commit("optional coupon")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 0, result.stdout + result.stderr
    base = contract_repo.git("rev-parse", "main")[:12]
    assert (
        f"ok checkout.CheckoutCompleted (modified; {AVRO_CONTRACT}; against main ({base}), BACKWARD)"
        in result.stdout
    )
    assert "OK: no breaking contract changes" in result.stdout


def test_no_changed_contract_passes(contract_repo):
    contract_repo.write("README.md", "not a contract\n")
    contract_repo.commit("docs")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 0
    assert "0 changed contract(s)" in result.stdout


def test_avro_field_removed_without_default_blocks_under_full(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, "compatibility: BACKWARD", "compatibility: FULL")
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: s["fields"].remove(field(s, "email")))
    contract_repo.commit("drop email")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    record_line = contract_repo.line_of(AVRO_SCHEMA, "{")  # the removed field has no line: its record's
    assert f"{AVRO_SCHEMA}:{record_line} FIELD_MISSING_DEFAULT CheckoutCompleted.email" in result.stdout


def test_avro_type_change_blocks_at_the_field_line(contract_repo):
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: field(s, "amount").update(type="string"))
    contract_repo.commit("amount as text")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    (contract,) = report["contracts"]
    assert contract["subject"] == "checkout.CheckoutCompleted" and contract["level"] == "BACKWARD"
    (finding,) = contract["findings"]
    assert finding["rule"] == "TYPE_CHANGED"
    assert finding["file"] == AVRO_SCHEMA
    amount_line = contract_repo.line_of(AVRO_SCHEMA, '"name": "amount"')
    assert finding["line"] == amount_line + 1  # the "type" key, one line below the name


def test_avro_enum_symbol_removed_blocks(contract_repo):
    contract_repo.edit_json(
        AVRO_SCHEMA, lambda s: field(s, "currency")["type"].update(symbols=["EUR", "USD"])
    )
    contract_repo.commit("no more GBP")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    currency_type_line = contract_repo.line_of(AVRO_SCHEMA, '"name": "currency"') + 1
    assert (
        f"{AVRO_SCHEMA}:{currency_type_line} ENUM_SYMBOL_MISSING CheckoutCompleted.currency" in result.stdout
    )
    assert "GBP" in result.stdout


def test_protobuf_field_number_reused_with_another_type_blocks(contract_repo):
    contract_repo.edit(PROTO_SCHEMA, "  // ISO 3166 country code.\n  string country = 4;\n", "")
    contract_repo.edit(PROTO_SCHEMA, "  Plan plan = 6;\n", "  Plan plan = 6;\n  int64 region_id = 4;\n")
    contract_repo.commit("reuse field 4")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    line = contract_repo.line_of(PROTO_SCHEMA, "int64 region_id = 4;")
    assert f"{PROTO_SCHEMA}:{line} FIELD_SCALAR_KIND_CHANGED" in result.stdout
    assert "identity.UserSignedUp" in result.stdout


def test_contract_yaml_level_change_alone_is_checked(contract_repo):
    """Changing only the contract YAML (not the schema) still selects the contract for checking."""
    contract_repo.edit(PROTO_CONTRACT, "compatibility: BACKWARD", "compatibility: FULL")
    contract_repo.commit("stricter level")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 0
    (contract,) = json.loads(result.stdout)["contracts"]
    assert (contract["subject"], contract["status"], contract["level"]) == (
        "identity.UserSignedUp",
        "modified",
        "FULL",
    )


def test_new_contract_passes_with_a_note(contract_repo):
    contract_repo.write(
        "contracts/billing/invoice.avsc",
        '{"type": "record", "name": "InvoiceIssued", "fields": [{"name": "id", "type": "string"}]}\n',
    )
    contract_repo.write(
        "contracts/billing/invoice.yaml",
        "subject: billing.InvoiceIssued\nformat: AVRO\nschema: invoice.avsc\n",
    )
    contract_repo.commit("new contract")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 0
    assert "billing.InvoiceIssued (added" in result.stdout
    assert "new subject billing.InvoiceIssued" in result.stdout


def test_renamed_contract_is_checked_against_its_old_file(contract_repo):
    contract_repo.git("mv", "contracts/checkout", "contracts/sales")
    contract_repo.edit_json(
        "contracts/sales/checkout_completed.avsc", lambda s: field(s, "amount").update(type="string")
    )
    contract_repo.commit("move and break")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 1
    (contract,) = json.loads(result.stdout)["contracts"]
    assert contract["status"] == "renamed"
    assert contract["contract_file"] == "contracts/sales/checkout_completed.yaml"
    assert [f["rule"] for f in contract["findings"]] == ["TYPE_CHANGED"]


def test_deleted_contract_without_known_consumers_passes_offline_with_a_note(contract_repo):
    contract_repo.git("rm", "-q", "-r", "contracts/identity")
    contract_repo.commit("drop identity")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 0
    (contract,) = json.loads(result.stdout)["contracts"]
    assert contract["status"] == "deleted"
    assert "no consumers are known" in contract["notes"][0]


def test_uncommitted_change_in_the_working_tree_is_checked(contract_repo):
    """The pre-commit hook runs before the commit exists: the working tree is the head."""
    contract_repo.edit_json(AVRO_SCHEMA, lambda s: field(s, "amount").update(type="string"))

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 1
    assert "TYPE_CHANGED" in result.stdout


def test_changing_a_contracts_subject_deletes_the_old_one(contract_repo):
    contract_repo.edit(PROTO_CONTRACT, "subject: identity.UserSignedUp", "subject: identity.AccountOpened")
    contract_repo.commit("new subject name")

    result = contract_repo.contract_check("--against", "main", "--output", "json")

    assert result.exit_code == 0
    statuses = {c["subject"]: c["status"] for c in json.loads(result.stdout)["contracts"]}
    assert statuses == {"identity.AccountOpened": "added", "identity.UserSignedUp": "deleted"}
