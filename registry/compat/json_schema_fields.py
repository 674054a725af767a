"""A JSON Schema's fields as a neutral typed tree (for Bronze columns, consumers' field paths, dbt).

The mapping (issue 14; docs/json-schema-compatibility.md): ``integer`` -> long, ``number`` -> double,
``boolean`` -> boolean, ``string`` -> string, or timestamp / date / time / uuid by ``format``
(``date-time``, ``date``, ``time``, ``uuid``); an ``object`` with ``properties`` -> record; an
``object`` with only ``additionalProperties: <schema>`` -> map of that schema; an ``array`` with one
``items`` schema -> list; a nullable union (``type: [T, "null"]``, ``anyOf``/``oneOf`` of T and
``{"type": "null"}``) -> T, nullable. Anything else (free-form objects, heterogeneous unions, tuples,
``null`` alone) is a string column holding the value's canonical JSON (``json_text``). A property is
nullable unless it is required and not nullable itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.compat.json_schema_model import SchemaNode

FORMAT_TYPES = {"date-time": "timestamp", "date": "date", "time": "time", "uuid": "uuid"}
SCALAR_TYPES = {"integer": "long", "number": "double", "boolean": "boolean", "string": "string"}


@dataclass(frozen=True)
class JsonField:
    """One field: ``type`` is long, double, boolean, string, timestamp, date, time, uuid, record,
    list or map. ``json_text``: a string column holding canonical JSON (the type had no mapping).
    ``fields`` are a record's children; ``element`` is a list's element or a map's value."""

    name: str
    path: str  # dotted property path, e.g. "customer.address.city"
    type: str
    nullable: bool
    default: object = None
    doc: str | None = None
    json_text: bool = False
    fields: tuple[JsonField, ...] = ()
    element: JsonField | None = None


def root_fields(root: SchemaNode) -> tuple[JsonField, ...]:
    """The fields of the schema's top-level object (empty when the root is not an object)."""
    node, _ = _unwrap(root.resolved())
    if node.types != frozenset({"object"}) or not node.properties:
        return ()
    return _record_fields(node, "", set())


def _record_fields(node: SchemaNode, prefix: str, active: set[int]) -> tuple[JsonField, ...]:
    return tuple(
        _field(name, f"{prefix}{name}", child, name in node.required, active)
        for name, child in node.properties.items()
    )


def _field(name: str, path: str, node: SchemaNode, required: bool, active: set[int]) -> JsonField:
    target = node.resolved()
    inner, nullable = _unwrap(target)
    kind, fields, element = _kind(inner, path, active)
    default = node.get("default", target.get("default"))
    doc = node.get("description", target.get("description"))
    return JsonField(
        name=name,
        path=path,
        type="string" if kind == "json" else kind,
        nullable=nullable or not required,
        default=default,
        doc=doc,
        json_text=kind == "json",
        fields=fields,
        element=element,
    )


def _unwrap(node: SchemaNode) -> tuple[SchemaNode, bool]:
    """The non-null part of a nullable union, and whether null is admitted."""
    types = node.types
    if types and "null" in types and len(types) == 2 and not node.combinators:
        return node, True  # the type list itself; _kind ignores the "null"
    for _, branches in node.combinators:
        if node.is_pure_combination and len(branches) == 2:
            nulls = [b for b in branches if b.resolved().types == frozenset({"null"})]
            if len(nulls) == 1:
                other = next(b for b in branches if b is not nulls[0])
                return other.resolved(), True
    return node, False


def _kind(node: SchemaNode, path: str, active: set[int]):
    types = (node.types or frozenset()) - {"null"}
    if len(types) != 1 or node.combinators or id(node) in active:
        return "json", (), None
    (json_type,) = types
    if json_type in SCALAR_TYPES:
        if json_type == "string":
            return FORMAT_TYPES.get(node.get("format"), "string"), (), None
        return SCALAR_TYPES[json_type], (), None
    active = active | {id(node)}
    if json_type == "object":
        if node.properties:
            return "record", _record_fields(node, f"{path}.", active), None
        values = node.child("additionalProperties")
        if values is not None and not values.is_empty and not values.is_false and not node.pattern_properties:
            return "map", (), _field("value", f"{path}.value", values, True, active)
        return "json", (), None
    if json_type == "array" and node.all_items is not None and not node.all_items.is_empty:
        return "list", (), _field("element", f"{path}.element", node.all_items, True, active)
    return "json", (), None
