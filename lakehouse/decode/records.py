"""Record formats: Avro object container files, length-delimited Protobuf, Confluent wire format.

Each record is decoded to a Python dict shaped like the contract's Arrow schema (docs/lakehouse-
types.md), then a chunk of them becomes one Arrow table. A record whose bytes do not decode is a
``decode`` violation; a file whose framing is broken (truncated, wrong magic byte, unknown schema id)
is an ``InvalidBatch``.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from functools import lru_cache
from typing import BinaryIO

import fastavro
import pyarrow as pa
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from lakehouse.decode.context import BatchContext, SchemaLookup
from lakehouse.decode.values import Mismatch, struct_json
from lakehouse.errors import InvalidBatch
from lakehouse.schema_mapping import contract_schema
from lakehouse.validate import Chunk, RowViolation, redact
from registry.compat import ParsedSchema, get_format
from registry.compat.avro import AvroSchema
from registry.compat.protobuf import ProtobufSchema
from registry.compat.protobuf_fields import JSON_VALUES, TIMESTAMP, WRAPPERS

# What fastavro raises for damaged Avro bytes (beside its own schema errors).
_UNDECODABLE = (
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    StopIteration,
    MemoryError,  # a length field claiming more bytes than memory holds (fastavro allocates first)
    OverflowError,  # a varint past 64 bits
)


@dataclass
class _Record:
    row: int
    offset: int | None
    value: dict | None  # None when it could not be decoded
    problems: list[RowViolation]
    raw: str | None = None


def _record_chunks(records: Iterator[_Record], path: str, batch: BatchContext) -> Iterator[Chunk]:
    pending: list[_Record] = []
    for record in records:
        pending.append(record)
        if len(pending) >= batch.chunk_rows:
            yield _records_to_chunk(pending, path, batch)
            pending = []
    if pending:
        yield _records_to_chunk(pending, path, batch)


def _records_to_chunk(records: list[_Record], path: str, batch: BatchContext) -> Chunk:
    problems = [p for r in records for p in r.problems]
    raw = {r.row: r.raw for r in records if r.problems and r.raw is not None}
    typed = [
        r
        for r in records
        if r.value is not None and not any(p.rule in ("decode", "type") for p in r.problems)
    ]
    try:
        table = pa.Table.from_pylist([r.value for r in typed], schema=batch.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table, typed = _records_one_by_one(typed, batch, problems, raw)
    offsets = {r.row: r.offset for r in records if r.offset is not None}
    rows = pa.array([r.row for r in typed], pa.int64())
    return batch.finish(
        table, rows, problems, raw, path, lambda wanted: {r: offsets[r] for r in wanted if r in offsets}
    )


def _records_one_by_one(typed: list[_Record], batch: BatchContext, problems: list, raw: dict):
    tables, kept = [], []
    for record in typed:
        try:
            tables.append(pa.Table.from_pylist([record.value], schema=batch.schema))
            kept.append(record)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            message = "record does not fit the contract's Arrow types" + ("" if batch.pii else f": {exc}")
            problems.append(RowViolation(record.row, "", "type", "", message, record.offset))
            raw[record.row] = json.dumps(redact(record.value, batch.pii), default=str)
    return (pa.concat_tables(tables) if tables else batch.schema.empty_table()), kept


def _avro_records(stream: BinaryIO, path: str, batch: BatchContext, schema_lookup) -> Iterator[_Record]:
    """Records of an object container file; a record's byte offset is that of its Avro block."""
    row = 0
    try:
        for block in fastavro.block_reader(
            stream, reader_schema=contract_schema(batch.contract, batch.references).fastavro_schema
        ):
            for value in block:
                row += 1
                yield _Record(row, block.offset, value, [])
    except InvalidBatch as exc:
        exc.row = exc.row or row + 1
        raise
    except SchemaParseException as exc:  # the header's writer schema is not an Avro schema
        raise InvalidBatch(
            f"the file's Avro header holds a schema that does not parse ({exc}); not an Avro file "
            "its producer wrote, or a damaged one?",
            file=path,
            row=row + 1,
        ) from None
    except SchemaResolutionError as exc:  # the file's writer schema, not a damaged record
        raise InvalidBatch(
            f"the file's Avro schema does not resolve to the contract's schema ({exc}); ingest it with the "
            "contract version it was written with",
            file=path,
            row=row + 1,
        ) from None
    except (*_UNDECODABLE, RuntimeError, zlib.error) as exc:
        what = "Avro header" if row == 0 else f"Avro record {row + 1}"
        raise InvalidBatch(f"{what} cannot be decoded ({type(exc).__name__}: {exc}); truncated or not an Avro file?",
                           file=path, row=row + 1) from None  # fmt: skip


