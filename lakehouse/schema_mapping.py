"""Contract schemas mapped to Arrow, the shape the gate decodes into.

One place owns the mapping (the table is in docs/lakehouse-types.md): it reads the format's neutral
field tree (``registry.compat.fields``), so it never looks at Avro JSON or Protobuf descriptors and
never asks which format a contract has. Iceberg is reached from Arrow by pyiceberg, so Arrow types are
chosen to be Iceberg-legal: timestamps are microseconds, unsigned 64-bit integers arrive as
decimal(20, 0), enums become strings whose symbols sit in field metadata (``enum``: JSON list) so the
validator can check them. Field docs go to field metadata ``doc``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from registry.compat import ParsedSchema, get_format
from registry.compat.fields import Field, Type
from registry.compat.limits import check_structure
from registry.contract import Contract
from registry.errors import InvalidSchema
from registry.limits import check_schema_text

TIMESTAMP = pa.timestamp("us", tz="UTC")
LOCAL_TIMESTAMP = pa.timestamp("us")
UINT64 = pa.decimal128(20, 0)  # what Protobuf's uint64 (the neutral decimal(20, 0)) maps to

DOC_KEY = b"doc"
ENUM_KEY = b"enum"


def contract_schema(contract: Contract, references: dict[str, str] | None = None) -> ParsedSchema:
    """The contract's schema parsed by its format: fields, and what decoders need (fastavro
    schema, Protobuf message classes). ``references`` maps import names to schema text."""
    return _parsed(contract.format, contract.schema, _schema_name(contract), _freeze(references))


def arrow_schema(contract: Contract, references: dict[str, str] | None = None) -> pa.Schema:
    """The Arrow schema of the contract's data columns (no gate columns like ``_batch_id``).

    ``references`` maps import names to schema text for contracts that import other subjects.
    """
    return _arrow_schema(contract.format, contract.schema, _schema_name(contract), _freeze(references))


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
    return contract_schema(contract, references).fastavro_schema


def message_class(contract: Contract, full_name: str | None = None, references: dict[str, str] | None = None):
    """The generated Python class of a Protobuf contract's message.

    ``full_name`` picks a message (``identity.v1.UserSignedUp``); by default the first message of the
    contract's file, the convention the gate documents.
    """
    return contract_schema(contract, references).message_class(full_name)


def _freeze(references: dict[str, str] | None) -> tuple:
    """A cache key that keeps the given order: Avro must meet a named type before its uses."""
    return tuple((references or {}).items())


def _schema_name(contract: Contract) -> str:
    return Path(contract.schema_file).name if contract.schema_file else "schema"


@lru_cache(maxsize=64)
def _parsed(format_name: str, text: str, source_name: str, references: tuple) -> ParsedSchema:
    """The registry's text and structure limits first: a contract file (or a schema registered before
    the limits) bypasses the registry, and a ``fixed`` of 10^30 bytes would overflow Arrow's types."""
    try:
        schema_format = get_format(format_name)
    except ValueError:
        raise InvalidSchema(f"unsupported contract format {format_name!r}") from None
    for name, schema_text in (*references, (source_name, text)):
        check_schema_text(schema_text, name)
        check_structure(format_name, schema_text, name)
    return schema_format.parse(text, dict(references), source_name=source_name)


@lru_cache(maxsize=64)
def _arrow_schema(format_name: str, text: str, source_name: str, references: tuple) -> pa.Schema:
    schema = _parsed(format_name, text, source_name, references)
    fields = schema.fields()
    if not fields:  # Bronze keeps the declared fields: every value of every batch would be dropped
        raise InvalidSchema(
            f"{source_name}: the schema declares no fields, so Bronze would keep no value of a batch; "
            "declare the fields (a free-form value can be one field of type object)"
        )
    return pa.schema([_arrow_field(f.name, f) for f in fields])


def _arrow_field(name: str, field: Field) -> pa.Field:
    """``name``: Arrow's own name for list items (``item``) and map values (``value``)."""
    arrow_type = _arrow_type(field.type, field.path)
    symbols = list(field.type.symbols) if field.type.kind == "enum" else None
    return _field(name, arrow_type, field.nullable, field.doc, symbols)


_PRIMITIVES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
    "uuid": pa.string(),  # Arrow has no uuid type pyiceberg writes
    "date": pa.date32(),
    "time": pa.time64("us"),
    "enum": pa.string(),  # the symbols go to field metadata
    "json": pa.string(),  # canonical JSON text of a value with no typed mapping
}


def _arrow_type(neutral: Type, path: str) -> pa.DataType:
    kind = neutral.kind
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "timestamp":  # Iceberg v2 timestamps are microseconds
        return TIMESTAMP if neutral.tz else LOCAL_TIMESTAMP
    if kind == "decimal":
        return pa.decimal128(neutral.precision, neutral.scale)
    if kind == "fixed":
        return pa.binary(neutral.size)
    if kind == "record":
        return pa.struct([_arrow_field(f.name, f) for f in neutral.fields])
    if kind == "list":
        return pa.list_(_arrow_field("item", neutral.element))
    if kind == "map":
        return pa.map_(_arrow_type(neutral.key.type, neutral.key.path), _arrow_field("value", neutral.value))
    if kind == "union":
        raise InvalidSchema(
            f"{path}: union of {len(neutral.branches)} non-null types has no Iceberg equivalent; use a record"
        )
    raise InvalidSchema(f"{path}: type {kind!r} has no Arrow mapping")


def _field(name: str, arrow_type, nullable: bool, doc: str | None, symbols: list[str] | None) -> pa.Field:
    metadata = {}
    if doc:
        metadata[DOC_KEY] = doc.encode()
    if symbols is not None:
        metadata[ENUM_KEY] = json.dumps(symbols).encode()
    return pa.field(name, arrow_type, nullable=nullable, metadata=metadata or None)
