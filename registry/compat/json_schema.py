"""The JSON Schema format (Confluent's ``schemaType: JSON``): parse, canonical form, compatibility.

- ``parse`` reads the schema and its references (``json_schema_parse``: dialect by ``$schema``,
  draft-07 by default; metaschema validation; every ``$ref`` resolved) into a node tree
  (``json_schema_model``).
- ``check`` walks writer and reader side by side (``json_schema_walk``) and applies the rule table
  (``json_schema_rules``): Confluent Schema Registry's JSON Schema semantics. BACKWARD: the new schema
  reads what the old one wrote; FORWARD: the old reads the new. A violation's ``path`` is the JSON
  pointer Confluent reports, its ``field_path`` the dotted property path consumers name.
- ``fields`` maps the schema to a neutral typed field tree (``json_schema_fields``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from functools import cached_property

from registry.compat import Direction, ParsedSchema, SchemaFormat, Violation
from registry.compat.fields import Field
from registry.compat.json_schema_fields import root_fields
from registry.compat.json_schema_model import ModelBuilder, SchemaNode, value_key
from registry.compat.json_schema_parse import DocumentSet
from registry.compat.json_schema_rule_types import Difference, Labels
from registry.compat.json_schema_rules import RULES as RULE_LIST
from registry.compat.json_schema_walk import Walker
from registry.errors import InvalidArgument

__all__ = ["JsonSchema", "JsonSchemaFormat"]

_RULES_BY_TARGET = RULE_LIST.by_target()
_BREAKING_BY_TARGET = {
    target: [spec for spec in specs if not spec.compatible] for target, specs in _RULES_BY_TARGET.items()
}
"""The rules ``check`` runs: a compatible difference never decides a walk (``Walker._sub`` asks
whether every difference is compatible), so leaving those rules out changes no violation."""


class JsonSchema(ParsedSchema):
    """A parsed JSON Schema: its documents, the node tree of the main one, its dialect."""

    format_name = "JSON"

    def __init__(self, text: str, documents: DocumentSet, root: SchemaNode):
        self.text = text
        self.documents = documents
        self.root = root

    @property
    def dialect(self) -> str:
        return self.documents.main.dialect.name

    @cached_property
    def canonical(self) -> str:
        """The schema JSON with sorted keys and no whitespace (numbers like ``1.0`` written ``1``).

        Like Avro's and Protobuf's, it is the main schema's own text normalised; the references a
        registration names are part of the registry's identity of a schema beside it.
        """
        return value_key(self.documents.main.value)

    @cached_property
    def fingerprint(self) -> str:
        """Hex SHA-256 of ``canonical``."""
        return hashlib.sha256(self.canonical.encode("utf-8")).hexdigest()

    @cached_property
    def check_key(self) -> str | None:
        """The canonical text without the annotations only compatible rules read (``title``,
        ``description``, ``$comment``, ``examples`` of every schema node): versions that differ only
        there give the same violations. None for a schema with references, a ``$ref`` into an
        annotation, or ``allOf``/``anyOf``/``oneOf`` (whose branches count once per distinct text,
        annotations included: there they can change a verdict)."""
        main = self.documents.main
        if self.documents.references or any(node.combinators for node in main.nodes.values()):
            return None
        schema_values = {id(node.value) for node in main.nodes.values() if isinstance(node.value, dict)}
        for node in main.nodes.values():
            for keyword in _REF_KEYWORDS:
                ref = node.get(keyword)
                if isinstance(ref, str) and any(f"/{word}" in ref for word in _ANNOTATIONS):
                    return None
        return "check:" + value_key(_without_annotations(main.value, schema_values))

    def fields(self) -> tuple[Field, ...]:
        """The neutral field tree of the top-level object (see ``json_schema_fields``)."""
        return root_fields(self.root)

    def columns(self, message: str | None = None) -> tuple[str, ...]:
        """The top-level properties, in schema order (``message`` names no type in JSON Schema)."""
        return tuple(field.name for field in root_fields(self.root))


_ANNOTATIONS = ("title", "description", "$comment", "examples")
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def _without_annotations(value, schema_values: set[int]):
    """``value`` with ``_ANNOTATIONS`` dropped from the dicts that are schema nodes (by id), so a
    property named ``description`` stays."""
    if isinstance(value, dict):
        drop = _ANNOTATIONS if id(value) in schema_values else ()
        return {k: _without_annotations(v, schema_values) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_without_annotations(item, schema_values) for item in value]
    return value


@functools.lru_cache(maxsize=512)
def _parse(text: str, references: tuple[tuple[str, str], ...], source_name: str) -> JsonSchema:
    """Parsed schemas by text, references and name: the registry checks the same versions again and
    again, and metaschema validation is most of a parse. Parsed schemas are never mutated."""
    documents = DocumentSet.read(text, dict(references), source_name)
    return JsonSchema(text, documents, ModelBuilder(documents).build())


class JsonSchemaFormat(SchemaFormat):
    """JSON Schema, draft-04 to 2020-12, checked with Confluent Schema Registry's rules."""

    name = "JSON"
    label = "JSON Schema"
    rules = {spec.rule.id: spec.rule for spec in RULE_LIST}
    rulesets = ()
    default_ruleset_names = ("CONFLUENT", "DEFAULT")
    compatible_rules = frozenset(spec.rule.id for spec in RULE_LIST if spec.compatible)
    """Rule ids whose difference a reader tolerates; ``check`` reports only the others."""

    def parse(
        self, text: str, references: Mapping[str, str] | None = None, source_name: str = "schema"
    ) -> JsonSchema:
        """Parse ``text``; ``references`` maps a reference's name (what ``$ref`` says, e.g.
        ``money.json`` or a URL) to that schema's text."""
        return _parse(text, tuple(sorted((references or {}).items())), source_name)

    def differences(self, old: ParsedSchema, new: ParsedSchema, direction: Direction) -> list[Difference]:
        """Every difference, compatible or not, between ``old`` and ``new`` in ``direction``."""
        return _walk(old, new, Direction(direction), _RULES_BY_TARGET)

    def check(
        self, old: ParsedSchema, new: ParsedSchema, direction: Direction, ruleset: str | None = None
    ) -> list[Violation]:
        self.select_ruleset(ruleset)
        direction = Direction(direction)
        return [
            Violation(d.rule, d.path, d.message, d.line, direction, field_path=d.field_path)
            for d in _walk(old, new, direction, _BREAKING_BY_TARGET)
        ]


def _walk(old: ParsedSchema, new: ParsedSchema, direction: Direction, rules: dict) -> list[Difference]:
    if not isinstance(old, JsonSchema) or not isinstance(new, JsonSchema):
        raise InvalidArgument("the JSON Schema format checks JSON Schemas only")
    if direction is Direction.BACKWARD:
        walker = Walker(rules, Labels(writer="old", reader="new"), reader_is_new=True)
        return walker.run(old.root, new.root)
    walker = Walker(rules, Labels(writer="new", reader="old"), reader_is_new=False)
    return walker.run(new.root, old.root)
