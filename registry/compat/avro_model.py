"""A typed model of an Avro schema, built from the JSON with the source line of every element.

fastavro validates schemas but keeps no positions and accepts a few things the specification forbids
(duplicate field names, bad names, negative fixed sizes, nested unions). Building our own model lets us
refuse those with the line of the offending element, resolve names exactly as the specification says,
and hand the compatibility walker plain objects. Named types are shared nodes, so a recursive schema
(a linked list) is a cyclic graph, never an infinite tree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property

from registry.compat.avro_json import JsonDocument
from registry.errors import InvalidSchema

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

LOGICAL_UNDERLYING = {
    "decimal": {"bytes", "fixed"},
    "big-decimal": {"bytes"},
    "uuid": {"string", "fixed"},
    "date": {"int"},
    "time-millis": {"int"},
    "time-micros": {"long"},
    "timestamp-millis": {"long"},
    "timestamp-micros": {"long"},
    "timestamp-nanos": {"long"},
    "local-timestamp-millis": {"long"},
    "local-timestamp-micros": {"long"},
    "local-timestamp-nanos": {"long"},
    "duration": {"fixed"},
}
"""Logical types of the specification and the Avro types they annotate. Unknown logical types are
ignored, as the specification asks."""


@dataclass(eq=False)
class AvroType:
    """One schema element. ``kind`` is a primitive name or record/enum/fixed/array/map/union."""

    kind: str
    line: int | None
    logical: str | None = None
    precision: int | None = None
    scale: int | None = None
    _signature: str | None = field(default=None, repr=False)


@dataclass(eq=False)
class Field:
    name: str
    type: AvroType
    line: int | None  # where the field's "name" sits
    type_line: int | None  # where the field's "type" value starts (the use site of a named type)
    aliases: tuple[str, ...] = ()
    has_default: bool = False
    default: object = None
    doc: str | None = None


@dataclass(eq=False)
class NamedType(AvroType):
    fullname: str = ""
    aliases: frozenset[str] = frozenset()

    @cached_property
    def name(self) -> str:
        return self.fullname.rpartition(".")[2]


@dataclass(eq=False)
class Record(NamedType):
    fields: list[Field] = field(default_factory=list)
    fields_by_name: dict[str, Field] = field(default_factory=dict)
    typed_names: frozenset[tuple[str, str]] | None = field(default=None, repr=False)
    """``(name, type signature)`` of the fields: set by the walker on first use (``avro_walk``)."""
    positions: dict[Field, int] | None = field(default=None, repr=False)
    """Each field's position in ``fields``: set by the walker on first use."""


@dataclass(eq=False)
class Enum(NamedType):
    symbols: tuple[str, ...] = ()
    default: str | None = None


@dataclass(eq=False)
class Fixed(NamedType):
    size: int = 0


@dataclass(eq=False)
class Array(AvroType):
    items: AvroType | None = None
    items_line: int | None = None


@dataclass(eq=False)
class Map(AvroType):
    values: AvroType | None = None
    values_line: int | None = None


@dataclass(eq=False)
class Union(AvroType):
    branches: list[AvroType] = field(default_factory=list)
    branch_lines: list[int | None] = field(default_factory=list)


def describe(node: AvroType) -> str:
    """A short human description: ``double``, ``array of string``, ``record LineItem``."""
    if isinstance(node, Record):
        return f"record {node.fullname}"
    if isinstance(node, Enum):
        return f"enum {node.fullname}"
    if isinstance(node, Fixed):
        text = f"fixed {node.fullname} ({node.size} bytes)"
    elif isinstance(node, Array):
        return f"array of {describe(node.items)}"
    elif isinstance(node, Map):
        return f"map of {describe(node.values)}"
    elif isinstance(node, Union):
        return "union [" + ", ".join(branch_label(b) for b in node.branches) + "]"
    else:
        text = node.kind
    if node.logical == "decimal":
        return f"{text} (decimal({node.precision},{node.scale}))"
    if node.logical:
        return f"{text} ({node.logical})"
    return text


def branch_label(node: AvroType) -> str:
    """How a union branch appears in paths and messages: its short name or its kind."""
    return node.name if isinstance(node, NamedType) else node.kind


