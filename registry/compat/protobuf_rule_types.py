"""What Protobuf rules are made of: the context a check sees, its findings, and a rule list.

A check receives one matched pair from the walker (``protobuf_walk``) and yields ``Finding``s; the
format turns them into ``Violation``s with the line in the new file. ``RuleList.rule`` registers a
check with its stable id, one-line description and categories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from registry.compat import Direction, Rule
from registry.compat.protobuf_schema import ProtobufSchema
from registry.compat.protobuf_walk import Pair

CONFLUENT = ("CONFLUENT",)
WIRE_AND_JSON = ("WIRE", "WIRE_JSON")
WIRE_ONLY = ("WIRE",)
JSON_ONLY = ("WIRE_JSON",)


@dataclass(frozen=True)
class Finding:
    path: str  # element path relative to the package, e.g. "UserSignedUp.user_id"
    message: str
    file_name: str | None = None  # the file of the element in the new schema (None: the main file)


@dataclass(frozen=True)
class CheckContext:
    old: ProtobufSchema
    new: ProtobufSchema
    direction: Direction
    backward: bool = field(init=False)  # every rule asks, for every pair

    def __post_init__(self) -> None:
        object.__setattr__(self, "backward", self.direction is Direction.BACKWARD)

    def writer(self, pair: Pair):
        """Confluent compares a writer (original) with a reader (update): BACKWARD old->new, FORWARD new->old."""
        return pair.old if self.backward else pair.new

    def reader(self, pair: Pair):
        return pair.new if self.backward else pair.old

    @property
    def writer_label(self) -> str:
        return "old" if self.backward else "new"

    @property
    def reader_label(self) -> str:
        return "new" if self.backward else "old"


@dataclass(frozen=True)
class ProtoRule:
    rule: Rule
    target: str  # "file", "message", "field", "enum", "enum_value"
    check: Callable[[CheckContext, object], Iterable[Finding]]
    matched_only: bool = True  # False: also receives message/enum pairs with one side missing


class RuleList(list[ProtoRule]):
    """The rules of one module, in declaration order (the order of their findings)."""

    def rule(
        self,
        rule_id: str,
        description: str,
        categories: tuple[str, ...],
        target: str,
        matched_only: bool = True,
    ):
        def register(check):
            self.append(ProtoRule(Rule(rule_id, description, categories), target, check, matched_only))
            return check

        return register
