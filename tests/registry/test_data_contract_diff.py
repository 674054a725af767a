"""Confluent rule sets and metadata compared across versions (registry.data_contract_diff)."""

from __future__ import annotations

from registry.contract import ContractMetadata, QualityRule
from registry.data_contract_diff import metadata_changes, rule_set_changes, served_after


def rule(name: str, **changes) -> dict:
    return {"name": name, "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "true", **changes}


def test_removed_read_rule_and_transform_are_notes_a_removed_write_condition_a_warning():
    old = {
        "domainRules": [rule("w"), rule("r", mode="READ"), rule("t", kind="TRANSFORM")],
        "migrationRules": [rule("up", mode="UPGRADE", type="JSONATA")],
    }

    found = {(c.rule, c.path, c.severity) for c in rule_set_changes(old, None)}

    assert found == {
        ("WRITE_CONDITION_REMOVED", "ruleSet.domainRules.w", "warning"),
        ("RULE_REMOVED", "ruleSet.domainRules.r", "note"),
        ("RULE_REMOVED", "ruleSet.domainRules.t", "note"),
        ("RULE_REMOVED", "ruleSet.migrationRules.up", "note"),
    }


def test_disabling_a_write_condition_is_a_warning_naming_the_change():
    (change,) = rule_set_changes({"domainRules": [rule("w")]}, {"domainRules": [rule("w", disabled=True)]})

    assert (change.rule, change.severity) == ("WRITE_CONDITION_REMOVED", "warning")
    assert "disabled: (none) -> True" in change.message


def test_equal_rule_sets_have_no_changes_and_a_new_expression_is_a_note():
    same = {"domainRules": [rule("w")]}
    assert rule_set_changes(same, same) == []

    (change,) = rule_set_changes(same, {"domainRules": [rule("w", expr="message.a > 0")]})
    assert change.rule == "RULE_CHANGED" and change.severity == "note"
    assert change.message == "Rule w changed: expr: 'true' -> 'message.a > 0'."


def test_metadata_properties_tags_and_sensitive_are_compared_key_by_key():
    old = {"properties": {"owner": "a", "team": "x"}, "tags": {"email": ["PII"]}, "sensitive": ["team"]}
    new = {"properties": {"owner": "b"}, "tags": {"email": ["PII"], "name": ["PII"]}}

    found = [(c.path, c.message) for c in metadata_changes(old, new)]

    assert found == [
        ("metadata.properties.owner", "Property owner: 'a' -> 'b'."),
        ("metadata.properties.team", "Property team: 'x' -> (none)."),
        ("metadata.tags.name", "Tags of field name: (none) -> [PII]."),
        ("metadata.sensitive", "Sensitive properties: [team] -> []."),
    ]


def test_served_after_keeps_what_clients_stored_and_publishes_the_new_contract():
    contract = ContractMetadata(owner_domain="checkout", quality_rules=[QualityRule("id", "not_null")])
    stored = (
        {"properties": {"team": "x", "owner": "old"}},
        {"domainRules": [rule("mine"), rule("meshgate_gone")]},
    )

    metadata, rules = served_after("checkout.Order", contract, *stored)

    assert metadata["properties"] == {"team": "x", "owner": "checkout", "domain": "checkout"}
    assert [r["name"] for r in rules["domainRules"]] == ["meshgate_not_null_id", "mine"]
