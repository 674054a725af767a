"""What JSON Schema rules are made of: a finding, a difference, and the rule list that registers them.

Confluent Schema Registry compares a *writer* schema (``original``) with a *reader* schema
(``update``) and classifies every difference it finds as compatible or not; we do the same. A rule is
a small function that receives one matched pair from the walker (``json_schema_walk``) and returns a
``Finding`` when its difference is there. ``RuleList.rule`` registers it with its stable id (the
Confluent ``Difference.Type`` name where there is one), the pair kind it looks at, whether the
difference is compatible for a reader reading a writer's data, and, for incompatible ones, the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.compat import Rule

CONFLUENT = ("CONFLUENT",)
MESHGATE = ("MESHGATE",)  # a rule Confluent does not have (its id is ours)


@dataclass(frozen=True)
class Finding:
    """What a rule saw: a sentence naming the old and new values; ``keyword`` extends the path."""

    detail: str
    keyword: str | None = None


@dataclass(frozen=True)
class Difference:
    """One difference between writer and reader, located in the new schema.

    ``path`` is a JSON pointer (``#/properties/amount/maxLength``) as Confluent reports it,
    ``field_path`` the dotted property path a consumer names (``amount``), ``line`` the line in the
    new schema where known. ``compatible``: whether the reader still reads the writer's data.
    """

    rule: str
    path: str
    field_path: str
    line: int | None
    message: str
    compatible: bool


@dataclass(frozen=True)
class Labels:
    """Which schema is the writer and which the reader, for messages ("old" / "new")."""

    writer: str
    reader: str


@dataclass(frozen=True)
class JsonRule:
    rule: Rule
    target: str  # the pair kind: "schema", "string", "number", "object", "array", "property", ...
    compatible: bool
    fix: str
    check: Callable[..., Finding | None]
    keywords: tuple[str, ...] = ()
    """For a rule on a ``SchemaPair``: it finds nothing unless one side has one of these keywords
    (the walker skips it then; empty: always run)."""


class RuleList(list[JsonRule]):
    """The rules in declaration order (the order of their findings at one pair)."""

    def rule(
        self,
        rule_id: str,
        description: str,
        target: str,
        compatible: bool,
        fix: str = "",
        categories: tuple[str, ...] = CONFLUENT,
        keywords: tuple[str, ...] = (),
    ):
        if not compatible and not fix:
            raise ValueError(f"incompatible rule {rule_id} needs a suggested fix")

        def register(check):
            rule = Rule(rule_id, description, categories)
            self.append(JsonRule(rule, target, compatible, fix, check, keywords))
            return check

        return register

    def by_target(self) -> dict[str, list[JsonRule]]:
        table: dict[str, list[JsonRule]] = {}
        for spec in self:
            table.setdefault(spec.target, []).append(spec)
        return table
