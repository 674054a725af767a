"""The JSON Schema model the compatibility walker compares: one ``SchemaNode`` per subschema.

Dialects spell the same thing differently (draft-04's boolean ``exclusiveMaximum``, ``items`` as an
array before 2020-12 and ``prefixItems`` after, ``dependencies`` split into ``dependentRequired`` and
``dependentSchemas`` in 2019-09); a node reads them into one vocabulary, so the rules never look at
the dialect. Types are inferred from keywords where ``type`` is absent (``maxLength`` alone makes a
string schema), as Confluent's parser (everit) does.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cached_property

from registry.compat.json_schema_parse import (
    DocumentSet,
    SchemaDocument,
    pointer,
    pointer_parts,
    unresolvable,
)

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")

STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern", "format"})
NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
OBJECT_KEYWORDS = frozenset(
    {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "minProperties",
        "maxProperties",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
        "propertyNames",
        "unevaluatedProperties",
    }
)
ARRAY_KEYWORDS = frozenset(
    {
        "items",
        "prefixItems",
        "additionalItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedItems",
    }
)

_INFERRED = (
    ("string", STRING_KEYWORDS),
    ("number", NUMBER_KEYWORDS),
    ("object", OBJECT_KEYWORDS),
    ("array", ARRAY_KEYWORDS),
)
COMBINATORS = ("allOf", "anyOf", "oneOf")
_ASSERTIONS = (
    STRING_KEYWORDS
    | NUMBER_KEYWORDS
    | OBJECT_KEYWORDS
    | ARRAY_KEYWORDS
    | {"type", "enum", "const", "not", "$ref", "if", "$dynamicRef", "$recursiveRef", *COMBINATORS}
)


def value_key(value) -> str:
    """A key under which JSON-equal values are equal: ``1`` and ``1.0`` alike, ``true`` and ``1`` not."""
    return json.dumps(_normal_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normal_numbers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normal_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal_numbers(item) for item in value]
    return value


class SchemaNode:
    """One subschema: its JSON value, where it sits, its children and its resolved ``$ref``.

    Children are built for every keyword that holds subschemas; ``ref`` is the node a ``$ref`` (or
    ``$recursiveRef``/``$dynamicRef`` to the document root) points at.
    """

    def __init__(self, value: dict | bool, document: SchemaDocument, at: str, line: int | None):
        self.value = value
        self.is_false = value is False
        self.document = document
        self.pointer = at
        self.line = line
        self.ref: SchemaNode | None = None
        self.children: dict[str, object] = {}  # keyword -> SchemaNode, list or dict of SchemaNodes
        self._limits: dict[str, Decimal | None] = {}  # ``limit``'s answers: every check asks again
        self.keywords: dict = value if isinstance(value, dict) else {}
        """The schema's keywords and values (empty for ``true`` and ``false``)."""
        # The checks read keywords and children of every node of every version they compare: the
        # dicts' own ``get``, no method call of ours in between.
        self.get = self.keywords.get
        """``get(keyword, default=None)``: the keyword's value."""
        self.child = self.children.get
        """``child(keyword)``: the subschema node(s) under the keyword, or None."""

    # -- reading keywords ------------------------------------------------------------------------

    def has(self, keyword: str) -> bool:
        return keyword in self.keywords

    def line_of(self, keyword: str) -> int | None:
        """The line of ``keyword`` in this node, or the node's own line when it is absent."""
        if isinstance(self.value, dict) and keyword in self.value:
            return self.document.json.line(self.value, keyword) or self.line
        return self.line

    @cached_property
    def is_empty(self) -> bool:
        """True for ``true``, ``{}`` and schemas of annotations only: they accept every value."""
        return self.value is True or (isinstance(self.value, dict) and not (_ASSERTIONS & self.value.keys()))

    @cached_property
    def types(self) -> frozenset[str] | None:
        """The JSON types the schema admits; None when it does not constrain the type."""
        declared = self.get("type")
        if isinstance(declared, str):
            return frozenset({declared})
        if isinstance(declared, list):
            return frozenset(declared)
        if not isinstance(self.value, dict):
            return None
        keys = self.value.keys()
        inferred = {name for name, keywords in _INFERRED if keywords & keys}
        return frozenset(inferred) or None

    @cached_property
    def enum(self) -> frozenset[str] | None:
        """The admitted values as ``value_key``s (``const`` is a one-value enum); None: no such limit."""
        if self.has("const"):
            return frozenset({value_key(self.get("const"))})
        values = self.get("enum")
        return frozenset(value_key(v) for v in values) if isinstance(values, list) else None

    @cached_property
    def has_default(self) -> bool:
        return self.has("default") or (self.ref is not None and self.ref.has("default"))

    def limit(self, keyword: str) -> Decimal | None:
        """A numeric keyword as a Decimal. Draft-04's boolean ``exclusiveMaximum: true`` reads as an
        exclusive bound equal to ``maximum`` (which stays, and is then met by the exclusive one)."""
        try:
            return self._limits[keyword]
        except KeyError:
            pass
        if self.document.dialect.name == "draft-04" and keyword.startswith("exclusive"):
            bound = keyword.removeprefix("exclusive").lower()
            limit = _decimal(self.get(bound)) if self.get(keyword) is True else None
        else:
            limit = _decimal(self.get(keyword))
        self._limits[keyword] = limit
        return limit

    # -- normalised structure ---------------------------------------------------------------------

    @property
    def properties(self) -> dict[str, SchemaNode]:
        return self.children.get("properties", {})

    @property
    def pattern_properties(self) -> dict[str, SchemaNode]:
        return self.children.get("patternProperties", {})

    @cached_property
    def required(self) -> frozenset[str]:
        names = self.get("required")
        return frozenset(names) if isinstance(names, list) else frozenset()

    @cached_property
    def dependent_required(self) -> dict[str, frozenset[str]]:
        """``dependentRequired`` and the array form of ``dependencies``."""
        found = {}
        for keyword in ("dependencies", "dependentRequired"):
            for name, names in (self.get(keyword) or {}).items():
                if isinstance(names, list):
                    found[name] = frozenset(names)
        return found

    @cached_property
    def dependent_schemas(self) -> dict[str, SchemaNode]:
        """``dependentSchemas`` and the schema form of ``dependencies``."""
        return {**self.children.get("dependencies", {}), **self.children.get("dependentSchemas", {})}

    @property
    def all_items(self) -> SchemaNode | None:
        """The schema every item must match (``items`` as one schema, not after a tuple)."""
        items = self.children.get("items")
        if isinstance(items, SchemaNode) and not self.has("prefixItems"):
            return items
        return None

    @property
    def tuple_items(self) -> list[SchemaNode]:
        """Positional item schemas: ``prefixItems`` (2020-12) or ``items`` as an array (before)."""
        if self.has("prefixItems"):
            return self.children["prefixItems"]
        items = self.children.get("items")
        return items if isinstance(items, list) else []

    @property
    def additional_items(self) -> SchemaNode | None:
        """What items after the tuple must match: ``additionalItems``, or 2020-12's ``items`` after
        ``prefixItems``. Without a tuple it constrains nothing, as the specification says."""
        if self.has("prefixItems"):
            items = self.children.get("items")
            return items if isinstance(items, SchemaNode) else None
        if isinstance(self.children.get("items"), list):
            return self.children.get("additionalItems")
        return None

    @property
    def tuple_keyword(self) -> str:
        return "prefixItems" if self.has("prefixItems") else "items"

    @cached_property
    def combinators(self) -> list[tuple[str, list[SchemaNode]]]:
        return [(keyword, self.children[keyword]) for keyword in COMBINATORS if keyword in self.children]

    @cached_property
    def is_pure_combination(self) -> bool:
        """Only ``allOf``/``anyOf``/``oneOf`` (one of them) beside annotations: a sum or product type."""
        if not isinstance(self.value, dict) or len(self.combinators) != 1:
            return False
        keys = set(self.value.keys()) & _ASSERTIONS
        return keys <= set(COMBINATORS)

    # -- identity ----------------------------------------------------------------------------------

    @cached_property
    def canonical(self) -> str:
        return value_key(self.value)

    @cached_property
    def has_ref(self) -> bool:
        """Whether this subtree holds a ``$ref``: identical text can then still mean different types."""
        if self.ref is not None:
            return True
        return any(node.has_ref for node in self.iter_children())

    def iter_children(self):
        for child in self.children.values():
            if isinstance(child, SchemaNode):
                yield child
            elif isinstance(child, list):
                yield from child
            else:
                yield from child.values()

    def resolved(self) -> SchemaNode:
        """The node a chain of ``$ref``s ends at. Up to draft-07 the keywords beside a ``$ref`` are
        ignored (the specification says so); from 2019-09 a ``$ref`` beside other assertions stays."""
        node, seen = self, set()
        while (
            node.ref is not None
            and (_only_ref(node) or node.document.dialect.ref_overrides)
            and id(node) not in seen
        ):
            seen.add(id(node))
            node = node.ref
        return node

    def __repr__(self) -> str:
        return f"SchemaNode({self.document.name}{self.pointer})"


