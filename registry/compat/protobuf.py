"""The Protobuf schema format: compile with protoc, pair old and new, apply the rule table.

- ``parse`` compiles ``.proto`` source in-process (``protobuf_compile``) and indexes it
  (``protobuf_schema``).
- ``check`` walks old and new side by side (``protobuf_walk``) and hands each matched pair to the
  rules of the chosen rule set (``protobuf_rules``): Confluent Schema Registry's semantics by default,
  or buf's ``WIRE`` / ``WIRE_JSON`` categories.
- Confluent's serialized form (a base64 ``FileDescriptorProto``) is translated to and from source by
  ``registry.compat.protobuf_serialized``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from registry.compat import Direction, ParsedSchema, SchemaFormat, Violation, protobuf_serialized
from registry.compat.lru import LruCache
from registry.compat.protobuf_compile import MAIN_FILE, cache_key, compile_proto
from registry.compat.protobuf_rule_types import CheckContext, ProtoRule
from registry.compat.protobuf_rules import RULES, RULESETS, rules_for
from registry.compat.protobuf_schema import ProtobufSchema
from registry.compat.protobuf_walk import (
    BUF_SCOPE,
    CONFLUENT_SCOPE,
    enum_pairs,
    enum_value_pairs,
    field_pairs,
    file_pairs,
    message_pairs,
)
from registry.errors import InvalidSchema, SourceLocation

__all__ = ["ProtobufFormat", "ProtobufSchema"]

_PARSED = LruCache(512)
"""Parsed schemas by a hash of text and references: the registry checks the same versions again and
again, and compiling plus indexing is most of a check's time. Parsed schemas are never mutated."""


class ProtobufFormat(SchemaFormat):
    name = "PROTOBUF"
    label = "Protobuf"
    rules = RULES
    rulesets = tuple(name for name in RULESETS if name is not None)
    default_ruleset_names = ("CONFLUENT", "DEFAULT")
    serialized_form = True

    def source_text(self, text: str) -> str:
        if protobuf_serialized.is_serialized(text):
            return protobuf_serialized.source_from_serialized(text)
        return text

    def to_serialized(self, text: str, references: Mapping[str, str]) -> str:
        return protobuf_serialized.serialized_from_source(text, references)

    def parse(
        self, text: str, references: Mapping[str, str] | None = None, source_name: str = "schema"
    ) -> ProtobufSchema:
        key = cache_key(text, references)
        schema = _PARSED.get(key)
        if schema is None:
            schema = ProtobufSchema(text, compile_proto(text, references, source_name), references)
            if not schema.main.proto.message_type:
                raise InvalidSchema(
                    "schema defines no message: a Protobuf contract needs at least one top-level message",
                    SourceLocation(source_name),
                )
            _PARSED.put(key, schema)
        return schema

    def check(
        self, old: ParsedSchema, new: ParsedSchema, direction: Direction, ruleset: str | None = None
    ) -> list[Violation]:
        ruleset = self.select_ruleset(ruleset)
        if not isinstance(old, ProtobufSchema) or not isinstance(new, ProtobufSchema):
            raise TypeError("ProtobufFormat.check needs two schemas parsed by ProtobufFormat.parse")
        ctx = CheckContext(old, new, direction)
        violations = []
        for spec, finding in _findings(ctx, ruleset):
            file_name = finding.file_name or MAIN_FILE
            line = new.line_of(finding.path, file_name)
            message = finding.message
            if file_name != MAIN_FILE:  # Violation.line is a line of the main file: name the import instead
                where = f", line {line}" if line else ""
                message, line = f"{message} (In the imported file {file_name}{where}.)", None
            violations.append(Violation(spec.rule.id, finding.path, message, line, direction))
        return violations


@functools.cache
def _rules_by_target(ruleset: str | None) -> dict[str, tuple[ProtoRule, ...]]:
    """A rule set's rules grouped by target, once (a transitive check applies them to many pairs)."""
    grouped: dict[str, list[ProtoRule]] = {}
    for spec in rules_for(ruleset):
        grouped.setdefault(spec.target, []).append(spec)
    return {target: tuple(specs) for target, specs in grouped.items()}


def _findings(ctx: CheckContext, ruleset: str | None):
    """Every (rule, finding): the walker pairs elements, each rule sees the pairs of its target."""
    by_target = _rules_by_target(ruleset)
    scope = CONFLUENT_SCOPE if ruleset is None else BUF_SCOPE

    def apply(target: str, pair, matched: bool = True):
        for spec in by_target.get(target, ()):
            if matched or not spec.matched_only:
                for finding in spec.check(ctx, pair) or ():
                    yield spec, finding

    for pair in file_pairs(ctx.old, ctx.new, scope):
        yield from apply("file", pair)
    for pair in message_pairs(ctx.old, ctx.new, scope):
        matched = pair.old is not None and pair.new is not None
        yield from apply("message", pair, matched)
        if matched:
            for field_pair in field_pairs(pair):
                yield from apply("field", field_pair)
    for pair in enum_pairs(ctx.old, ctx.new, scope):
        matched = pair.old is not None and pair.new is not None
        yield from apply("enum", pair, matched)
        if matched:
            for value_pair in enum_value_pairs(pair):
                yield from apply("enum_value", value_pair)
