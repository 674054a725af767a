"""The Avro schema format: parse (validated by our model and by fastavro), canonical form, compatibility.

``AvroFormat.check`` applies the Avro specification's schema-resolution rules through the pairing
walker in ``avro_walk`` and the rule table in ``avro_rules``; see docs/avro-compatibility.md.
``AvroSchema.fields()`` is the neutral field tree (``avro_fields``); ``fastavro_schema`` is what
decoders read records with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, cached_property

import fastavro

from registry.compat import MAX_SCHEMA_BYTES, Direction, ParsedSchema, SchemaFormat, Violation
from registry.compat.avro_canonical import canonical_form, fingerprint, sign_all
from registry.compat.avro_fields import record_fields
from registry.compat.avro_json import JsonDocument, read_json
from registry.compat.avro_model import (
    PRIMITIVES,
    AvroType,
    ModelBuilder,
    NamedType,
    Record,
)
from registry.compat.avro_rules import RULES, RULESETS, rules_for
from registry.compat.avro_walk import by_target, resolve
from registry.compat.fields import Field
from registry.errors import InvalidArgument, InvalidSchema, SourceLocation


class AvroSchema(ParsedSchema):
    """A parsed Avro schema: the typed model (``root``), its source and the named types it defines."""

    format_name = "AVRO"

    def __init__(
        self,
        text: str,
        source_name: str,
        root: AvroType,
        named_types: dict[str, NamedType],
        fastavro_parsed: dict,
        fastavro_references: dict | None,
    ):
        self.text = text
        self.source_name = source_name
        self.root = root
        self.named_types = named_types
        self._fastavro = fastavro_parsed
        self._fastavro_references = fastavro_references  # full name -> type, None without references

    def columns(self, message: str | None = None) -> tuple[str, ...]:
        """The top-level record's field names (an Avro schema has one top-level type)."""
        return tuple(f.name for f in self.root.fields) if isinstance(self.root, Record) else ()

    def fields(self) -> tuple[Field, ...]:
        return record_fields(self.root)

    @cached_property
    def fastavro_schema(self) -> dict:
        """fastavro's parsed form, the reader (or writer) schema records are decoded with.

        It stands alone: a type named from a reference is written out where first used, so the schema
        can also be a container file's writer schema, which has no references of its own.
        """
        if self._fastavro_references is None:
            return self._fastavro
        return fastavro.parse_schema(_inline_named(self._fastavro, self._fastavro_references, set()))

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
    label = "Avro"
    rules = RULES
    rulesets = RULESETS
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
        root, parsed = self._parse_one(text, source_name, named, fastavro_named)
        sign_all(root)
        return AvroSchema(text, source_name, root, named, parsed, fastavro_named if references else None)

    def _parse_one(
        self, text: str, source_name: str, named: dict, fastavro_named: dict
    ) -> tuple[AvroType, dict]:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_SCHEMA_BYTES:
            raise InvalidSchema(
                f"the schema is {size} bytes, over the {MAX_SCHEMA_BYTES} byte cap",
                SourceLocation(source_name),
            )
        document = read_json(text, source_name)
        root = ModelBuilder(document, named).build()
        return root, _validate_with_fastavro(document, fastavro_named)

    def check(
        self, old: ParsedSchema, new: ParsedSchema, direction: Direction, ruleset: str | None = None
    ) -> list[Violation]:
        if not isinstance(old, AvroSchema) or not isinstance(new, AvroSchema):
            raise InvalidArgument("the Avro format checks Avro schemas only")
        rules = _rules_by_target(self.select_ruleset(ruleset))
        direction = Direction(direction)
        if direction is Direction.BACKWARD:
            return resolve(new.root, old.root, direction, rules)
        return resolve(old.root, new.root, direction, rules)


@cache
def _rules_by_target(ruleset: str | None):
    """A rule set's rules grouped by target, once."""
    return by_target(rules_for(ruleset))


def _validate_with_fastavro(document: JsonDocument, fastavro_named: dict) -> dict:
    """fastavro's own validation, after ours (what it still refuses is reported at the top); returns
    fastavro's parsed form, which decoders read records with."""
    try:
        return fastavro.parse_schema(document.value, named_schemas=fastavro_named)
    except Exception as exc:  # fastavro raises assorted types (SchemaParseException, KeyError, ...)
        raise InvalidSchema(f"fastavro rejects the schema: {exc}", document.location(1)) from None


def _inline_named(schema, named: dict, seen: set):
    """``schema`` with each type it uses by name defined in place at its first use (Avro's rule)."""
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            return _inline_named(named[schema], named, seen)
        return schema
    if isinstance(schema, list):
        return [_inline_named(branch, named, seen) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value for key, value in schema.items() if not key.startswith("__")}  # fastavro's markers
    if out.get("type") in ("record", "error", "enum", "fixed") and "name" in out:
        seen.add(out["name"])
    else:
        out["type"] = _inline_named(out["type"], named, seen)
    if "fields" in out:
        out["fields"] = [{**f, "type": _inline_named(f["type"], named, seen)} for f in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = _inline_named(out[key], named, seen)
    return out
