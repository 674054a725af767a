"""Contract schemas (Avro, Protobuf) mapped to Arrow, the shape the gate decodes into.

One place owns the mapping (the table is in docs/lakehouse-types.md). Iceberg is reached from Arrow by
pyiceberg, so Arrow types are chosen to be Iceberg-legal: timestamps are microseconds in UTC, unsigned
64-bit integers become decimal(20, 0), enums become strings whose symbols sit in field metadata
(``enum``: JSON list) so the validator can check them. Field docs go to field metadata ``doc``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fastavro
import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from registry.compat.protobuf_compile import MAIN_FILE, compile_proto
from registry.contract import Contract
from registry.errors import InvalidSchema

TIMESTAMP = pa.timestamp("us", tz="UTC")
LOCAL_TIMESTAMP = pa.timestamp("us")
UINT64 = pa.decimal128(20, 0)

DOC_KEY = b"doc"
ENUM_KEY = b"enum"


def arrow_schema(contract: Contract, references: dict[str, str] | None = None) -> pa.Schema:
    """The Arrow schema of the contract's data columns (no gate columns like ``_batch_id``).

    ``references`` maps import names to schema text for contracts that import other subjects.
    """
    if contract.format == "AVRO":
        return _avro_schema(contract.schema, _freeze(references))
    if contract.format == "PROTOBUF":
        return _proto_schema(contract.schema, _schema_name(contract), _freeze(references))
    raise InvalidSchema(f"unsupported contract format {contract.format!r}")


def nullable(schema: pa.Schema) -> pa.Schema:
    """The same schema with every field, nested ones too, nullable; docs and enum symbols kept.

    Decoded tables have this shape: a missing required value stays a null in the table and is
    reported as a ``required`` violation, instead of making the whole block undecodable.
    """
    return pa.schema([_nullable_field(f) for f in schema], metadata=schema.metadata)


def _nullable_field(field: pa.Field) -> pa.Field:
    arrow_type = field.type
    if pa.types.is_struct(arrow_type):
        arrow_type = pa.struct([_nullable_field(child) for child in arrow_type])
    elif pa.types.is_list(arrow_type):
        arrow_type = pa.list_(_nullable_field(arrow_type.value_field))
    elif pa.types.is_map(arrow_type):
        arrow_type = pa.map_(arrow_type.key_type, _nullable_field(arrow_type.item_field))
    return field.with_type(arrow_type).with_nullable(True)


def parsed_schema(contract: Contract, references: dict[str, str] | None = None) -> dict:
    """fastavro's parsed form of an Avro contract (used as reader schema when decoding).

    It stands alone: a type named from a reference is written out where first used, so the schema
    can also be a container file's writer schema, which has no references of its own.
    """
    return _standalone_avro(contract.schema, _freeze(references))


def message_class(contract: Contract, full_name: str | None = None, references: dict[str, str] | None = None):
    """The generated Python class of a Protobuf contract's message.

    ``full_name`` picks a message (``identity.v1.UserSignedUp``); by default the first message of the
    contract's file, the convention the gate documents.
    """
    descriptor = message_descriptor(contract, full_name, references)
    return message_factory.GetMessageClass(descriptor)


def message_descriptor(
    contract: Contract, full_name: str | None = None, references: dict[str, str] | None = None
) -> Descriptor:
    main = _schema_name(contract)
    pool = _proto_pool(contract.schema, main, _freeze(references))
    if full_name is None:
        file = pool.FindFileByName(MAIN_FILE)
        if not file.message_types_by_name:
            raise InvalidSchema(f"{main}: the contract's .proto file defines no message")
        return next(iter(file.message_types_by_name.values()))
    try:
        return pool.FindMessageTypeByName(full_name)
    except KeyError:
        raise InvalidSchema(f"{main}: no message {full_name!r} in the contract's schema") from None


def file_descriptor(contract: Contract, references: dict[str, str] | None = None):
    """The FileDescriptor of a Protobuf contract's own file (to resolve Confluent message indexes)."""
    return _proto_pool(contract.schema, _schema_name(contract), _freeze(references)).FindFileByName(MAIN_FILE)


# --- Avro -----------------------------------------------------------------------------------------


def _freeze(references: dict[str, str] | None) -> tuple:
    """A cache key that keeps the given order: Avro must meet a named type before its uses."""
    return tuple((references or {}).items())


def _schema_name(contract: Contract) -> str:
    return Path(contract.schema_file).name if contract.schema_file else "schema.proto"


