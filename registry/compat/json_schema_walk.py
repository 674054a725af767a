"""The pairing walker: writer and reader JSON Schemas side by side, each matched pair handed to rules.

Rules never walk (buf's model, as for Protobuf): the walker pairs schema nodes (following ``$ref``s,
with a guard against recursive ones), properties by name, tuple items by position, dependencies by
property, ``not`` and ``allOf``/``anyOf``/``oneOf`` lists, and does the comparisons a rule needs the
answer of: whether a property a side lacks is covered by the other side's partially open content
model, which branches of a union the other side fits (Confluent's maximum matching of compatible
subschemas), whether ``not`` still excludes what it did. Every rule of a pair kind sees every pair
of that kind.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from registry.compat.json_schema_model import SchemaNode
from registry.compat.json_schema_parse import pointer
from registry.compat.json_schema_rule_types import Difference, JsonRule, Labels
from registry.compat.lru import shared

SUMS = ("anyOf", "oneOf")


@dataclass(frozen=True)
class At:
    """Where the walk is: the JSON pointer (Confluent's path), the dotted field path, and the node of
    the new schema here (for lines; the nearest enclosing one when the new schema lacks it)."""

    path: str
    field_path: str
    new: SchemaNode | None

    def child(self, *keys: str | int, field: str | None = None, new: SchemaNode | None = None) -> At:
        field_path = self.field_path if field is None else ".".join(p for p in (self.field_path, field) if p)
        return At(pointer(self.path, *keys), field_path, new or self.new)

    def line(self, keyword: str | None) -> int | None:
        if self.new is None:
            return None
        return self.new.line_of(keyword) if keyword else self.new.line


@dataclass(frozen=True)
class SchemaPair:
    """The same place in the writer and the reader schema (after ``$ref``s), both present."""

    writer: SchemaNode
    reader: SchemaNode
    at: At


@dataclass(frozen=True)
class PropertyPair:
    """A property by name; one side is None when only the other declares it. ``covered`` is whether
    the other side's partially open content model accepts the property (None: not asked)."""

    name: str
    writer: SchemaNode | None
    reader: SchemaNode | None
    parent: SchemaPair
    writer_model: str  # "open", "partial" or "closed"
    reader_model: str
    covered: bool | None
    at: At


@dataclass(frozen=True)
class ItemPair:
    """A tuple position (``prefixItems`` / ``items`` array), like ``PropertyPair`` for arrays."""

    index: int
    writer: SchemaNode | None
    reader: SchemaNode | None
    writer_model: str
    reader_model: str
    covered: bool | None
    at: At


@dataclass(frozen=True)
class SlotPair:
    """A keyword holding one subschema that one side lacks (the all-items ``items``)."""

    keyword: str
    writer: SchemaNode | None
    reader: SchemaNode | None
    at: At


@dataclass(frozen=True)
class DependencyPair:
    """``dependentRequired`` (names) or ``dependentSchemas`` (schema present) for one property."""

    name: str
    writer_names: frozenset[str] | None
    reader_names: frozenset[str] | None
    writer_schema: SchemaNode | None
    reader_schema: SchemaNode | None
    at: At


@dataclass(frozen=True)
class NotPair:
    """``not`` on either side; ``still_excludes``: the reader's ``not`` excludes no more than the
    writer's did (None when one side has no ``not``)."""

    writer: SchemaNode | None
    reader: SchemaNode | None
    still_excludes: bool | None
    at: At


@dataclass(frozen=True)
class CombinedPair:
    """``allOf``/``anyOf``/``oneOf`` (or a multi-type ``type``) on one or both sides.

    ``shape`` is "both", "reader_only" or "writer_only". For "both", ``matched`` is the size of the
    maximum matching of compatible (writer branch, reader branch) pairs; for one-sided shapes it is
    how many branches of that side fit the whole other side.
    """

    shape: str
    writer_criterion: str | None
    reader_criterion: str | None
    writer_size: int
    reader_size: int
    matched: int
    at: At


def type_relation(writer: frozenset[str] | None, reader: frozenset[str] | None) -> str:
    """How the reader's types relate to the writer's: "same", "extended" (``integer`` to ``number``),
    "narrowed", "sum_extended", "sum_narrowed", "subschemas_changed" (both unions, neither within the
    other) or "changed". A reader without a type constraint is "same"."""
    if reader is None or writer == reader:
        return "same"
    if writer is None:
        return "changed"

    def within(a: frozenset[str], b: frozenset[str]) -> bool:
        return all(t in b or (t == "integer" and "number" in b) for t in a)

    single = len(writer) == 1 and len(reader) == 1
    if within(writer, reader):
        return "extended" if single else "sum_extended"
    if within(reader, writer):
        return "narrowed" if single else "sum_narrowed"
    return "subschemas_changed" if len(writer) > 1 and len(reader) > 1 else "changed"


def criteria_change(writer: str, reader: str, writer_size: int, reader_size: int) -> str | None:
    """Confluent's criterion change: None (same), "extended" (allOf/oneOf to anyOf, a singleton to
    oneOf, singleton to singleton allOf) or "changed"."""
    if writer == reader:
        return None
    if reader == "anyOf":
        return "extended"
    if reader == "oneOf":
        return "extended" if writer_size == 1 else "changed"
    if reader == "allOf" and writer_size == 1 and reader_size == 1:
        return "extended"
    return "changed"


@dataclass(frozen=True)
class ContentModel:
    """How an object (or array) treats members it does not declare: Confluent's open, partially
    open (a schema for them) or closed content model."""

    kind: str
    node: SchemaNode

    def schema_for(self, name: str | None) -> SchemaNode | None:
        """The schema an undeclared property (``name``) or item (None) must match when partial."""
        if self.kind != "partial":
            return None
        if name is not None:
            for pattern, schema in self.node.pattern_properties.items():
                if re.search(pattern, name):
                    return schema
        return _extra_schema(self.node, name is None)


def _extra(node: SchemaNode, items: bool) -> tuple[SchemaNode | None, SchemaNode | None]:
    additional = node.additional_items if items else node.child("additionalProperties")
    unevaluated = node.child("unevaluatedItems" if items else "unevaluatedProperties")
    return additional, unevaluated


def _extra_schema(node: SchemaNode, items: bool) -> SchemaNode | None:
    additional, unevaluated = _extra(node, items)
    if additional is not None:
        return None if additional.is_empty or additional.is_false else additional
    if unevaluated is not None and not (unevaluated.is_empty or unevaluated.is_false):
        return unevaluated
    return None


def content_model(node: SchemaNode, items: bool = False) -> ContentModel:
    if (not items and node.pattern_properties) or _extra_schema(node, items) is not None:
        return ContentModel("partial", node)
    additional, unevaluated = _extra(node, items)
    closed = (additional is not None and additional.is_false) or (
        additional is None and unevaluated is not None and unevaluated.is_false
    )
    return ContentModel("closed" if closed else "open", node)


class Walker:
    """One comparison of a writer with a reader schema; ``run`` returns every difference found."""

    def __init__(self, rules: dict[str, list[JsonRule]], labels: Labels, reader_is_new: bool):
        self.rules = rules
        self.labels = labels
        self.reader_is_new = reader_is_new
        self.found: list[Difference] = []
        self._main = None
        self._active: set[tuple[int, int]] = set()

    def run(self, writer: SchemaNode, reader: SchemaNode) -> list[Difference]:
        new = reader if self.reader_is_new else writer
        self._main = new.document
        self.compare(writer, reader, At("#", "", new))
        return self.found

    # -- plumbing -------------------------------------------------------------------------------

    def _new(self, writer: SchemaNode | None, reader: SchemaNode | None) -> SchemaNode | None:
        """The new schema's node, for lines; None inside a referenced schema, whose lines are not
        lines of the new schema (the line stays that of the ``$ref``)."""
        node = self._side(writer, reader)
        return node if node is not None and node.document is self._main else None

    def _side(self, writer, reader):
        """The new schema's side of a pair (the reader for BACKWARD, the writer for FORWARD)."""
        return reader if self.reader_is_new else writer

    def _apply(self, target: str, pair, at: At) -> None:
        keyed = isinstance(pair, SchemaPair)
        if keyed:
            writer, reader = pair.writer.keywords, pair.reader.keywords
        for spec in self.rules.get(target, ()):
            if keyed and spec.keywords:
                for keyword in spec.keywords:
                    if keyword in writer or keyword in reader:
                        break
                else:
                    continue  # a rule of keywords neither side has finds nothing
            finding = spec.check(pair, self.labels)
            if finding is None:
                continue
            path = pointer(at.path, finding.keyword) if finding.keyword else at.path
            where = f" (field {at.field_path})" if at.field_path else ""
            message = f"{finding.detail}{where}."
            if not spec.compatible:
                message += f" {spec.fix}"
            self.found.append(
                Difference(
                    spec.rule.id, path, at.field_path, at.line(finding.keyword), message, spec.compatible
                )
            )

    def _sub(self, writer: SchemaNode, reader: SchemaNode, at: At) -> tuple[list[Difference], bool]:
        """Compare a pair on the side: its differences and whether they are all compatible."""
        outer, self.found = self.found, []
        try:
            self.compare(writer, reader, at)
            return self.found, all(difference.compatible for difference in self.found)
        finally:
            self.found = outer

    # -- schemas --------------------------------------------------------------------------------

    def compare(self, writer: SchemaNode, reader: SchemaNode, at: At) -> None:
        writer, reader = writer.resolved(), reader.resolved()
        if writer is reader or (
            not writer.has_ref and not reader.has_ref and writer.canonical == reader.canonical
        ):
            return
        key = (id(writer), id(reader))
        if key in self._active:  # a recursive $ref met again: assume compatible, as Confluent does
            return
        self._active.add(key)
        try:
            self._compare(writer, reader, At(at.path, at.field_path, self._new(writer, reader) or at.new))
        finally:
            self._active.discard(key)

    def _compare(self, writer: SchemaNode, reader: SchemaNode, at: At) -> None:
        if writer.is_false or reader.is_empty:
            return
        pair = SchemaPair(writer, reader, at)
        if reader.is_pure_combination and not writer.combinators:
            self._reader_only(writer, *reader.combinators[0], at)
            return
        if writer.is_pure_combination and not reader.combinators:
            self._writer_only(reader, *writer.combinators[0], at)
            return
        self._apply("schema", pair, at)
        relation = type_relation(writer.types, reader.types)
        if reader.is_false or relation == "changed":
            return
        if relation.startswith("sum_") or relation == "subschemas_changed":
            self._type_union(writer.types, reader.types, at)
        for family, types in (
            ("string", {"string"}),
            ("number", {"number", "integer"}),
            ("object", {"object"}),
            ("array", {"array"}),
        ):
            if _admits(writer, types) and _admits(reader, types) and (writer.types or reader.types):
                self._apply(family, pair, at)
                if family == "object":
                    self._object(pair)
                elif family == "array":
                    self._array(pair)
        self._not(pair)
        self._combinators(pair)

    def _type_union(self, writer: frozenset[str], reader: frozenset[str], at: At) -> None:
        """A multi-type ``type`` is a union of single types (everit reads it as ``anyOf``)."""
        matched = sum(1 for t in writer if t in reader or (t == "integer" and "number" in reader))
        pair = CombinedPair("types", "anyOf", "anyOf", len(writer), len(reader), matched, at)
        self._apply("combined", pair, at)

    def _reader_only(self, writer: SchemaNode, criterion: str, branches: list[SchemaNode], at: At) -> None:
        """The reader is a union (or product) the writer is not: which reader branches fit the writer."""
        fits, kept = 0, []
        for branch in branches:
            found, ok = self._sub(writer, branch, at)
            if ok:
                fits += 1
                kept.extend(found)
                if criterion in SUMS:
                    break
        self.found.extend(kept)
        self._apply("combined", CombinedPair("reader_only", None, criterion, 0, len(branches), fits, at), at)

    def _writer_only(self, reader: SchemaNode, criterion: str, branches: list[SchemaNode], at: At) -> None:
        """The writer is a union (or product) the reader is not: which writer branches the reader reads."""
        fits, kept = 0, []
        for branch in branches:
            found, ok = self._sub(branch, reader, at)
            if ok:
                fits += 1
                kept.extend(found)
        self.found.extend(kept)
        self._apply("combined", CombinedPair("writer_only", criterion, None, len(branches), 0, fits, at), at)

    def _combinators(self, pair: SchemaPair) -> None:
        if not pair.writer.combinators and not pair.reader.combinators:
            return
        writer = dict(pair.writer.combinators)
        reader = dict(pair.reader.combinators)
        at = pair.at
        if (
            len(writer) == 1
            and len(reader) == 1
            and pair.writer.is_pure_combination
            and pair.reader.is_pure_combination
        ):
            (writer_criterion, writer_branches), (reader_criterion, reader_branches) = (
                *writer.items(),
                *reader.items(),
            )
            self._both(writer_criterion, writer_branches, reader_criterion, reader_branches, at)
            return
        for criterion in ("allOf", "anyOf", "oneOf"):
            if criterion in writer and criterion in reader:
                self._both(criterion, writer[criterion], criterion, reader[criterion], at)
            elif criterion in reader:
                self._reader_only(pair.writer, criterion, reader[criterion], at)
            elif criterion in writer:  # the reader dropped a constraint beside its other keywords
                size = len(writer[criterion])
                self._apply("combined", CombinedPair("writer_only", criterion, None, size, 0, size, at), at)

    def _both(
        self, writer_criterion: str, writers: list, reader_criterion: str, readers: list, at: At
    ) -> None:
        writers, readers = _distinct(writers), _distinct(readers)
        matched = 0
        if criteria_change(writer_criterion, reader_criterion, len(writers), len(readers)) != "changed":
            edges: dict[tuple[int, int], list[Difference]] = {}
            for i, writer in enumerate(writers):
                branch_at = at.child(writer_criterion, i)
                for j, reader in enumerate(readers):
                    found, ok = self._sub(writer, reader, branch_at)
                    if ok:
                        edges[(i, j)] = found
            matching = _maximum_matching(edges, len(writers))
            for edge in sorted(matching):
                self.found.extend(edges[edge])
            matched = len(matching)
        pair = CombinedPair(
            "both", writer_criterion, reader_criterion, len(writers), len(readers), matched, at
        )
        self._apply("combined", pair, at)

    def _not(self, pair: SchemaPair) -> None:
        writer, reader = pair.writer.child("not"), pair.reader.child("not")
        if writer is None and reader is None:
            return
        at = pair.at.child("not", new=self._new(writer, reader))
        still_excludes = None
        if writer is not None and reader is not None:
            _, still_excludes = self._sub(reader, writer, at)  # reversed: what the reader excludes
        self._apply("not", NotPair(writer, reader, still_excludes, at), at)

    # -- objects ----------------------------------------------------------------------------------

    def _object(self, pair: SchemaPair) -> None:
        writer, reader = pair.writer, pair.reader
        writer_model, reader_model = content_model(writer), content_model(reader)
        writer_properties, reader_properties = writer.properties, reader.properties
        # Properties equal on both sides (name, text, required) have nothing to compare or report;
        # the others are those of the symmetric difference and those with a ``$ref``.
        (writer_settled, writer_refs), (reader_settled, reader_refs) = _settled(writer), _settled(reader)
        unsettled = {name for name, _, _ in writer_settled ^ reader_settled} | writer_refs | reader_refs
        names = sorted(unsettled.intersection(writer_properties), key=list(writer_properties).index)
        added = unsettled.difference(writer_properties)
        names += sorted(added, key=list(reader_properties).index) if added else ()
        for name in names:
            writer_property, reader_property = writer_properties.get(name), reader_properties.get(name)
            covered = None
            if writer_property is not None and reader_property is not None:
                same_required = (name in writer.required) == (name in reader.required)
                if same_required and _identical(writer_property, reader_property):
                    continue  # most properties of a wide schema: nothing to compare, nothing to report
                at = pair.at.child(
                    "properties", name, field=name, new=self._new(writer_property, reader_property)
                )
                self.compare(writer_property, reader_property, at)
                if same_required:
                    continue
                target = "required"
            elif reader_property is None:
                at = pair.at.child(
                    "properties", name, field=name, new=self._new(writer_property, reader_property)
                )
                partial = reader_model.schema_for(name)
                if partial is not None:
                    covered = self._covered(writer_property, partial, at)
                target = "property_removed"
            else:
                at = pair.at.child(
                    "properties", name, field=name, new=self._new(writer_property, reader_property)
                )
                partial = writer_model.schema_for(name)
                if partial is not None:
                    covered = self._covered(partial, reader_property, at)
                target = "property_added"
            property_pair = PropertyPair(
                name,
                writer_property,
                reader_property,
                pair,
                writer_model.kind,
                reader_model.kind,
                covered,
                at,
            )
            self._apply(target, property_pair, at)
        self._dependencies(pair)
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            self._both_schemas(pair, keyword)

    def _covered(self, writer: SchemaNode, reader: SchemaNode, at: At) -> bool:
        found, ok = self._sub(writer, reader, at)
        self.found.extend(found)
        return ok

    def _dependencies(self, pair: SchemaPair) -> None:
        writer, reader = pair.writer, pair.reader
        if not (writer.dependent_required or reader.dependent_required) and not (
            writer.dependent_schemas or reader.dependent_schemas
        ):
            return
        keyword = (
            "dependentRequired" if self._side(writer, reader).has("dependentRequired") else "dependencies"
        )
        for name in _union(writer.dependent_required, reader.dependent_required):
            at = pair.at.child(keyword, name)
            dependency = DependencyPair(
                name, writer.dependent_required.get(name), reader.dependent_required.get(name), None, None, at
            )
            self._apply("dependency", dependency, at)
        keyword = "dependentSchemas" if self._side(writer, reader).has("dependentSchemas") else "dependencies"
        for name in _union(writer.dependent_schemas, reader.dependent_schemas):
            writer_schema, reader_schema = (
                writer.dependent_schemas.get(name),
                reader.dependent_schemas.get(name),
            )
            at = pair.at.child(keyword, name, new=self._new(writer_schema, reader_schema))
            if writer_schema is not None and reader_schema is not None:
                self.compare(writer_schema, reader_schema, at)
            else:
                self._apply(
                    "dependency", DependencyPair(name, None, None, writer_schema, reader_schema, at), at
                )

    def _both_schemas(self, pair: SchemaPair, keyword: str) -> None:
        """Descend into a keyword both sides hold as a real schema (not ``true``/``false``/``{}``)."""
        if keyword == "additionalItems":
            writer, reader = pair.writer.additional_items, pair.reader.additional_items
        else:
            writer, reader = pair.writer.child(keyword), pair.reader.child(keyword)
        if _real(writer) and _real(reader):
            self.compare(writer, reader, pair.at.child(keyword, new=self._new(writer, reader)))

    # -- arrays -----------------------------------------------------------------------------------

    def _array(self, pair: SchemaPair) -> None:
        writer, reader = pair.writer, pair.reader
        writer_items, reader_items = writer.all_items, reader.all_items
        if writer_items is not None or reader_items is not None:
            at = pair.at.child("items", new=self._new(writer_items, reader_items))
            if writer_items is not None and reader_items is not None:
                self.compare(writer_items, reader_items, at)
            else:
                self._apply("slot", SlotPair("items", writer_items, reader_items, at), at)
        writer_tuple, reader_tuple = writer.tuple_items, reader.tuple_items
        if writer_tuple or reader_tuple:
            writer_model, reader_model = content_model(writer, items=True), content_model(reader, items=True)
            keyword = self._side(writer, reader).tuple_keyword
            for index in range(max(len(writer_tuple), len(reader_tuple))):
                writer_item = writer_tuple[index] if index < len(writer_tuple) else None
                reader_item = reader_tuple[index] if index < len(reader_tuple) else None
                at = pair.at.child(keyword, index, new=self._new(writer_item, reader_item))
                covered = None
                if writer_item is not None and reader_item is not None:
                    self.compare(writer_item, reader_item, at)
                    continue
                if reader_item is None and reader_model.kind == "partial":
                    covered = self._covered(writer_item, reader_model.schema_for(None), at)
                elif writer_item is None and writer_model.kind == "partial":
                    covered = self._covered(writer_model.schema_for(None), reader_item, at)
                item = ItemPair(
                    index, writer_item, reader_item, writer_model.kind, reader_model.kind, covered, at
                )
                self._apply("item", item, at)
        for keyword in ("additionalItems", "unevaluatedItems"):
            self._both_schemas(pair, keyword)


_SETTLED: weakref.WeakKeyDictionary[SchemaNode, tuple[frozenset[tuple[str, str, bool]], frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)


def _settled(node: SchemaNode) -> tuple[frozenset[tuple[str, str, bool]], frozenset[str]]:
    """``(name, canonical text, required)`` of the properties without a ``$ref``, and the names of
    those with one, once per parsed node: a property equal in all three on both sides is
    ``_identical`` with the same ``required``."""
    settled = _SETTLED.get(node)
    if settled is None:
        required = node.required
        properties = node.properties.items()
        settled = (
            frozenset(
                shared((name, prop.canonical, name in required))
                for name, prop in properties
                if not prop.has_ref
            ),
            frozenset(name for name, prop in properties if prop.has_ref),
        )
        _SETTLED[node] = settled
    return settled


def _identical(writer: SchemaNode, reader: SchemaNode) -> bool:
    """Same node, or same text without a ``$ref`` (a ``$ref`` may point at different targets)."""
    return writer is reader or (
        not writer.has_ref and not reader.has_ref and writer.canonical == reader.canonical
    )


def _admits(node: SchemaNode, types: set[str]) -> bool:
    return node.types is None or bool(node.types & types)


def _real(node: SchemaNode | None) -> bool:
    return node is not None and not node.is_empty and not node.is_false


def _union(writer: dict, reader: dict) -> list[str]:
    return [*writer, *(name for name in reader if name not in writer)]


def _distinct(nodes: list[SchemaNode]) -> list[SchemaNode]:
    """Branches with the same text count once (Confluent compares sets of subschemas)."""
    seen, kept = set(), []
    for node in nodes:
        if node.has_ref or node.canonical not in seen:
            seen.add(node.canonical)
            kept.append(node)
    return kept


def _maximum_matching(edges: dict[tuple[int, int], list], writers: int) -> set[tuple[int, int]]:
    """A maximum matching of the bipartite graph ``edges`` (augmenting paths; branch lists are short)."""
    adjacent: dict[int, list[int]] = {}
    for i, j in edges:
        adjacent.setdefault(i, []).append(j)
    reader_of: dict[int, int] = {}  # reader branch -> writer branch

    def augment(i: int, seen: set[int]) -> bool:
        for j in adjacent.get(i, ()):
            if j in seen:
                continue
            seen.add(j)
            if j not in reader_of or augment(reader_of[j], seen):
                reader_of[j] = i
                return True
        return False

    for i in range(writers):
        augment(i, set())
    return {(i, j) for j, i in reader_of.items()}
