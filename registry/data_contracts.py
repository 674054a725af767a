"""Confluent's data contracts: a schema version's ``metadata`` and ``ruleSet``, in Confluent's shapes.

They are kept as the JSON objects Confluent's REST API documents, so what a client sends is stored
and returned as sent:

- ``metadata``: ``{"properties": {name: text}, "tags": {field path: [tag]}, "sensitive": [name]}``;
- ``ruleSet``: ``{"migrationRules": [rule], "domainRules": [rule], "encodingRules": [rule]}``, each
  rule ``{"name", "kind" (CONDITION | TRANSFORM), "mode", "type" (CEL, CEL_FIELD, JSONATA, ENCRYPT,
  ...), "expr", "params", "tags", "onSuccess", "onFailure", "disabled", "doc"}``.

Merging is Confluent's: properties and tags of the newer win key by key (tags of a path are joined),
``sensitive`` is joined; a rule of the newer replaces the older one of its name, the others stay in
order before the newer's. meshgate's own contract metadata is published in these terms
(``published_metadata``, ``published_rule_set``): owner and domain as properties, PII fields as tags,
each quality rule a CEL domain rule of kind CONDITION in WRITE mode, so Confluent's serializers
with the CEL rule executor refuse a record the gate would refuse. ``unique`` has no per-record form
and is not published.
"""

from __future__ import annotations

import json
from typing import Any

from registry.contract import ContractMetadata, QualityRule, domain_of
from registry.errors import InvalidDataContract

RULE_LISTS = {
    "migrationRules": ("UPGRADE", "DOWNGRADE", "UPDOWN"),
    "domainRules": ("WRITE", "READ", "WRITEREAD"),
    "encodingRules": ("WRITE", "READ", "WRITEREAD"),
}
"""Each list of a rule set and the modes its rules may have."""
RULE_KINDS = ("CONDITION", "TRANSFORM")
_RULE_TEXT_KEYS = ("name", "doc", "kind", "mode", "type", "expr", "onSuccess", "onFailure")
PII_TAG = "PII"
"""The tag a contract's PII fields carry in the published metadata."""
PUBLISHED_PROPERTIES = ("owner", "domain", "description", "primary_key", "freshness_sla", "mask_pii_at")
"""The metadata properties published from a contract's own metadata."""
PUBLISHED_RULE_PREFIX = "meshgate_"
"""Names of the rules published from a contract's quality rules start with this."""


