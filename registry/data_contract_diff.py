"""Changes of Confluent data contracts between two versions: rules added, removed or changed, and metadata.

Confluent keeps rules and metadata out of schema compatibility: a changed rule never makes a new
version incompatible. So every change here is informational (``note``), except the one that weakens
what producers enforce: a domain rule of kind CONDITION in WRITE or WRITEREAD mode that is removed or
disabled is a ``warning`` (Confluent's serializers stop refusing the records it refused).
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.contract import ContractMetadata
from registry.data_contracts import (
    PII_TAG,
    PUBLISHED_PROPERTIES,
    PUBLISHED_RULE_PREFIX,
    RULE_LISTS,
    merge_metadata,
    merge_rule_sets,
    published_metadata,
    published_rule_set,
)

NOTE = "note"
WARNING = "warning"
_WRITE_MODES = ("WRITE", "WRITEREAD")


@dataclass(frozen=True)
class RuleChange:
    """One change: a stable id (``RULE_ADDED``, ...), what it concerns, a sentence, a severity."""

    rule: str
    path: str  # ruleSet.domainRules.<name>, or metadata.properties.<key>, metadata.tags.<field>
    message: str
    severity: str  # NOTE or WARNING


def rule_set_changes(old: dict | None, new: dict | None) -> list[RuleChange]:
    """Rules of ``new`` compared with ``old`` by name within each list of the rule set."""
    changes = []
    for key in RULE_LISTS:
        older = {rule["name"]: rule for rule in (old or {}).get(key) or []}
        newer = {rule["name"]: rule for rule in (new or {}).get(key) or []}
        for name, rule in older.items():
            path = f"ruleSet.{key}.{name}"
            if name not in newer:
                changes.append(_removed(rule, path))
            elif newer[name] != rule:
                changes.append(_changed(rule, newer[name], path))
        for name, rule in newer.items():
            if name not in older:
                changes.append(
                    RuleChange(
                        "RULE_ADDED",
                        f"ruleSet.{key}.{name}",
                        f"Rule {name} ({_describe(rule)}) is added to {key}.",
                        NOTE,
                    )
                )
    return changes


def metadata_changes(old: dict | None, new: dict | None) -> list[RuleChange]:
    """Properties and tags of ``new`` compared with ``old`` key by key (``sensitive`` as a set)."""
    changes = []
    for part, noun in (("properties", "Property"), ("tags", "Tags of field")):
        older, newer = (old or {}).get(part) or {}, (new or {}).get(part) or {}
        for key in sorted({*older, *newer}):
            before, after = older.get(key), newer.get(key)
            if before == after or (part == "tags" and sorted(before or ()) == sorted(after or ())):
                continue
            changes.append(
                RuleChange(
                    "METADATA_CHANGED",
                    f"metadata.{part}.{key}",
                    f"{noun} {key}: {_shown(before)} -> {_shown(after)}.",
                    NOTE,
                )
            )
    before, after = set((old or {}).get("sensitive") or ()), set((new or {}).get("sensitive") or ())
    if before != after:
        changes.append(
            RuleChange(
                "METADATA_CHANGED",
                "metadata.sensitive",
                f"Sensitive properties: {_shown(sorted(before))} -> {_shown(sorted(after))}.",
                NOTE,
            )
        )
    return changes


def served_after(
    subject: str, contract: ContractMetadata, metadata: dict | None, rule_set: dict | None
) -> tuple[dict | None, dict | None]:
    """What a new version of ``contract`` registered without metadata or rules would serve after a
    version serving ``metadata`` and ``rule_set``: the registry keeps what clients stored (rules of
    other names, other properties and tags) and publishes the new contract's own terms over it."""
    kept_properties = {
        k: v for k, v in ((metadata or {}).get("properties") or {}).items() if k not in PUBLISHED_PROPERTIES
    }
    kept_tags = {
        path: [tag for tag in tags if tag != PII_TAG]
        for path, tags in ((metadata or {}).get("tags") or {}).items()
        if any(tag != PII_TAG for tag in tags)
    }
    kept_metadata = {
        key: value
        for key, value in (
            ("properties", kept_properties),
            ("tags", kept_tags),
            ("sensitive", (metadata or {}).get("sensitive")),
        )
        if value
    }
    kept_rules = {
        key: [
            rule
            for rule in (rule_set or {}).get(key) or []
            if not rule["name"].startswith(PUBLISHED_RULE_PREFIX)
        ]
        for key in RULE_LISTS
    }
    return (
        merge_metadata(kept_metadata or None, published_metadata(subject, contract)),
        merge_rule_sets(
            published_rule_set(contract), {key: rules for key, rules in kept_rules.items() if rules} or None
        ),
    )


def _enforced_on_write(rule: dict) -> bool:
    return rule.get("kind") == "CONDITION" and rule.get("mode") in _WRITE_MODES and not rule.get("disabled")


def _removed(rule: dict, path: str) -> RuleChange:
    name = rule["name"]
    if _enforced_on_write(rule):
        message = (
            f"WRITE condition {name} ({_describe(rule)}) is removed: producers stop refusing the records "
            "it refused. Keep it, or make sure the gate or consumers no longer rely on it."
        )
        return RuleChange("WRITE_CONDITION_REMOVED", path, message, WARNING)
    return RuleChange("RULE_REMOVED", path, f"Rule {name} ({_describe(rule)}) is removed.", NOTE)


def _changed(old: dict, new: dict, path: str) -> RuleChange:
    name = old["name"]
    keys = sorted(key for key in {*old, *new} if old.get(key) != new.get(key))
    what = "; ".join(f"{key}: {_shown(old.get(key))} -> {_shown(new.get(key))}" for key in keys)
    if _enforced_on_write(old) and not _enforced_on_write(new):
        message = (
            f"WRITE condition {name} is no longer enforced on write ({what}): producers stop refusing "
            "the records it refused."
        )
        return RuleChange("WRITE_CONDITION_REMOVED", path, message, WARNING)
    return RuleChange("RULE_CHANGED", path, f"Rule {name} changed: {what}.", NOTE)


def _describe(rule: dict) -> str:
    expression = f" {rule['expr']}" if rule.get("expr") else ""
    return f"{rule.get('kind', 'TRANSFORM')} {rule.get('mode')} {rule.get('type')}{expression}"


def _shown(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