def _only_ref(node: SchemaNode) -> bool:
    return isinstance(node.value, dict) and not (
        (_ASSERTIONS - {"$ref", "$dynamicRef", "$recursiveRef"}) & node.value.keys()
    )


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(str(value))


_SCHEMA_KEYWORDS = (
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
)
_MAP_KEYWORDS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")


class ModelBuilder:
    """Builds the node trees of a ``DocumentSet`` and resolves every ``$ref`` in them."""

    def __init__(self, documents: DocumentSet):
        self.documents = documents
        self._pending: list[SchemaNode] = []

    def build(self) -> SchemaNode:
        roots = [
            self._build_document(document) for document in [self.documents.main, *self.documents.references]
        ]
        for node in self._pending:
            self._resolve(node)
        return roots[0]

    def _build_document(self, document: SchemaDocument) -> SchemaNode:
        return self._node(document.value, document, "#", 1)

    def _node(self, value, document: SchemaDocument, at: str, line: int | None) -> SchemaNode:
        node = SchemaNode(value, document, at, line)
        document.nodes[at] = node
        if not isinstance(value, dict):
            return node
        anchor = value.get("$anchor")
        if isinstance(anchor, str):
            document.anchors[anchor] = node
        if document.dialect.name in ("draft-06", "draft-07") and isinstance(value.get("$id"), str):
            if value["$id"].startswith("#"):  # location-independent identifiers of drafts 6 and 7
                document.anchors[value["$id"][1:]] = node
        if any(isinstance(value.get(k), str) for k in ("$ref", "$dynamicRef", "$recursiveRef")):
            self._pending.append(node)
        json = document.json
        for keyword in _SCHEMA_KEYWORDS:
            if _is_schema(value.get(keyword)):
                node.children[keyword] = self._node(
                    value[keyword], document, pointer(at, keyword), json.line(value, keyword)
                )
        items = value.get("items")
        if _is_schema(items):
            node.children["items"] = self._node(
                items, document, pointer(at, "items"), json.line(value, "items")
            )
        elif isinstance(items, list):
            node.children["items"] = self._list(items, document, pointer(at, "items"))
        for keyword in _LIST_KEYWORDS:
            if isinstance(value.get(keyword), list):
                node.children[keyword] = self._list(value[keyword], document, pointer(at, keyword))
        for keyword in _MAP_KEYWORDS:
            if isinstance(value.get(keyword), dict):
                node.children[keyword] = self._map(value[keyword], document, pointer(at, keyword))
        dependencies = value.get("dependencies")
        if isinstance(dependencies, dict):
            schemas = {k: v for k, v in dependencies.items() if _is_schema(v)}
            node.children["dependencies"] = {
                name: self._node(
                    sub, document, pointer(at, "dependencies", name), json.line(dependencies, name)
                )
                for name, sub in schemas.items()
            }
        return node

    def _list(self, values: list, document: SchemaDocument, at: str) -> list[SchemaNode]:
        return [
            self._node(item, document, pointer(at, index), document.json.line(values, index))
            for index, item in enumerate(values)
            if _is_schema(item)
        ]

    def _map(self, values: dict, document: SchemaDocument, at: str) -> dict[str, SchemaNode]:
        return {
            name: self._node(item, document, pointer(at, name), document.json.line(values, name))
            for name, item in values.items()
            if _is_schema(item)
        }

    def _resolve(self, node: SchemaNode) -> None:
        document = node.document
        ref = node.get("$ref")
        if not isinstance(ref, str):  # $recursiveRef / $dynamicRef: the document root, their common use
            node.ref = document.nodes["#"]
            return
        target_document, fragment = self.documents.find(ref, document)
        if target_document is None:
            names = ", ".join(repr(d.name) for d in self.documents.references) or "none"
            raise unresolvable(
                document, node.pointer, ref, f"no schema named so among the references ({names})"
            )
        if not fragment or fragment.startswith("/"):
            target = target_document.nodes.get("#" + fragment) or self._at_pointer(
                target_document, "#" + fragment
            )
        else:
            target = target_document.anchors.get(fragment)
        if target is None:
            raise unresolvable(
                document, node.pointer, ref, f"{target_document.name} has nothing at #{fragment}"
            )
        node.ref = target

    def _at_pointer(self, document: SchemaDocument, at: str) -> SchemaNode | None:
        """A node for a pointer into a place no keyword declares as a schema (e.g. ``#/x-types/a``)."""
        value = document.value
        for part in pointer_parts(at):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        if not _is_schema(value):
            return None
        pending = len(self._pending)
        node = self._node(value, document, at, document.line_at(at))
        for extra in self._pending[pending:]:
            self._resolve(extra)
        del self._pending[pending:]
        return node


def _is_schema(value) -> bool:
    return isinstance(value, dict | bool)
