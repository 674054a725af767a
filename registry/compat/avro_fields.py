"""The neutral field tree (``registry.compat.fields``) of an Avro schema, built from our typed model.

A union with ``null`` is a nullable field of its other branch; a union of several non-null types is a
``union``. Logical types the vocabulary has become their neutral kind (``decimal``, ``date``,
``time``, ``timestamp``, ``uuid``); the others (``timestamp-nanos``, ``duration``, ``big-decimal``)
stay their underlying Avro type, which is also what fastavro decodes them to. Defaults of ``bytes``
and ``fixed`` (Avro JSON: one code point per byte) become bytes, a decimal's its exact value. A record used inside
itself has no finite tree and is refused with the path of the use.
"""

from __future__ import annotations

from decimal import Decimal

from registry.compat.avro_model import Array, AvroType, Enum, Fixed, Map, Record, Union
from registry.compat.avro_model import Field as AvroField
from registry.compat.fields import Field, Type
from registry.errors import InvalidSchema

_LOGICAL = {
    "date": Type("date", base="int"),
    "time-millis": Type("time", unit="millis", base="int"),
    "time-micros": Type("time", unit="micros", base="long"),
    "timestamp-millis": Type("timestamp", unit="millis", tz="UTC", base="long"),
    "timestamp-micros": Type("timestamp", unit="micros", tz="UTC", base="long"),
    "local-timestamp-millis": Type("timestamp", unit="millis", base="long"),
    "local-timestamp-micros": Type("timestamp", unit="micros", base="long"),
    "uuid": Type("uuid"),
}


def record_fields(root: AvroType) -> tuple[Field, ...]:
    """The fields of the top-level record, paths starting at its short name."""
    if not isinstance(root, Record):
        raise InvalidSchema("an Avro contract's top-level type must be a record")
    return _fields(root, root.name, (root.fullname,))


def _fields(record: Record, path: str, stack: tuple[str, ...]) -> tuple[Field, ...]:
    return tuple(_field(f, f"{path}.{f.name}", stack) for f in record.fields)


def _field(avro_field: AvroField, path: str, stack: tuple[str, ...]) -> Field:
    neutral, nullable = _nullable_type(avro_field.type, path, stack)
    return Field(
        avro_field.name,
        path,
        neutral,
        nullable=nullable,
        has_default=avro_field.has_default,
        default=_default(neutral, avro_field.default),
        doc=avro_field.doc,
        aliases=avro_field.aliases,
    )


def _default(neutral: Type, value: object) -> object:
    """An Avro default as the neutral tree holds it: ``bytes``/``fixed`` (and a decimal on them) are
    written in Avro JSON as strings of code points 0-255, one per byte."""
    if value is None:
        return None
    kind = neutral.kind
    if kind in ("bytes", "fixed") and isinstance(value, str):
        return value.encode("latin-1")
    if kind == "decimal" and isinstance(value, str):
        unscaled = int.from_bytes(value.encode("latin-1"), "big", signed=True)
        return Decimal(unscaled).scaleb(-neutral.scale)
    if kind == "record" and isinstance(value, dict):
        types = {f.name: f.type for f in neutral.fields}
        return {k: _default(types[k], v) if k in types else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_default(neutral.element.type, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _default(neutral.value.type, v) for k, v in value.items()}
    return value


def _slot(name: str, node: AvroType, path: str, stack: tuple[str, ...]) -> Field:
    neutral, nullable = _nullable_type(node, path, stack)
    return Field(name, path, neutral, nullable=nullable)


def _nullable_type(node: AvroType, path: str, stack: tuple[str, ...]) -> tuple[Type, bool]:
    """``(type, nullable)``: ``["null", T]`` is a nullable T."""
    if node.kind == "null":
        return Type("null"), True
    if not isinstance(node, Union):
        return _type(node, path, stack), False
    others = [branch for branch in node.branches if branch.kind != "null"]
    nullable = len(others) != len(node.branches)
    if not others:
        return Type("null"), True
    if len(others) == 1:
        return _type(others[0], path, stack), nullable
    return Type("union", branches=tuple(_type(b, path, stack) for b in others)), nullable


def _type(node: AvroType, path: str, stack: tuple[str, ...]) -> Type:
    if node.logical == "decimal":
        return Type("decimal", precision=node.precision, scale=node.scale)
    if node.logical in _LOGICAL:
        return _LOGICAL[node.logical]
    if isinstance(node, Record):
        if node.fullname in stack:
            raise InvalidSchema(f"{path}: recursive Avro type {node.fullname!r} has no Arrow mapping")
        return Type("record", name=node.fullname, fields=_fields(node, path, (*stack, node.fullname)))
    if isinstance(node, Enum):
        return Type("enum", name=node.fullname, symbols=node.symbols)
    if isinstance(node, Fixed):
        return Type("fixed", size=node.size)
    if isinstance(node, Array):
        return Type("list", element=_slot("element", node.items, f"{path}[]", stack))
    if isinstance(node, Map):
        key = Field("key", f"{path}{{key}}", Type("string"))
        return Type("map", key=key, value=_slot("value", node.values, f"{path}{{}}", stack))
    return Type(node.kind)  # a primitive: boolean, int, long, float, double, string, bytes