def _protobuf_records(stream: BinaryIO, path: str, batch: BatchContext, schema_lookup) -> Iterator[_Record]:
    decoder = _ProtoDecoder(batch)
    cls = contract_schema(batch.contract, batch.references).message_class()
    row, offset = 0, 0
    while True:
        row += 1
        length, size = _read_varint(stream, path, row, offset)
        if length is None:
            return
        payload = _read_exactly(stream, length, path, row, offset, batch.max_line_bytes)
        yield decoder.record(cls, payload, row, offset)
        offset += size + length


def _confluent_records(stream: BinaryIO, path: str, batch: BatchContext, schema_lookup) -> Iterator[_Record]:
    if schema_lookup is None:
        raise InvalidBatch(
            "Confluent wire-format input needs a schema lookup to resolve schema ids", file=path
        )
    reader = contract_schema(batch.contract, batch.references)
    payload = _CONFLUENT_PAYLOADS.get(type(reader))
    if payload is None:
        raise InvalidBatch(
            f"Confluent wire-format input of {batch.contract.format} contracts is not supported", path
        )
    decoder = _ProtoDecoder(batch)
    writers = _WriterCache(schema_lookup, path, batch.references)
    row, offset = 0, 0
    while True:
        row += 1
        header = stream.read(4)
        if not header:
            return
        if len(header) < 4:
            raise InvalidBatch(
                "file ends inside a record's 4-byte length prefix (truncated)", path, row, offset
            )
        record = _read_exactly(stream, int.from_bytes(header, "big"), path, row, offset, batch.max_line_bytes)
        if len(record) < 5 or record[0] != 0:
            found = f"0x{record[0]:02x}" if record else "an empty record"
            raise InvalidBatch(
                f"wrong magic byte: {found}, Confluent wire format starts with 0x00", path, row, offset
            )
        schema_id = int.from_bytes(record[1:5], "big")
        writer = writers.get(schema_id, row, offset)
        if type(writer) is not type(reader):
            raise InvalidBatch(
                f"schema id {schema_id} is {get_format(writer.format_name).label} but the contract is "
                f"{batch.contract.format}",
                path,
                row,
                offset,
            )
        yield payload(record, writer, reader, schema_id, decoder, path, row, offset)
        offset += 4 + len(record)


def _avro_payload(
    record: bytes,
    writer: AvroSchema,
    reader: AvroSchema,
    schema_id: int,
    decoder: _ProtoDecoder,
    path: str,
    row: int,
    offset: int,
) -> _Record:
    """An Avro binary record after the 5-byte header, resolved from the writer's schema to the reader's."""
    payload = record[5:]
    try:
        value = fastavro.schemaless_reader(
            io.BytesIO(payload), writer.fastavro_schema, reader.fastavro_schema
        )
    except SchemaResolutionError:  # fastavro's message holds both whole schemas: name them instead
        raise InvalidBatch(
            f"schema id {schema_id} ({_avro_name(writer)}) does not resolve to the contract's schema "
            f"({_avro_name(reader)}): Avro schema resolution fails; ingest with that version's contract",
            path,
            row,
            offset,
        ) from None
    except _UNDECODABLE as exc:
        message = f"Avro payload (schema id {schema_id}) does not decode: {type(exc).__name__}"
        return _Record(
            row,
            offset,
            None,
            [RowViolation(row, "", "decode", "", message, offset)],
            _raw_bytes(payload, decoder.batch),
        )
    return _Record(row, offset, value, [])


def _avro_name(schema: AvroSchema) -> str:
    parsed = schema.fastavro_schema
    return parsed.get("name", parsed.get("type", "?")) if isinstance(parsed, dict) else str(parsed)


