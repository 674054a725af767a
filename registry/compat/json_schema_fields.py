"""A JSON Schema's fields as the neutral field tree (``registry.compat.fields``).

The mapping (issue 14; docs/json-schema-compatibility.md): ``integer`` -> long, ``number`` -> double,
``boolean`` -> boolean, ``string`` -> string, or timestamp (UTC, microseconds) / date / time / uuid by
``format`` (``date-time``, ``date``, ``time``, ``uuid``); an ``object`` with ``properties`` -> record;
an ``object`` with only ``additionalProperties: <schema>`` -> map from string keys to that schema; an
``array`` with one ``items`` schema -> list; a nullable union (``type: [T, "null"]``, ``anyOf`` /
``oneOf`` of T and ``{"type": "null"}``) -> T, nullable. Anything else (free-form objects,
heterogeneous unions, tuples, ``null`` alone, recursion) is kind ``json``: a string column holding
the value's canonical JSON. A property is nullable unless it is required and not nullable itself.
JSON Schema names no types, so paths start at the property (``page.url``, ``tags[]``, ``attrs{}``).
"""

from __future__ import annotations

from registry.compat.fields import Field, Type
from registry.compat.json_schema_model import SchemaNode

_FORMAT_TYPES = {
    "date-time": Type("timestamp", unit="micros", tz="UTC"),
    "date": Type("date"),
    "time": Type("time", unit="micros"),
    "uuid": Type("uuid"),
}
_SCALAR_TYPES = {"integer": Type("long"), "number": Type("double"), "boolean": Type("boolean")}
_JSON = Type("json")
_STRING_KEY = Type("string")


def root_fields(root: SchemaNode) -> tuple[Field, ...]:
    """The fields of the schema's top-level object (empty when the root is not an object)."""
    node, _ = _unwrap(root.resolved())
    if node.types not in (None, frozenset({"object"})) or not node.properties:
        return ()  # a root without "type" but with properties is an object all the same
    return _record_fields(node, "", set())


def _record_fields(node: SchemaNode, prefix: str, active: set[int]) -> tuple[Field, ...]:
    return tuple(
        _field(name, f"{prefix}{name}", child, name in node.required, active)
        for name, child in node.properties.items()
    )


def _field(name: str, path: str, node: SchemaNode, required: bool, active: set[int]) -> Field:
    target = node.resolved()
    inner, nullable = _unwrap(target)
    default = node.get("default", target.get("default"))
    return Field(
        name=name,
        path=path,
        type=_type(inner, path, active),
        nullable=nullable or not required,
        has_default=node.has("default") or target.has("default"),
        default=default,
        doc=node.get("description", target.get("description")),
    )


def _unwrap(node: SchemaNode) -> tuple[SchemaNode, bool]:
    """The non-null part of a nullable union, and whether null is admitted."""
    types = node.types
    if types and "null" in types and len(types) == 2 and not node.combinators:
        return node, True  # the type list itself; _type ignores the "null"
    for _, branches in node.combinators:
        if node.is_pure_combination and len(branches) == 2:
            nulls = [b for b in branches if b.resolved().types == frozenset({"null"})]
            if len(nulls) == 1:
                other = next(b for b in branches if b is not nulls[0])
                return other.resolved(), True
    return node, False


def _type(node: SchemaNode, path: str, active: set[int]) -> Type:
    types = (node.types or frozenset()) - {"null"}
    if len(types) != 1 or node.combinators or id(node) in active:
        return _JSON
    (json_type,) = types
    if json_type == "string":
        return _FORMAT_TYPES.get(node.get("format"), Type("string"))
    if json_type in _SCALAR_TYPES:
        return _SCALAR_TYPES[json_type]
    active = active | {id(node)}
    if json_type == "object":
        if node.properties:
            return Type("record", name=path or None, fields=_record_fields(node, f"{path}.", active))
        values = node.child("additionalProperties")
        if values is not None and not values.is_empty and not values.is_false and not node.pattern_properties:
            key = Field("key", f"{path}{{}}", _STRING_KEY)
            return Type("map", key=key, value=_field("value", f"{path}{{}}", values, True, active))
        return _JSON
    if json_type == "array" and node.all_items is not None and not node.all_items.is_empty:
        return Type("list", element=_field("element", f"{path}[]", node.all_items, True, active))
    return _JSON