def parse_metadata(raw: Any, where: str = "metadata") -> dict | None:
    """Confluent metadata checked for its shape; ``None`` for absent (null or ``{}``)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidDataContract(f"{where}: expected an object with properties, tags and sensitive")
    unknown = set(raw) - {"properties", "tags", "sensitive"}
    if unknown:
        raise InvalidDataContract(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in properties.items()
    ):
        raise InvalidDataContract(f"{where}.properties: expected an object of text values")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v)
        for k, v in tags.items()
    ):
        raise InvalidDataContract(f"{where}.tags: expected an object of field path -> list of tags")
    sensitive = raw.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(s, str) for s in sensitive):
        raise InvalidDataContract(f"{where}.sensitive: expected a list of property names")
    return _metadata(properties, tags, sensitive)


def parse_rule_set(raw: Any, where: str = "ruleSet") -> dict | None:
    """A Confluent rule set checked as Confluent checks it (modes per list, unique names)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidDataContract(f"{where}: expected an object with migrationRules and domainRules")
    unknown = set(raw) - {*RULE_LISTS, "enableAt"}
    if unknown:
        raise InvalidDataContract(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    result: dict[str, Any] = {}
    names: set[str] = set()
    for key, modes in RULE_LISTS.items():
        rules = raw.get(key)
        if rules is None:
            continue
        if not isinstance(rules, list):
            raise InvalidDataContract(f"{where}.{key}: expected a list of rules")
        checked = [_rule(rule, modes, f"{where}.{key}[{i}]") for i, rule in enumerate(rules)]
        for rule in checked:
            if rule["name"] in names:
                raise InvalidDataContract(f"{where}: rule name {rule['name']!r} is used twice")
            names.add(rule["name"])
        if checked:
            result[key] = checked
    if raw.get("enableAt") is not None:
        result["enableAt"] = raw["enableAt"]
    return result or None


def _rule(raw: Any, modes: tuple[str, ...], where: str) -> dict:
    if not isinstance(raw, dict):
        raise InvalidDataContract(f"{where}: expected a rule object")
    unknown = set(raw) - {*_RULE_TEXT_KEYS, "params", "tags", "disabled"}
    if unknown:
        raise InvalidDataContract(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in _RULE_TEXT_KEYS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidDataContract(f"{where}.{key}: expected text")
    if not raw.get("name"):
        raise InvalidDataContract(f"{where}.name: a rule needs a name")
    if not raw.get("type"):
        raise InvalidDataContract(f"{where}.type: a rule needs a type (CEL, CEL_FIELD, JSONATA, ...)")
    kind = raw.get("kind") or "TRANSFORM"
    if kind not in RULE_KINDS:
        raise InvalidDataContract(f"{where}.kind: {kind!r} is not one of {', '.join(RULE_KINDS)}")
    mode = raw.get("mode")
    if mode not in modes:
        raise InvalidDataContract(f"{where}.mode: {mode!r} is not one of {', '.join(modes)}")
    params = raw.get("params")
    if params is not None and (
        not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values())
    ):
        raise InvalidDataContract(f"{where}.params: expected an object of text values")
    tags = raw.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise InvalidDataContract(f"{where}.tags: expected a list of tags")
    if raw.get("disabled") is not None and not isinstance(raw["disabled"], bool):
        raise InvalidDataContract(f"{where}.disabled: expected true or false")
    return {key: value for key, value in {**raw, "kind": kind}.items() if value is not None}


def merge_metadata(old: dict | None, new: dict | None) -> dict | None:
    """Confluent's ``Metadata.mergeMetadata``: ``new`` wins key by key."""
    if old is None:
        return new
    if new is None:
        return old
    tags = {path: list(values) for path, values in (old.get("tags") or {}).items()}
    for path, values in (new.get("tags") or {}).items():
        tags[path] = sorted({*tags.get(path, ()), *values})
    return _metadata(
        {**(old.get("properties") or {}), **(new.get("properties") or {})},
        tags,
        sorted({*(old.get("sensitive") or ()), *(new.get("sensitive") or ())}),
    )


def merge_rule_sets(old: dict | None, new: dict | None) -> dict | None:
    """Confluent's ``RuleSet.mergeRuleSets``: per list, a rule of ``new`` replaces the one of its name."""
    if old is None:
        return new
    if new is None:
        return old
    result: dict[str, Any] = {}
    for key in RULE_LISTS:
        older, newer = old.get(key) or [], new.get(key) or []
        names = {rule["name"] for rule in newer}
        merged = [rule for rule in older if rule["name"] not in names] + newer
        if merged:
            result[key] = merged
    enable_at = new.get("enableAt", old.get("enableAt"))
    if enable_at is not None:
        result["enableAt"] = enable_at
    return result or None


def properties_of(metadata: dict | None) -> dict[str, str]:
    return dict((metadata or {}).get("properties") or {})


def _metadata(properties: dict, tags: dict, sensitive: list) -> dict | None:
    result: dict[str, Any] = {}
    if properties:
        result["properties"] = dict(properties)
    if tags:
        result["tags"] = {path: list(values) for path, values in tags.items()}
    if sensitive:
        result["sensitive"] = list(sensitive)
    return result or None


# ---- meshgate's contract metadata in Confluent's terms -------------------------------------------


def published_metadata(subject: str, contract: ContractMetadata) -> dict | None:
    """The contract's owner, domain and other promises as properties, its PII fields as tags."""
    properties = {
        "owner": contract.owner_domain,
        "domain": domain_of(subject) if "." in subject else "",
        "description": contract.description,
        "primary_key": ",".join(contract.primary_key),
        "freshness_sla": contract.freshness_sla,
    }
    if contract.pii_fields:
        properties["mask_pii_at"] = contract.mask_pii_at
    return _metadata(
        {k: v for k, v in properties.items() if v}, {f: [PII_TAG] for f in contract.pii_fields}, []
    )


def published_rule_set(contract: ContractMetadata) -> dict | None:
    """Each per-record quality rule as a CEL CONDITION domain rule in WRITE mode."""
    rules = [_cel_rule(rule) for rule in contract.quality_rules if rule.rule != "unique"]
    return {"domainRules": rules} if rules else None


def served(subject: str, contract: ContractMetadata, metadata: dict | None, rule_set: dict | None):
    """What a version answers as Confluent ``(metadata, ruleSet)``: the contract's published terms
    merged under what was stored (a stored property or rule of the same name wins)."""
    return (
        merge_metadata(published_metadata(subject, contract), metadata),
        merge_rule_sets(published_rule_set(contract), rule_set),
    )


def cel_expression(rule: QualityRule) -> str:
    """The CEL condition of a per-record quality rule; a null passes every rule but ``not_null``
    (as the gate applies them). Nulls are told by type: CEL has no ``double == null`` overload."""
    field = "message." + rule.field
    is_null = f"type({field}) == null_type"
    if rule.rule == "not_null":
        return f"type({field}) != null_type"
    if rule.rule == "accepted_values":
        condition = f"{field} in [{', '.join(json.dumps(v) for v in rule.values)}]"
    elif rule.rule == "min":
        condition = f"double({field}) >= {float(rule.value)!r}"
    elif rule.rule == "max":
        condition = f"double({field}) <= {float(rule.value)!r}"
    elif rule.rule == "regex":
        condition = f"{field}.matches({json.dumps(rule.value)})"
    else:
        raise ValueError(f"quality rule {rule.rule!r} has no per-record CEL form")
    return f"{is_null} || {condition}"


def published_rule_name(rule: QualityRule) -> str:
    return f"{PUBLISHED_RULE_PREFIX}{rule.rule}_{rule.field.replace('.', '_')}"


def _cel_rule(rule: QualityRule) -> dict:
    name = published_rule_name(rule)
    return {
        "name": name,
        # what Confluent's clients report when the condition fails
        "doc": f"{name}: meshgate quality rule {rule.rule} on {rule.field}",
        "kind": "CONDITION",
        "mode": "WRITE",
        "type": "CEL",
        "expr": cel_expression(rule),
        "params": {"meshgate.rule": rule.rule, "meshgate.field": rule.field},
    }
