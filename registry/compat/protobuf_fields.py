"""The neutral field tree (``registry.compat.fields``) of a Protobuf message, from its descriptors.

Every field may be absent on the wire except a proto2 ``required`` one, so every other field is
nullable. Unsigned integers widen (``uint32`` to ``long``, ``uint64`` to ``decimal(20, 0)``: the
vocabulary has no unsigned types); ``google.protobuf.Timestamp`` is a UTC timestamp; the wrapper
types are their wrapped scalar; ``Struct``, ``Value`` and ``ListValue`` (any JSON) are ``json``;
``Duration`` stays the record of its ``seconds`` and ``nanos``. A field without presence (a proto3
scalar, a repeated field, a map) has its implicit default, as a decoded message reads it. Docs are
the leading comments of the main file's fields. A message used inside itself has no finite tree and
is refused.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from registry.compat.fields import Field, Type
from registry.errors import InvalidSchema

TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
STRUCT, VALUE, LIST_VALUE = "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"
JSON_VALUES = frozenset({STRUCT, VALUE, LIST_VALUE})
"""The well-known types that hold any JSON (``struct.proto``): the ``json`` kind, named by type."""
UINT64 = Type("decimal", precision=20, scale=0)  # lossless; a long would overflow above 2^63-1

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: Type("double"),
    FieldDescriptor.TYPE_FLOAT: Type("float"),
    FieldDescriptor.TYPE_INT32: Type("int"),
    FieldDescriptor.TYPE_SINT32: Type("int"),
    FieldDescriptor.TYPE_SFIXED32: Type("int"),
    FieldDescriptor.TYPE_INT64: Type("long"),
    FieldDescriptor.TYPE_SINT64: Type("long"),
    FieldDescriptor.TYPE_SFIXED64: Type("long"),
    FieldDescriptor.TYPE_UINT32: Type("long"),
    FieldDescriptor.TYPE_FIXED32: Type("long"),
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
    FieldDescriptor.TYPE_BOOL: Type("boolean"),
    FieldDescriptor.TYPE_STRING: Type("string"),
    FieldDescriptor.TYPE_BYTES: Type("bytes"),
}
WRAPPERS = {
    "google.protobuf.DoubleValue": Type("double"),
    "google.protobuf.FloatValue": Type("float"),
    "google.protobuf.Int64Value": Type("long"),
    "google.protobuf.UInt64Value": UINT64,
    "google.protobuf.Int32Value": Type("int"),
    "google.protobuf.UInt32Value": Type("long"),
    "google.protobuf.BoolValue": Type("boolean"),
    "google.protobuf.StringValue": Type("string"),
    "google.protobuf.BytesValue": Type("bytes"),
}
"""The wrapper messages, each described as the scalar in its ``value`` field."""


def message_fields(message: Descriptor, comments: dict[str, str]) -> tuple[Field, ...]:
    """The fields of ``message``, paths starting at its name; ``comments`` by field full name."""
    return _fields(message, message.name, comments, ())


def _fields(message: Descriptor, path: str, comments: dict, stack: tuple[str, ...]) -> tuple[Field, ...]:
    if message.full_name in stack:
        raise InvalidSchema(f"{message.full_name}: recursive messages have no Iceberg equivalent")
    stack = (*stack, message.full_name)
    return tuple(_field(f, f"{path}.{f.name}", comments, stack) for f in message.fields)


def _field(field: FieldDescriptor, path: str, comments: dict, stack: tuple[str, ...]) -> Field:
    if _is_map(field):
        entry = field.message_type.fields_by_name
        key = Field("key", f"{path}{{key}}", _type(entry["key"], path, comments, stack))
        value = Field("value", f"{path}{{}}", _type(entry["value"], f"{path}{{}}", comments, stack), True)
        neutral = Type("map", key=key, value=value)
    elif field.is_repeated:
        element = _type(field, f"{path}[]", comments, stack)
        neutral = Type("list", element=Field("element", f"{path}[]", element))
    else:
        neutral = _type(field, path, comments, stack)
    has_default, default = _default(field, neutral)
    return Field(
        field.name,
        path,
        neutral,
        nullable=not field.is_required,
        has_default=has_default,
        default=default,
        doc=comments.get(field.full_name),
        number=field.number,
        json_name=field.json_name,
    )


def _default(field: FieldDescriptor, neutral: Type) -> tuple[bool, object]:
    """What an absent field reads as, as a JSON value of its type: a declared (proto2) default; the
    proto3 implicit default of a field without presence (``0``, ``""``, ``false``, empty bytes, the
    enum's first value, an empty list or map); none (null) for ``optional`` scalars and messages."""
    if field.is_repeated:
        return True, {} if neutral.kind == "map" else []
    if field.has_default_value:
        return True, _json_default(field, field.default_value)
    if field.has_presence:
        return False, None
    return True, _json_default(field, field.default_value)


def _json_default(field: FieldDescriptor, value: object) -> object:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number.get(value, field.enum_type.values[0]).name
    return value


def _type(field: FieldDescriptor, path: str, comments: dict, stack: tuple[str, ...]) -> Type:
    if field.type == FieldDescriptor.TYPE_ENUM:
        values = field.enum_type.values
        return Type(
            "enum",
            name=field.enum_type.full_name,
            symbols=tuple(v.name for v in values),
            numbers=tuple(v.number for v in values),
        )
    if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
        name = field.message_type.full_name
        if name == TIMESTAMP:
            return Type("timestamp", unit="nanos", tz="UTC")
        if name in WRAPPERS:
            return WRAPPERS[name]
        if name in JSON_VALUES:
            return Type("json", name=name)
        return Type("record", name=name, fields=_fields(field.message_type, path, comments, stack))
    return _SCALARS[field.type]


def _is_map(field: FieldDescriptor) -> bool:
    return (
        field.is_repeated
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def leading_comments(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    """Leading comments of fields, keyed by the field's full name (from protoc's source info)."""
    by_path = {
        tuple(loc.path): loc.leading_comments.strip()
        for loc in proto.source_code_info.location
        if loc.leading_comments
    }
    comments: dict[str, str] = {}

    def walk(messages, prefix: tuple, scope: str) -> None:
        for i, message in enumerate(messages):
            name = f"{scope}.{message.name}" if scope else message.name
            for j, field in enumerate(message.field):
                text = by_path.get((*prefix, i, 2, j))
                if text:
                    comments[f"{name}.{field.name}"] = text
            walk(message.nested_type, (*prefix, i, 3), name)

    walk(proto.message_type, (4,), proto.package)
    return comments
