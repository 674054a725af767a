"""Schema formats and compatibility checking, importable without a server.

One interface (``SchemaFormat``) with a backend per format (``avro.py``, ``protobuf.py``), chosen by
name through ``get_format``. ``check_compatibility`` turns a level (Confluent Schema Registry
semantics) into reader/writer checks that the format performs.

Direction vocabulary, used everywhere:
- BACKWARD: a reader with the *new* schema reads data written with the *old* one.
- FORWARD: a reader with the *old* schema reads data written with the *new* one.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class Level(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[Direction, ...]:
        base = self.value.removesuffix("_TRANSITIVE")
        return {
            "NONE": (),
            "BACKWARD": (Direction.BACKWARD,),
            "FORWARD": (Direction.FORWARD,),
            "FULL": (Direction.BACKWARD, Direction.FORWARD),
        }[base]

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls(text.strip().upper())
        except ValueError:
            names = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown compatibility level {text!r}; expected one of {names}") from None


class Direction(enum.StrEnum):
    BACKWARD = "BACKWARD"  # new schema reads old data
    FORWARD = "FORWARD"  # old schema reads new data


@dataclass(frozen=True)
class Violation:
    """One reason why a new schema is incompatible.

    ``rule`` is a stable id from the format's rule table, ``path`` the element (``Order.amount``),
    ``line`` the 1-based line in the new schema where known, ``message`` a sentence a person can act on.
    """

    rule: str
    path: str
    message: str
    line: int | None = None
    direction: Direction | None = None

    def to_dict(self) -> dict:
        return {"rule": self.rule, "path": self.path, "message": self.message, "line": self.line}


@dataclass(frozen=True)
class Rule:
    """An entry of a format's rule table: stable id, one-line description, categories."""

    id: str
    description: str
    categories: tuple[str, ...]


@dataclass
class CompatibilityResult:
    violations: list[Violation] = field(default_factory=list)

    @property
    def compatible(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {"compatible": self.compatible, "violations": [v.to_dict() for v in self.violations]}


class ParsedSchema(ABC):
    """A schema that parsed; formats subclass it with their own model."""

    format_name: str
    text: str

    @property
    @abstractmethod
    def canonical(self) -> str:
        """The normalised text: identical schemas have identical canonical text."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """A stable hex digest of ``canonical``, used to deduplicate schemas into global ids."""


class SchemaFormat(ABC):
    """What every schema format provides: parse, normalise, fingerprint, check compatibility."""

    name: str  # "AVRO" or "PROTOBUF"
    rules: Mapping[str, Rule]  # the rule table, keyed by rule id
    rulesets: tuple[str, ...]  # the named rule sets ``check`` accepts besides the default (None)

    @abstractmethod
    def parse(
        self, text: str, references: Mapping[str, str] | None = None, source_name: str = "schema"
    ) -> ParsedSchema:
        """Parse schema text; ``references`` maps import names to their schema text.

        Raises ``registry.errors.InvalidSchema`` carrying file, line and column where known.
        """

    @abstractmethod
    def check(
        self, old: ParsedSchema, new: ParsedSchema, direction: Direction, ruleset: str | None = None
    ) -> list[Violation]:
        """Violations that make ``new`` incompatible with ``old`` in ``direction``.

        ``ruleset`` selects a stricter rule set where the format has them (Protobuf: ``WIRE``,
        ``WIRE_JSON``); ``None`` is the format's default (Confluent Schema Registry semantics).
        """


MAX_SCHEMA_BYTES = 1024 * 1024
"""Largest schema text accepted anywhere (1 MiB): bigger input is refused before parsing."""


def get_format(name: str) -> SchemaFormat:
    """The format backend for ``AVRO`` or ``PROTOBUF`` (case-insensitive)."""
    key = name.strip().upper()
    if key == "AVRO":
        from registry.compat.avro import AvroFormat

        return AvroFormat()
    if key in ("PROTOBUF", "PROTO"):
        from registry.compat.protobuf import ProtobufFormat

        return ProtobufFormat()
    if key in ("JSON", "JSONSCHEMA", "JSON_SCHEMA"):
        from registry.compat.json_schema import JsonSchemaFormat

        return JsonSchemaFormat()
    raise ValueError(f"unknown schema format {name!r}; expected AVRO, PROTOBUF or JSON")


def check_compatibility(
    schema_format: SchemaFormat,
    level: Level,
    new: ParsedSchema,
    previous: Sequence[ParsedSchema],
    ruleset: str | None = None,
) -> CompatibilityResult:
    """Check ``new`` against ``previous`` (oldest first) at ``level``.

    Non-transitive levels look at the latest previous schema only; transitive ones at all of them.
    A violation found against several versions is reported once.
    """
    if not previous or level is Level.NONE:
        return CompatibilityResult()
    olds = list(previous) if level.transitive else [previous[-1]]
    seen: set[tuple] = set()
    result = CompatibilityResult()
    for old in reversed(olds):  # newest first: the most relevant finding comes first
        for direction in level.directions:
            for violation in schema_format.check(old, new, direction, ruleset):
                key = (violation.rule, violation.path, violation.message)
                if key not in seen:
                    seen.add(key)
                    result.violations.append(violation)
    return result