class ModelBuilder:
    """Turns a ``JsonDocument`` into ``AvroType`` nodes, validating as it goes.

    ``named`` holds the named types already known (from references) and receives the new ones.
    """

    def __init__(self, document: JsonDocument, named: dict[str, NamedType]):
        self.doc = document
        self.named = named
        self._defaults: list[tuple[Field, Record]] = []

    def build(self) -> AvroType:
        root = self._type(self.doc.value, 1, "")
        for record_field, record in self._defaults:
            if not default_matches(record_field.type, record_field.default):
                self._fail(
                    f"field '{record_field.name}' of record '{record.fullname}' has default "
                    f"{_show(record_field.default)}, which is not a valid {describe(record_field.type)}",
                    record_field.line,
                )
        return root

    def _fail(self, message: str, line: int | None) -> None:
        raise InvalidSchema(message, self.doc.location(line))

    def _type(self, value: object, line: int | None, namespace: str) -> AvroType:
        if isinstance(value, str):
            return self._reference(value, line, namespace)
        if isinstance(value, list):
            return self._union(value, line, namespace)
        if isinstance(value, dict):
            return self._complex(value, line, namespace)
        self._fail(f"expected a type (a name, an object or a union array), found {_show(value)}", line)

    def _reference(self, name: str, line: int | None, namespace: str) -> AvroType:
        """A type name: a full name when it has a dot, else in the enclosing namespace (specification)."""
        if name in PRIMITIVES:
            return AvroType(kind=name, line=line)
        fullname = name if "." in name or not namespace else f"{namespace}.{name}"
        if fullname in self.named:
            return self.named[fullname]
        known = ", ".join(sorted(self.named)) or "none"
        looked_up = f" (looked up as '{fullname}')" if fullname != name else ""
        self._fail(f"unknown type '{name}'{looked_up}; named types defined so far: {known}", line)

    def _union(self, value: list, line: int | None, namespace: str) -> Union:
        node = Union(kind="union", line=line)
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            item_line = self.doc.line(value, index)
            if isinstance(item, list):
                self._fail("a union may not immediately contain another union", item_line)
            branch = self._type(item, item_line, namespace)
            key = branch.fullname if isinstance(branch, NamedType) else branch.kind
            if key in seen:
                self._fail(
                    f"union has two branches of type '{key}' (branches {seen[key] + 1} and {index + 1})",
                    item_line,
                )
            seen[key] = index
            node.branches.append(branch)
            node.branch_lines.append(item_line)
        return node

    def _complex(self, value: dict, line: int | None, namespace: str) -> AvroType:
        kind = value.get("type")
        if not isinstance(kind, str):
            self._fail(
                f'a schema object needs "type" to be a string naming a type, found {_show(kind)}',
                self.doc.line(value, "type") or line,
            )
        if kind in NAMED_KINDS:
            node = self._named(value, kind, line, namespace)
        elif kind == "array":
            items_line = self._require(value, "items", line, "an array")
            node = Array(kind="array", line=line, items_line=items_line)
            node.items = self._type(value["items"], items_line, namespace)
        elif kind == "map":
            values_line = self._require(value, "values", line, "a map")
            node = Map(kind="map", line=line, values_line=values_line)
            node.values = self._type(value["values"], values_line, namespace)
        elif kind in PRIMITIVES:
            node = AvroType(kind=kind, line=line)
        else:
            return self._reference(kind, self.doc.line(value, "type"), namespace)
        self._logical(node, value)
        return node

    def _require(self, value: dict, key: str, line: int | None, what: str) -> int | None:
        if key not in value:
            self._fail(f'{what} needs "{key}"', line)
        return self.doc.line(value, key)

    def _named(self, value: dict, kind: str, line: int | None, namespace: str) -> NamedType:
        fullname = self._fullname(value, line, namespace, kind)
        own_namespace = fullname.rpartition(".")[0]
        aliases = frozenset(self._aliases(value, own_namespace, qualify=True))
        if kind in ("record", "error"):
            node: NamedType = Record(kind="record", line=line, fullname=fullname, aliases=aliases)
            self.named[fullname] = node  # before the fields, so they may refer to it (recursion)
            self._fields(node, value, line, own_namespace)
        elif kind == "enum":
            node = Enum(kind="enum", line=line, fullname=fullname, aliases=aliases)
            node.symbols, node.default = self._symbols(value, line, fullname)
            self.named[fullname] = node
        else:
            size = value.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                self._fail(
                    f"fixed '{fullname}' needs \"size\", a non-negative integer; found {_show(size)}",
                    self.doc.line(value, "size") or line,
                )
            node = Fixed(kind="fixed", line=line, fullname=fullname, aliases=aliases, size=size)
            self.named[fullname] = node
        return node

    def _fullname(self, value: dict, line: int | None, namespace: str, kind: str) -> str:
        name = value.get("name")
        name_line = self.doc.line(value, "name") or line
        if not isinstance(name, str):
            self._fail(f'a {kind} needs "name", a string; found {_show(name)}', name_line)
        given_namespace = value.get("namespace")
        if given_namespace is not None and not isinstance(given_namespace, str):
            self._fail(
                f'"namespace" must be a string, found {_show(given_namespace)}',
                self.doc.line(value, "namespace"),
            )
        if "." in name:
            fullname = name
        else:
            space = namespace if given_namespace is None else given_namespace
            fullname = f"{space}.{name}" if space else name
        for part in fullname.split("."):
            if not _NAME.match(part):
                self._fail(
                    f"'{fullname}' is not a valid Avro name: each dot-separated part must start with "
                    "[A-Za-z_] and contain only [A-Za-z0-9_]",
                    name_line,
                )
        if fullname.rpartition(".")[2] in PRIMITIVES:
            self._fail(f"a {kind} may not be named after the primitive type '{fullname}'", name_line)
        if fullname in self.named:
            self._fail(
                f"the type '{fullname}' is defined twice; refer to it by name after the first", name_line
            )
        return fullname

    def _aliases(self, value: dict, namespace: str, qualify: bool) -> list[str]:
        aliases = value.get("aliases", [])
        line = self.doc.line(value, "aliases")
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            self._fail(f'"aliases" must be a list of names, found {_show(aliases)}', line)
        result = []
        for alias in aliases:
            if not all(_NAME.match(part) for part in alias.split(".")) or (not qualify and "." in alias):
                self._fail(f"alias '{alias}' is not a valid Avro name", line)
            result.append(f"{namespace}.{alias}" if qualify and namespace and "." not in alias else alias)
        return result

    def _fields(self, record: Record, value: dict, line: int | None, namespace: str) -> None:
        fields = value.get("fields")
        if not isinstance(fields, list):
            self._fail(
                f"record '{record.fullname}' needs \"fields\", a list; found {_show(fields)}",
                self.doc.line(value, "fields") or line,
            )
        for index, item in enumerate(fields):
            item_line = self.doc.line(fields, index)
            if not isinstance(item, dict):
                self._fail(
                    f"a field of record '{record.fullname}' must be an object, found {_show(item)}", item_line
                )
            name = item.get("name")
            name_line = self.doc.line(item, "name") or item_line
            if not isinstance(name, str) or not _NAME.match(name):
                self._fail(
                    f"record '{record.fullname}' has a field with an invalid name {_show(name)}", name_line
                )
            if name in record.fields_by_name:
                self._fail(f"record '{record.fullname}' has two fields named '{name}'", name_line)
            if "type" not in item:
                self._fail(f"field '{name}' of record '{record.fullname}' needs \"type\"", name_line)
            type_line = self.doc.line(item, "type")
            order = item.get("order", "ascending")
            if order not in ("ascending", "descending", "ignore"):
                self._fail(
                    f"field '{name}' has order {_show(order)}; expected ascending, descending or ignore",
                    self.doc.line(item, "order"),
                )
            record_field = Field(
                name=name,
                type=self._type(item["type"], type_line, namespace),
                line=name_line,
                type_line=type_line,
                aliases=tuple(self._aliases(item, "", qualify=False)),
                has_default="default" in item,
                default=item.get("default"),
                doc=item["doc"] if isinstance(item.get("doc"), str) else None,
            )
            if record_field.has_default:
                self._defaults.append((record_field, record))
            record.fields.append(record_field)
            record.fields_by_name[name] = record_field

    def _symbols(self, value: dict, line: int | None, fullname: str) -> tuple[tuple[str, ...], str | None]:
        symbols = value.get("symbols")
        symbols_line = self.doc.line(value, "symbols") or line
        if not isinstance(symbols, list):
            self._fail(f"enum '{fullname}' needs \"symbols\", a list; found {_show(symbols)}", symbols_line)
        for symbol in symbols:
            if not isinstance(symbol, str) or not _NAME.match(symbol):
                self._fail(f"enum '{fullname}' has an invalid symbol {_show(symbol)}", symbols_line)
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            self._fail(
                f"enum '{fullname}' lists symbol(s) {', '.join(duplicates)} more than once", symbols_line
            )
        default = value.get("default")
        if default is not None and default not in symbols:
            self._fail(
                f"enum '{fullname}' has default {_show(default)}, which is not one of its symbols",
                self.doc.line(value, "default"),
            )
        return tuple(symbols), default

    def _logical(self, node: AvroType, value: dict) -> None:
        logical = value.get("logicalType")
        if logical is None:
            return
        line = self.doc.line(value, "logicalType")
        if not isinstance(logical, str):
            self._fail(f'"logicalType" must be a string, found {_show(logical)}', line)
        if logical not in LOGICAL_UNDERLYING:
            return  # the specification: unknown logical types are ignored
        if node.kind not in LOGICAL_UNDERLYING[logical]:
            allowed = " or ".join(sorted(LOGICAL_UNDERLYING[logical]))
            self._fail(f"logical type {logical} annotates {allowed}, not {node.kind}", line)
        if logical == "uuid" and isinstance(node, Fixed) and node.size != 16:
            self._fail(f"logical type uuid on fixed needs size 16, not {node.size}", line)
        if logical == "duration" and isinstance(node, Fixed) and node.size != 12:
            self._fail(f"logical type duration needs a fixed of size 12, not {node.size}", line)
        node.logical = logical
        if logical == "decimal":
            node.precision, node.scale = self._decimal(node, value, line)

    def _decimal(self, node: AvroType, value: dict, line: int | None) -> tuple[int, int]:
        precision, scale = value.get("precision"), value.get("scale", 0)
        if not _is_int(precision) or precision < 1:
            self._fail(f'decimal needs "precision", a positive integer; found {_show(precision)}', line)
        if not _is_int(scale) or not 0 <= scale <= precision:
            self._fail(
                f"decimal scale must be an integer from 0 to the precision ({precision}); found {_show(scale)}",
                line,
            )
        if isinstance(node, Fixed):
            most = len(str(2 ** (8 * node.size - 1) - 1)) - 1 if node.size else 0
            if precision > most:
                self._fail(
                    f"decimal precision {precision} does not fit in fixed '{node.fullname}' of {node.size} "
                    f"bytes (at most {most} digits)",
                    line,
                )
        return precision, scale


def default_matches(node: AvroType, value: object) -> bool:
    """Whether ``value`` is a valid JSON default for ``node`` (specification, field defaults table).

    A union's default may match any of its branches (Avro 1.12, AVRO-3649; earlier versions of the
    specification required the first branch).
    """
    kind = node.kind
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        bits = 31 if kind == "int" else 63
        return _is_int(value) and -(2**bits) <= value < 2**bits
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bytes":
        return isinstance(value, str) and all(ord(c) < 256 for c in value)
    if isinstance(node, Fixed):
        return isinstance(value, str) and len(value) == node.size and all(ord(c) < 256 for c in value)
    if isinstance(node, Enum):
        return value in node.symbols
    if isinstance(node, Array):
        return isinstance(value, list) and all(default_matches(node.items, item) for item in value)
    if isinstance(node, Map):
        return isinstance(value, dict) and all(default_matches(node.values, item) for item in value.values())
    if isinstance(node, Record):
        return isinstance(value, dict) and all(
            default_matches(f.type, value[f.name]) if f.name in value else f.has_default for f in node.fields
        )
    if isinstance(node, Union):
        return any(default_matches(branch, value) for branch in node.branches)
    return False


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
