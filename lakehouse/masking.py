"""Keyed hashing of PII fields (HMAC-SHA256), used by the gate (``mask_pii_at: bronze``) and Silver.

A keyed hash keeps joins and distinct counts working while the clear value cannot be recovered, nor
guessed by hashing candidate values, without the key. The key comes from ``MESHGATE_PII_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pyarrow as pa
import pyarrow.compute as pc

from registry.errors import MeshgateError

KEY_ENV = "MESHGATE_PII_KEY"


class MissingPiiKey(MeshgateError):
    """Masking is required but no key is configured."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 412
    error_code = 41201


class UnknownPiiField(MeshgateError):
    """A contract names a PII field path that its schema does not have."""

    grpc_status = "INVALID_ARGUMENT"
    http_status = 422
    error_code = 42210


def pii_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the value's UTF-8 bytes, as 64 hex characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_key() -> bytes:
    """The masking key from the environment; a clear error when it is not set."""
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise MissingPiiKey(
            f"{KEY_ENV} is not set: the contract masks PII fields with HMAC-SHA256 and needs a key "
            f"(export {KEY_ENV}=<secret>, the same secret for every run so hashes stay joinable)"
        )
    return key.encode("utf-8")


def mask_table(table: pa.Table, pii_fields: list[str], key: bytes) -> pa.Table:
    """The table with every PII field (dotted path through structs) replaced by its keyed hash.

    Each distinct value is hashed once (dictionary encoding), so the cost follows the number of
    distinct values, not rows. Masked columns become strings; nulls stay null.
    """
    for path in pii_fields:
        parts = path.split(".")
        index = table.schema.get_field_index(parts[0])
        if index < 0:
            raise UnknownPiiField(f"PII field {path!r}: no column {parts[0]!r} in {table.schema.names}")
        masked = _mask_path(table.column(index), parts[1:], key, path)
        table = table.set_column(index, pa.field(parts[0], masked.type), masked)
    return table


def masked_schema(schema: pa.Schema, pii_fields: list[str]) -> pa.Schema:
    """The schema ``mask_table`` produces: PII fields become nullable strings."""
    for path in pii_fields:
        parts = path.split(".")
        index = schema.get_field_index(parts[0])
        if index < 0:
            raise UnknownPiiField(f"PII field {path!r}: no column {parts[0]!r} in {schema.names}")
        schema = schema.set(index, _masked_field(schema.field(index), parts[1:], path))
    return schema


def _masked_field(field: pa.Field, rest: list[str], path: str) -> pa.Field:
    if not rest:
        return pa.field(field.name, pa.string(), nullable=True, metadata=field.metadata)
    if not pa.types.is_struct(field.type):
        raise UnknownPiiField(f"PII field {path!r}: {field.name!r} is not a record, cannot hold {rest[0]!r}")
    children = [field.type.field(i) for i in range(field.type.num_fields)]
    names = [child.name for child in children]
    if rest[0] not in names:
        raise UnknownPiiField(f"PII field {path!r}: no field {rest[0]!r} in {field.name!r} ({names})")
    at = names.index(rest[0])
    children[at] = _masked_field(children[at], rest[1:], path)
    return pa.field(field.name, pa.struct(children), nullable=field.nullable, metadata=field.metadata)


def _mask_path(column: pa.ChunkedArray | pa.Array, rest: list[str], key: bytes, path: str) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not rest:
        return _hash_array(array, key)
    if not pa.types.is_struct(array.type):
        raise UnknownPiiField(f"PII field {path!r}: the column holding {rest[0]!r} is not a record")
    names = [array.type.field(i).name for i in range(array.type.num_fields)]
    if rest[0] not in names:
        raise UnknownPiiField(f"PII field {path!r}: no field {rest[0]!r} (have {names})")
    children = [array.field(i) for i in range(len(names))]
    at = names.index(rest[0])
    children[at] = _mask_path(children[at], rest[1:], key, path)
    fields = [array.type.field(i).with_type(children[i].type) for i in range(len(names))]
    fields[at] = fields[at].with_nullable(True)
    return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null())


def _hash_array(array: pa.Array, key: bytes) -> pa.Array:
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string())
    encoded = pc.dictionary_encode(array)
    hashed = pa.array([pii_hash(v, key) for v in encoded.dictionary.to_pylist()], type=pa.string())
    return hashed.take(encoded.indices)
