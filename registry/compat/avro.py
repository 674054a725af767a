"""The Avro schema format: parse (validated by our model and by fastavro), canonical form, compatibility.

``AvroFormat.check`` applies the Avro specification's schema-resolution rules through the pairing
walker in ``avro_walk`` and the rule table in ``avro_rules``; see docs/avro-compatibility.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property

import fastavro

from registry.compat import MAX_SCHEMA_BYTES, Direction, ParsedSchema, SchemaFormat, Violation
from registry.compat.avro_canonical import canonical_form, fingerprint, sign_all
from registry.compat.avro_json import JsonDocument, read_json
from registry.compat.avro_model import (
    PRIMITIVES,
    AvroType,
    ModelBuilder,
    NamedType,
)
from registry.compat.avro_rules import RULES
from registry.compat.avro_walk import resolve
from registry.errors import InvalidArgument, InvalidSchema, SourceLocation


class AvroSchema(ParsedSchema):
    """A parsed Avro schema: the typed model (``root``), its source and the named types it defines."""

    format_name = "AVRO"

    def __init__(self, text: str, source_name: str, root: AvroType, named_types: dict[str, NamedType]):
        self.text = text
        self.source_name = source_name
        self.root = root
        self.named_types = named_types

    @cached_property
    def parsing_canonical_form(self) -> str:
        """Avro Parsing Canonical Form (specification, "Parsing Canonical Form for Schemas").

        It drops defaults, aliases, logical types and docs, so two schemas that resolve differently can
        share it: fine for "same wire layout" questions, wrong for deduplicating registered schemas.
        """
        return canonical_form(self.root)

    @cached_property
    def canonical(self) -> str:
        """The registry's normalised text: the schema JSON with sorted keys and no whitespace.

        Everything that changes what a reader does or what a contract says (defaults, aliases, logical
        types, enum defaults, order, docs) is kept; only layout, attribute order and primitive
        shorthand (``{"type": "int"}`` is ``"int"``) are normalised away.
        """
        return json.dumps(
            _normalised(json.loads(self.text)), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    @cached_property
    def fingerprint(self) -> str:
        """Hex SHA-256 of ``canonical``: the key under which identical schemas share a global id."""
        return fingerprint(self.canonical)


def _normalised(node):
    """``{"type": "int"}`` with no other attribute is the primitive ``"int"``; recurse everywhere else."""
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in PRIMITIVES:
            return node["type"]
        return {key: _normalised(value) if key != "default" else value for key, value in node.items()}
    if isinstance(node, list):
        return [_normalised(item) for item in node]
    return node


class AvroFormat(SchemaFormat):
    """Avro: schema resolution per the specification; rule table in ``rules``."""

    name = "AVRO"
    rules = RULES
    rulesets = ("RESOLUTION", "LOGICAL")
    """``check`` runs every rule by default; a ruleset names a category to keep only its rules
    (``RESOLUTION``: just the specification's schema resolution)."""

    def parse(
        self, text: str, references: Mapping[str, str] | None = None, source_name: str = "schema"
    ) -> AvroSchema:
        """Parse ``text``; ``references`` maps names to other schemas' texts whose named types it uses.

        References are parsed in the order given, each seeing the named types of those before it.
        """
        named: dict[str, NamedType] = {}
        fastavro_named: dict = {}
        for reference_name, reference_text in (references or {}).items():
            self._parse_one(reference_text, reference_name, named, fastavro_named)
        root = self._parse_one(text, source_name, named, fastavro_named)
        sign_all(root)
        return AvroSchema(text, source_name, root, named)

    def _parse_one(self, text: str, source_name: str, named: dict, fastavro_named: dict) -> AvroType:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_SCHEMA_BYTES:
            raise InvalidSchema(
                f"the schema is {size} bytes, over the {MAX_SCHEMA_BYTES} byte cap",
                SourceLocation(source_name),
            )
        document = read_json(text, source_name)
        root = ModelBuilder(document, named).build()
        _validate_with_fastavro(document, fastavro_named)
        return root

    def check(
        self, old: ParsedSchema, new: ParsedSchema, direction: Direction, ruleset: str | None = None
    ) -> list[Violation]:
        if not isinstance(old, AvroSchema) or not isinstance(new, AvroSchema):
            raise InvalidArgument("the Avro format checks Avro schemas only")
        enabled = self._enabled_rules(ruleset)
        direction = Direction(direction)
        if direction is Direction.BACKWARD:
            return resolve(new.root, old.root, direction, enabled)
        return resolve(old.root, new.root, direction, enabled)

    def _enabled_rules(self, ruleset: str | None) -> set[str]:
        if ruleset is None:
            return set(RULES)
        category = ruleset.strip().upper()
        if category not in self.rulesets:
            raise InvalidArgument(
                f"unknown Avro ruleset {ruleset!r}; expected one of {', '.join(self.rulesets)} (or none for all rules)"
            )
        return {rule.id for rule in RULES.values() if category in rule.categories}


def _validate_with_fastavro(document: JsonDocument, fastavro_named: dict) -> None:
    """fastavro's own validation, after ours: anything it still refuses is reported at the top."""
    try:
        fastavro.parse_schema(document.value, named_schemas=fastavro_named)
    except Exception as exc:  # fastavro raises assorted types (SchemaParseException, KeyError, ...)
        raise InvalidSchema(f"fastavro rejects the schema: {exc}", document.location(1)) from None