def _protobuf_payload(
    record: bytes,
    writer: ProtobufSchema,
    reader: ProtobufSchema,
    schema_id: int,
    decoder: _ProtoDecoder,
    path: str,
    row: int,
    offset: int,
) -> _Record:
    """A Protobuf message after the header and its message indexes, which must name the reader's message."""
    indexes, start = _message_indexes(record, path, row, offset)
    cls = _message_class_for(writer, reader, indexes, path, row, offset)
    return decoder.record(cls, record[start:], row, offset)


class _WriterCache:
    """Writer schemas by schema id, looked up and parsed once each.

    A writer's imports are read from the reader's resolved references, by import name: a writer that
    imports a name the reader does not is refused rather than guessed.
    """

    def __init__(self, lookup: SchemaLookup, path: str, references: dict[str, str]):
        self._lookup = lookup
        self._path = path
        self._references = references
        self._schemas: dict[int, ParsedSchema] = {}

    def get(self, schema_id: int, row: int, offset: int) -> ParsedSchema:
        if schema_id not in self._schemas:
            try:
                writer = self._lookup(schema_id)
            except Exception as exc:  # any lookup failure (registry error, KeyError) means unknown id
                raise InvalidBatch(f"unknown schema id {schema_id}: {exc}", self._path, row, offset) from None
            unknown = [r.name for r in writer.references if r.name not in self._references]
            if unknown:
                raise InvalidBatch(
                    f"schema id {schema_id} imports {', '.join(map(repr, unknown))}, which the contract "
                    "does not import; ingest with that version's contract",
                    self._path,
                    row,
                    offset,
                )
            self._schemas[schema_id] = contract_schema(writer, self._references)
        return self._schemas[schema_id]


def _message_class_for(
    writer: ProtobufSchema, reader: ProtobufSchema, indexes: tuple[int, ...], path, row, offset
):
    """The reader's message class, once the writer's indexes are seen to name that same message."""
    messages = list(writer.file_descriptor.message_types_by_name.values())
    try:
        message = messages[indexes[0]]
        for index in indexes[1:]:
            message = message.nested_types[index]
    except IndexError:
        raise InvalidBatch(
            f"message indexes {list(indexes)} name no message of the writer's schema", path, row, offset
        ) from None
    expected = reader.message_descriptor().full_name
    if message.full_name != expected:
        raise InvalidBatch(
            f"record holds message {message.full_name} (indexes {list(indexes)}) but the contract's message is {expected}",
            path, row, offset,
        )  # fmt: skip
    return reader.message_class()


def _message_indexes(record: bytes, path: str, row: int, offset: int) -> tuple[tuple[int, ...], int]:
    """Confluent's message-index array after the schema id: zigzag varints, a lone 0 meaning [0]."""
    stream = io.BytesIO(record)
    stream.seek(5)
    count = _zigzag(_read_varint(stream, path, row, offset)[0], path, row, offset)
    if count == 0:
        return (0,), stream.tell()
    if count < 0 or count > 100:
        raise InvalidBatch(
            f"message index count {count} is not plausible; not Confluent Protobuf?", path, row, offset
        )
    indexes = tuple(
        _zigzag(_read_varint(stream, path, row, offset)[0], path, row, offset) for _ in range(count)
    )
    return indexes, stream.tell()


def _zigzag(value: int | None, path, row, offset) -> int:
    if value is None:
        raise InvalidBatch("record ends inside its Protobuf message indexes", path, row, offset)
    return (value >> 1) ^ -(value & 1)


def _read_varint(stream, path: str, row: int, offset: int) -> tuple[int | None, int]:
    """An unsigned base-128 varint and its size; (None, 0) at a clean end of stream."""
    result = shift = size = 0
    while True:
        byte = stream.read(1)
        if not byte:
            if size == 0:
                return None, 0
            raise InvalidBatch("file ends inside a varint length prefix (truncated)", path, row, offset)
        size += 1
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result, size
        shift += 7
        if shift > 63:
            raise InvalidBatch(
                "varint longer than 10 bytes: not length-delimited Protobuf", path, row, offset
            )


def _read_exactly(stream, length: int, path: str, row: int, offset: int, limit: int) -> bytes:
    if length > limit:
        raise InvalidBatch(
            f"record declares {length} bytes, over the {limit}-byte limit (max_line_bytes)", path, row, offset
        )
    data = stream.read(length)
    if len(data) < length:
        raise InvalidBatch(
            f"record declares {length} bytes but the file ends after {len(data)} (truncated)",
            path,
            row,
            offset,
        )
    return data