@lru_cache(maxsize=64)
def _parsed_avro(text: str, references: tuple) -> tuple[dict, dict]:
    """``(parsed schema, full name -> named type)``: a field may name a type defined elsewhere."""
    named: dict = {}
    try:
        for _, ref_text in references:
            fastavro.parse_schema(json.loads(ref_text), named_schemas=named)
        return fastavro.parse_schema(json.loads(text), named_schemas=named), named
    except (ValueError, fastavro.schema.SchemaParseException, TypeError) as exc:
        raise InvalidSchema(f"Avro schema does not parse: {exc}") from None


@lru_cache(maxsize=64)
def _standalone_avro(text: str, references: tuple) -> dict:
    parsed, named = _parsed_avro(text, references)
    if not references:
        return parsed
    return fastavro.parse_schema(_inline_named(parsed, named, set()))


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


@lru_cache(maxsize=64)
def _avro_schema(text: str, references: tuple) -> pa.Schema:
    parsed, named = _parsed_avro(text, references)
    if parsed.get("type") != "record":
        raise InvalidSchema("an Avro contract's top-level type must be a record")
    return pa.schema([_avro_field(f, parsed["name"], named, (parsed["name"],)) for f in parsed["fields"]])


def _avro_field(field: dict, parent: str, named: dict, stack: tuple) -> pa.Field:
    path = f"{parent}.{field['name']}"
    avro_type, nullable = _strip_null(field["type"], path)
    arrow_type, enum_symbols = _avro_type(avro_type, path, named, stack)
    return _field(field["name"], arrow_type, nullable, field.get("doc"), enum_symbols)


def _strip_null(avro_type, path: str) -> tuple:
    """``["null", T]`` is an optional T; other unions have no Iceberg equivalent."""
    if not isinstance(avro_type, list):
        return avro_type, avro_type == "null"
    branches = [b for b in avro_type if b != "null"]
    if len(branches) != 1:
        raise InvalidSchema(
            f"{path}: union of {len(branches)} non-null types has no Iceberg equivalent; use a record"
        )
    return branches[0], len(branches) != len(avro_type)


_AVRO_PRIMITIVES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_AVRO_LOGICAL = {
    "date": pa.date32(),
    "time-millis": pa.time64("us"),
    "time-micros": pa.time64("us"),
    "timestamp-millis": TIMESTAMP,
    "timestamp-micros": TIMESTAMP,
    "local-timestamp-millis": LOCAL_TIMESTAMP,
    "local-timestamp-micros": LOCAL_TIMESTAMP,
    "uuid": pa.string(),
}


def _avro_type(avro_type, path: str, named: dict, stack: tuple) -> tuple[pa.DataType, list[str] | None]:
    """``named`` resolves a type used by name (defined earlier or in a reference); ``stack`` holds
    the records being expanded, as a recursive type has no finite Arrow shape."""
    if isinstance(avro_type, str):
        if avro_type in _AVRO_PRIMITIVES:
            return _AVRO_PRIMITIVES[avro_type], None
        if avro_type in stack:
            raise InvalidSchema(f"{path}: recursive Avro type {avro_type!r} has no Arrow mapping")
        if avro_type in named:
            return _avro_type(named[avro_type], path, named, stack)
        raise InvalidSchema(f"{path}: Avro type {avro_type!r} has no Arrow mapping")
    if isinstance(avro_type, list):
        inner, _ = _strip_null(avro_type, path)
        return _avro_type(inner, path, named, stack)
    logical = avro_type.get("logicalType")
    if logical == "decimal":
        return pa.decimal128(avro_type["precision"], avro_type.get("scale", 0)), None
    if logical in _AVRO_LOGICAL:
        return _AVRO_LOGICAL[logical], None
    kind = avro_type["type"]
    if kind == "record":
        inner = (*stack, avro_type["name"])
        return pa.struct([_avro_field(f, path, named, inner) for f in avro_type["fields"]]), None
    if kind == "enum":
        return pa.string(), list(avro_type["symbols"])
    if kind == "array":
        item_type, item_nullable = _strip_null(avro_type["items"], path + "[]")
        arrow_item, symbols = _avro_type(item_type, path + "[]", named, stack)
        return pa.list_(_field("item", arrow_item, item_nullable, None, symbols)), None
    if kind == "map":
        value_type, value_nullable = _strip_null(avro_type["values"], path + "{}")
        arrow_value, symbols = _avro_type(value_type, path + "{}", named, stack)
        value = _field("value", arrow_value, value_nullable, None, symbols)
        return pa.map_(pa.string(), value), None
    if kind == "fixed":
        return pa.binary(avro_type["size"]), None
    return _avro_type(kind, path, named, stack)


