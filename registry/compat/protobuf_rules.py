"""The Protobuf rule table: every rule with its stable id, description and categories.

``CONFLUENT`` rules (the default rule set) live in ``protobuf_rules_confluent``, buf's ``WIRE`` and
``WIRE_JSON`` rules in ``protobuf_rules_buf``; their building blocks in ``protobuf_rule_types``.
"""

from __future__ import annotations

from registry.compat import Rule
from registry.compat import protobuf_rules_buf as buf
from registry.compat import protobuf_rules_confluent as confluent
from registry.compat.protobuf_rule_types import ProtoRule

PROTO_RULES: dict[str, ProtoRule] = {spec.rule.id: spec for spec in [*confluent.RULES, *buf.RULES]}
RULES: dict[str, Rule] = {rule_id: spec.rule for rule_id, spec in PROTO_RULES.items()}
RULESETS = {None: "CONFLUENT", "WIRE": "WIRE", "WIRE_JSON": "WIRE_JSON"}


def rules_for(ruleset: str | None) -> list[ProtoRule]:
    """The rules of a rule set: ``None`` (Confluent's semantics), ``WIRE`` or ``WIRE_JSON``."""
    category = RULESETS[ruleset]
    return [spec for spec in PROTO_RULES.values() if category in spec.rule.categories]