def _raw_bytes(payload: bytes, batch: BatchContext) -> str:
    if batch.pii:
        return f"<{len(payload)} bytes that do not decode; withheld because the contract has PII fields>"
    return "base64:" + base64.b64encode(payload).decode()


class _ProtoDecoder:
    """Protobuf messages to row dicts shaped like the Arrow schema (see docs/lakehouse-types.md)."""

    def __init__(self, batch: BatchContext):
        self.batch = batch

    def record(self, cls, payload: bytes, row: int, offset: int) -> _Record:
        message = cls()
        try:
            message.MergeFromString(payload)
        except (DecodeError, RuntimeError, ValueError) as exc:
            problem = RowViolation(row, "", "decode", "", f"Protobuf message does not decode: {exc}", offset)
            return _Record(row, offset, None, [problem], _raw_bytes(payload, self.batch))
        # proto2 required fields that are absent come out as None: validate() names them
        try:
            return _Record(row, offset, _converter(message.DESCRIPTOR)(message), [])
        except Mismatch as found:  # a Struct number that is not finite: no JSON text for it
            problem = RowViolation(row, found.path, found.rule, "", found.message, offset)
            return _Record(row, offset, None, [problem], _raw_bytes(payload, self.batch))


@lru_cache(maxsize=256)
def _converter(descriptor: Descriptor) -> Callable:
    readers = [(f.name, _field_reader(f)) for f in descriptor.fields]

    def convert(message) -> dict:
        return {name: read(message) for name, read in readers}

    return convert


def _field_reader(field: FieldDescriptor) -> Callable:
    name = field.name
    if field.is_repeated:
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value = _value_converter(field.message_type.fields_by_name["value"])
            return lambda m: [(k, value(v)) for k, v in getattr(m, name).items()]
        item = _value_converter(field)
        return lambda m: [item(v) for v in getattr(m, name)]
    convert = _value_converter(field)
    if field.has_presence and not field.has_default_value:  # optional, message, oneof: unset is null
        return lambda m: convert(getattr(m, name)) if m.HasField(name) else None
    return lambda m: convert(getattr(m, name))  # unset reads as its (implicit or declared) default


def _value_converter(field: FieldDescriptor) -> Callable:
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = {v.number: v.name for v in field.enum_type.values}
        return lambda v: names.get(v, str(v))  # an unknown number fails the enum check
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        full_name = field.message_type.full_name
        if full_name == TIMESTAMP:
            return lambda v: v.ToDatetime(tzinfo=UTC)
        if full_name in WRAPPERS:
            wrapped = _value_converter(field.message_type.fields_by_name["value"])
            return lambda v: wrapped(v.value)
        if full_name in JSON_VALUES:
            return lambda v: struct_json(_struct_value(v), field.name)
        return _converter(field.message_type)
    if field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return Decimal
    return lambda v: v


def _struct_value(message):
    """A ``Struct``, ``ListValue`` or ``Value`` message as the plain JSON value it holds."""
    name = message.DESCRIPTOR.full_name
    if name.endswith(".Struct"):
        return {key: _struct_value(item) for key, item in message.fields.items()}
    if name.endswith(".ListValue"):
        return [_struct_value(item) for item in message.values]
    kind = message.WhichOneof("kind")
    if kind in ("struct_value", "list_value"):
        return _struct_value(getattr(message, kind))
    return None if kind in (None, "null_value") else getattr(message, kind)


_CONFLUENT_PAYLOADS = {AvroSchema: _avro_payload, ProtobufSchema: _protobuf_payload}
"""How a Confluent record's payload is laid out, by the parsed schema type of the contract."""

_READERS = {"avro": _avro_records, "protobuf": _protobuf_records, "confluent": _confluent_records}


def record_chunks(
    fmt: str, stream: BinaryIO, path: str, batch: BatchContext, schema_lookup: SchemaLookup | None
) -> Iterator[Chunk]:
    """Chunks of about ``batch.chunk_rows`` records of ``fmt`` (``avro``, ``protobuf``, ``confluent``)."""
    return _record_chunks(_READERS[fmt](stream, path, batch, schema_lookup), path, batch)