def _field(name: str, arrow_type, nullable: bool, doc: str | None, symbols: list[str] | None) -> pa.Field:
    metadata = {}
    if doc:
        metadata[DOC_KEY] = doc.encode()
    if symbols is not None:
        metadata[ENUM_KEY] = json.dumps(symbols).encode()
    return pa.field(name, arrow_type, nullable=nullable, metadata=metadata or None)


# --- Protobuf -------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _proto_pool(text: str, name: str, references: tuple) -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for file_proto in _compile_proto(text, name, references).file:
        pool.Add(file_proto)
    return pool


@lru_cache(maxsize=64)
def _compile_proto(text: str, name: str, references: tuple) -> descriptor_pb2.FileDescriptorSet:
    """protoc's FileDescriptorSet (imports and comments included) from the registry's compiler."""
    return compile_proto(text, dict(references), source_name=name)


@lru_cache(maxsize=64)
def _proto_schema(text: str, name: str, references: tuple) -> pa.Schema:
    file = _proto_pool(text, name, references).FindFileByName(MAIN_FILE)
    if not file.message_types_by_name:
        raise InvalidSchema(f"{name}: the contract's .proto file defines no message")
    message = next(iter(file.message_types_by_name.values()))
    source = next(f for f in _compile_proto(text, name, references).file if f.name == MAIN_FILE)
    comments = _proto_comments(source)
    return pa.schema(_proto_fields(message, comments, ()))


_PROTO_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: pa.float64(),
    FieldDescriptor.TYPE_FLOAT: pa.float32(),
    FieldDescriptor.TYPE_INT32: pa.int32(),
    FieldDescriptor.TYPE_SINT32: pa.int32(),
    FieldDescriptor.TYPE_SFIXED32: pa.int32(),
    FieldDescriptor.TYPE_INT64: pa.int64(),
    FieldDescriptor.TYPE_SINT64: pa.int64(),
    FieldDescriptor.TYPE_SFIXED64: pa.int64(),
    FieldDescriptor.TYPE_UINT32: pa.int64(),  # Iceberg has no unsigned types: widen
    FieldDescriptor.TYPE_FIXED32: pa.int64(),
    FieldDescriptor.TYPE_UINT64: UINT64,  # lossless; int64 would overflow above 2^63-1
    FieldDescriptor.TYPE_FIXED64: UINT64,
    FieldDescriptor.TYPE_BOOL: pa.bool_(),
    FieldDescriptor.TYPE_STRING: pa.string(),
    FieldDescriptor.TYPE_BYTES: pa.binary(),
}
WRAPPERS = {
    "google.protobuf.DoubleValue": pa.float64(),
    "google.protobuf.FloatValue": pa.float32(),
    "google.protobuf.Int64Value": pa.int64(),
    "google.protobuf.UInt64Value": UINT64,
    "google.protobuf.Int32Value": pa.int32(),
    "google.protobuf.UInt32Value": pa.int64(),
    "google.protobuf.BoolValue": pa.bool_(),
    "google.protobuf.StringValue": pa.string(),
    "google.protobuf.BytesValue": pa.binary(),
}
PROTO_TIMESTAMP = "google.protobuf.Timestamp"


def _proto_fields(message: Descriptor, comments: dict, stack: tuple) -> list[pa.Field]:
    if message.full_name in stack:
        raise InvalidSchema(f"{message.full_name}: recursive messages have no Iceberg equivalent")
    stack = (*stack, message.full_name)
    return [_proto_field(f, comments, stack) for f in message.fields]


def _proto_field(field: FieldDescriptor, comments: dict, stack: tuple) -> pa.Field:
    doc = comments.get(field.full_name)
    if _is_map(field):
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        value_type, symbols = _proto_type(value, comments, stack)
        map_type = pa.map_(
            _proto_type(key, comments, stack)[0], _field("value", value_type, True, None, symbols)
        )
        return _field(field.name, map_type, True, doc, None)
    arrow_type, symbols = _proto_type(field, comments, stack)
    if _is_repeated(field):
        arrow_type = pa.list_(_field("item", arrow_type, False, None, symbols))
        symbols = None
    required = field.is_required  # proto2 only
    return _field(field.name, arrow_type, not required, doc, symbols)


def _proto_type(field: FieldDescriptor, comments: dict, stack: tuple) -> tuple[pa.DataType, list | None]:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return pa.string(), [v.name for v in field.enum_type.values]
    if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
        name = field.message_type.full_name
        if name == PROTO_TIMESTAMP:
            return TIMESTAMP, None
        if name in WRAPPERS:
            return WRAPPERS[name], None
        return pa.struct(_proto_fields(field.message_type, comments, stack)), None
    return _PROTO_SCALARS[field.type], None


def _is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _is_map(field: FieldDescriptor) -> bool:
    return (
        _is_repeated(field)
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _proto_comments(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
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
