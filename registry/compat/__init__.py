"""Schema formats and compatibility checking, importable without a server.

One interface (``SchemaFormat``) with a backend per format (``avro.py``, ``protobuf.py``), chosen by
name through ``get_format``; ``FORMATS`` lists the names. A format parses text into a
``ParsedSchema`` (canonical form, fingerprint, columns, the neutral field tree of ``fields.py``) and
checks two parsed schemas with its rule table and named rule sets. ``check_compatibility`` turns a
level (Confluent Schema Registry semantics) into reader/writer checks that the format performs.

A new format is one module with a ``SchemaFormat`` subclass and one entry in ``_BACKENDS``.

Direction vocabulary, used everywhere:
- BACKWARD: a reader with the *new* schema reads data written with the *old* one.
- FORWARD: a reader with the *old* schema reads data written with the *new* one.
"""

from __future__ import annotations

import enum
import importlib
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from registry.compat.fields import Field
from registry.errors import InvalidArgument


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
    ``field_path`` is the dotted property path (``customer.email``; "" for the root) where ``path``
    is not dotted (JSON Schema's ``path`` is a JSON pointer, as Confluent reports it); None where
    ``path`` is the dotted path already. ``element`` reads either.
    """

    rule: str
    path: str
    message: str
    line: int | None = None
    direction: Direction | None = None
    field_path: str | None = None

    @property
    def element(self) -> str:
        """The element as a dotted path from the root (``Order.items[].sku``), whatever the format:
        ``path``, or ``field_path`` under ``$`` (JSONPath's root; JSON Schema names no root type)."""
        if self.field_path is None:
            return self.path
        return ".".join(part for part in ("$", self.field_path) if part)

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
    against: list[int] = field(default_factory=list)
    """Per violation, the index in ``previous`` of the newest schema it was found against."""

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

    @property
    def check_key(self) -> Hashable | None:
        """Equal keys promise equal violations as the old schema of any check, so a transitive check
        checks such versions once; None (the default): no promise beyond the object itself."""
        return None

    @abstractmethod
    def columns(self, message: str | None = None) -> tuple[str, ...]:
        """Names of the top-level fields, in schema order: the columns of the contract's table.

        ``message`` picks, by short name, the record or message to list where a schema defines
        several; the main one (see ``fields``) when None or not defined. Never raises: a main type
        that is not a record has no columns.
        """

    @abstractmethod
    def fields(self) -> tuple[Field, ...]:
        """The neutral field tree (``registry.compat.fields``) of the main record or message.

        The hook every Arrow/Iceberg mapping reads. Raises ``InvalidSchema`` where no finite tree
        exists: a recursive type, or a main type that is not a record.
        """


class UnknownRuleset(InvalidArgument):
    """A rule set the format does not have; carries the format and the rule sets it has."""

    def __init__(self, format_name: str, label: str, ruleset: str, rulesets: tuple[str, ...]):
        self.format_name = format_name
        self.ruleset = ruleset
        self.rulesets = rulesets
        expected = ", ".join(rulesets) if rulesets else "no named rule sets"
        super().__init__(
            f"unknown {label} ruleset {ruleset!r}; {format_name} has {expected} (or none for its default)"
        )


class SchemaFormat(ABC):
    """What every schema format provides: parse, normalise, fingerprint, check compatibility."""

    name: str  # the registry's format name: "AVRO", "PROTOBUF"
    label: str  # how sentences name the format: "Avro", "Protobuf"
    rules: Mapping[str, Rule]  # the rule table, keyed by rule id
    rulesets: tuple[str, ...]  # the named rule sets ``check`` accepts besides the default (None)
    default_ruleset_names: tuple[str, ...] = ()  # other spellings of the default rule set
    serialized_form: bool = False
    """Whether Confluent's clients also exchange this format's schemas in a serialized form (Protobuf:
    a base64 ``FileDescriptorProto``): serializers may register it, deserializers ask for it with
    ``?format=serialized``. ``source_text`` and ``to_serialized`` translate at the REST edge."""

    def source_text(self, text: str) -> str:
        """``text`` as a client sent it, in the form the registry stores and checks (the serialized
        form turned into source); unchanged for a format without one."""
        return text

    def to_serialized(self, text: str, references: Mapping[str, str]) -> str:
        """The serialized form of stored ``text`` (``references``: name -> text, transitively);
        only for a format with ``serialized_form``."""
        raise NotImplementedError(f"{self.label} schemas have no serialized form")

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

        ``ruleset`` is None (the format's default: Confluent Schema Registry semantics) or one of
        ``rulesets``; anything else raises ``UnknownRuleset``.
        """

    def select_ruleset(self, ruleset: str | None) -> str | None:
        """``ruleset`` as ``check`` runs it: None for the default, else one of ``rulesets``.

        Case and surrounding space are ignored; a rule set the format lacks raises ``UnknownRuleset``.
        """
        if ruleset is None:
            return None
        key = ruleset.strip().upper()
        if not key or key in self.default_ruleset_names:
            return None
        if key not in self.rulesets:
            raise UnknownRuleset(self.name, self.label, ruleset, self.rulesets)
        return key


MAX_SCHEMA_BYTES = 1024 * 1024
"""Largest schema text accepted anywhere (1 MiB): bigger input is refused before parsing."""

_BACKENDS = {
    "AVRO": ("registry.compat.avro", "AvroFormat"),
    "PROTOBUF": ("registry.compat.protobuf", "ProtobufFormat"),
    "JSON": ("registry.compat.json_schema", "JsonSchemaFormat"),
}
"""Format name -> (module, class). Imported on first use: Protobuf loads protoc, Avro fastavro."""

_SPELLINGS = {"PROTO": "PROTOBUF", "JSONSCHEMA": "JSON", "JSON_SCHEMA": "JSON"}

FORMATS: tuple[str, ...] = tuple(_BACKENDS)
"""The registry's format names, in the order messages list them."""

DEFAULT_FORMAT = "AVRO"
"""The format of a schema whose request names none (Confluent's default ``schemaType``)."""


def get_format(name: str) -> SchemaFormat:
    """The format backend for a name of ``FORMATS`` (case-insensitive); one instance per format."""
    key = name.strip().upper()
    key = _SPELLINGS.get(key, key)
    if key not in _BACKENDS:
        raise ValueError(f"unknown schema format {name!r}; expected one of {', '.join(FORMATS)}")
    return _backend(key)


@cache
def _backend(key: str) -> SchemaFormat:
    module, class_name = _BACKENDS[key]
    return getattr(importlib.import_module(module), class_name)()


def check_compatibility(
    schema_format: SchemaFormat,
    level: Level,
    new: ParsedSchema,
    previous: Sequence[ParsedSchema],
    ruleset: str | None = None,
) -> CompatibilityResult:
    """Check ``new`` against ``previous`` (oldest first) at ``level``.

    Non-transitive levels look at the latest previous schema only; transitive ones at all of them,
    those with equal ``check_key``s once (the newest of them). A violation found against several
    versions is reported once.
    """
    if not previous or level is Level.NONE:
        return CompatibilityResult()
    indexes = _distinct(previous) if level.transitive else [len(previous) - 1]
    seen: set[tuple] = set()
    result = CompatibilityResult()
    for index in reversed(indexes):  # newest first: the most relevant finding comes first
        for direction in level.directions:
            for violation in schema_format.check(previous[index], new, direction, ruleset):
                key = (violation.rule, violation.path, violation.message)
                if key not in seen:
                    seen.add(key)
                    result.violations.append(violation)
                    result.against.append(index)
    return result


def _distinct(previous: Sequence[ParsedSchema]) -> list[int]:
    """The indexes of ``previous`` (oldest first) without the older ones of an equal ``check_key``."""
    seen: set[Hashable] = set()
    newest_first = []
    for index in range(len(previous) - 1, -1, -1):
        key = previous[index].check_key
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        newest_first.append(index)
    return newest_first[::-1]
