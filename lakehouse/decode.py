"""Batch files decoded into typed, validated Arrow chunks.

Inputs (docs/lakehouse-inputs.md): JSON Lines, Avro object container files, length-delimited
Protobuf and Confluent wire-format dumps, on local disk or S3-compatible storage, plain or gzip/zstd
compressed (detected by magic bytes). Each chunk belongs to one file and holds about ``chunk_rows``
rows, so memory stays bounded whatever the file size.

JSON Lines take a fast path: blocks of lines go to ``pyarrow.json.read_json`` with the contract's
explicit schema. Only a block that pyarrow refuses goes through the precise pass, which reads it
line by line in Python to name each bad row's number, byte offset and field path (pyarrow's own
row numbers are block-relative or missing). A file that cannot be decoded at all raises
``InvalidBatch``; a row that breaks the contract becomes a ``RowViolation``.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from functools import lru_cache
from typing import BinaryIO

import fastavro
import pyarrow as pa
import pyarrow.json as pa_json
import zstandard
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from lakehouse.errors import InvalidBatch
from lakehouse.schema_mapping import (
    PROTO_TIMESTAMP,
    UINT64,
    WRAPPERS,
    arrow_schema,
    file_descriptor,
    message_class,
    message_descriptor,
    parsed_schema,
)
from lakehouse.validate import REDACTED, Chunk, RowViolation, UniqueTracker, is_pii, sequence, validate
from registry.contract import Contract

INPUT_FORMATS = ("jsonl", "avro", "protobuf", "confluent")
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest JSON line or binary record accepted (64 MiB); a longer one makes the batch invalid."""

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".avro": "avro",
    ".pb": "protobuf",
    ".protobuf": "protobuf",
    ".confluent": "confluent",
}
SchemaLookup = Callable[[int], Contract]


# --- opening files --------------------------------------------------------------------------------


def open_input(path: str, storage_options: dict | None = None) -> BinaryIO:
    """A readable, decompressed byte stream of a local path or ``s3://bucket/key``.

    Compression is recognised by magic bytes. A name ending in ``.gz``/``.zst`` whose content is
    not compressed that way is refused rather than guessed. ``storage_options`` take pyiceberg's
    keys: ``s3.endpoint`` (``http://127.0.0.1:9000``), ``s3.access-key-id``,
    ``s3.secret-access-key``, ``s3.session-token``, ``s3.region``. Read errors (a truncated gzip or
    zstd stream) surface as ``InvalidBatch`` with the decompressed byte offset.
    """
    raw = _open_raw(path, storage_options)
    try:
        found = _compression(raw, path)
    except BaseException:
        raw.close()
        raise
    inner: BinaryIO = raw
    if found == "gzip":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    elif found == "zstd":
        inner = _ZstdReader(raw)
    return io.BufferedReader(_CheckedReader(inner, raw, path, found), buffer_size=1024 * 1024)


def _compression(raw, path: str) -> str | None:
    """``gzip``, ``zstd`` or None, from the first bytes; a name promising another is refused."""
    try:
        head = raw.read(4)
        raw.seek(0)
    except OSError as exc:
        raise InvalidBatch(f"cannot read: {exc}", file=path) from None
    found = "gzip" if head[:2] == GZIP_MAGIC else "zstd" if head == ZSTD_MAGIC else None
    named = _COMPRESSION_SUFFIXES.get(_suffix(path))
    if named and named != found:
        raise InvalidBatch(
            f"the name says {named} but the content is not {named}-compressed "
            f"(it starts with bytes {head.hex() or 'none: the file is empty'})",
            file=path,
            byte_offset=0,
        )
    return found


def _open_raw(path: str, storage_options: dict | None):
    try:
        if path.startswith("s3://"):
            return _s3_filesystem(storage_options or {}).open_input_file(path.removeprefix("s3://"))
        return open(path, "rb")  # noqa: SIM115 - the caller owns the stream
    except (OSError, ValueError) as exc:
        raise InvalidBatch(f"cannot open: {exc}", file=path) from None


def _s3_filesystem(options: dict):
    from pyarrow import fs

    endpoint = options.get("s3.endpoint")
    scheme = "https"
    if endpoint and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return fs.S3FileSystem(
        access_key=options.get("s3.access-key-id"),
        secret_key=options.get("s3.secret-access-key"),
        session_token=options.get("s3.session-token"),
        region=options.get("s3.region", "us-east-1"),
        endpoint_override=endpoint,
        scheme=scheme,
    )


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


class _ZstdReader(io.RawIOBase):
    """A zstd stream that, unlike zstandard's stream_reader, notices a truncated last frame."""

    def __init__(self, raw):
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._buffer = b""
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            data = self._raw.read(1024 * 1024)
            if not data:
                if self._started and not self._frame.eof:
                    raise EOFError("zstd stream ends in the middle of a frame (truncated file)")
                return 0
            self._feed(data)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def _feed(self, data: bytes) -> None:
        while data:
            if self._frame.eof:
                self._frame = self._decompressor.decompressobj()
            self._started = True
            self._buffer += self._frame.decompress(data)
            data = self._frame.unused_data if self._frame.eof else b""


class _CheckedReader(io.RawIOBase):
    """Turns decompression and I/O failures into ``InvalidBatch`` at the decompressed byte offset."""

    def __init__(self, inner, raw, path: str, compression: str | None):
        self._inner = inner
        self._raw = raw  # closed with the decompressor: GzipFile leaves its fileobj open
        self._path = path
        self._compression = compression
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        try:
            data = self._inner.read(len(target))
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
            what = f"{self._compression} data" if self._compression else "file"
            raise InvalidBatch(
                f"{what} cannot be read: {exc}", file=self._path, byte_offset=self.offset
            ) from None
        size = len(data)
        target[:size] = data
        self.offset += size
        return size

    def close(self) -> None:
        self._inner.close()
        self._raw.close()
        super().close()


# --- reading a batch ------------------------------------------------------------------------------


def detect_format(path: str) -> str:
    """The input format named by a file's extension (compression suffixes skipped)."""
    name = path.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    found = _FORMAT_SUFFIXES.get(_suffix(name))
    if not found:
        known = ", ".join(_FORMAT_SUFFIXES)
        raise InvalidBatch(
            f"cannot tell the input format from the name (known: {known}); pass a format", file=path
        )
    return found


def read_batch(
    paths: str | Iterable[str],
    contract: Contract,
    input_format: str | None = None,
    chunk_rows: int = 65536,
    schema_lookup: SchemaLookup | None = None,
    storage_options: dict | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Chunk]:
    """Decode and validate the files of one batch, chunk by chunk.

    ``input_format``: ``jsonl``, ``avro``, ``protobuf`` (varint-length-delimited messages),
    ``confluent`` (4-byte big-endian length, then a Confluent wire-format record) or None to go by
    each file's extension. ``schema_lookup(schema_id) -> Contract`` resolves the schema ids of
    Confluent records (the writer's schema); ``contract`` is the reader's. ``unique`` rules hold
    across all files of the batch. Raises ``InvalidBatch`` for a file that cannot be decoded.
    """
    if input_format is not None and input_format not in INPUT_FORMATS:
        raise InvalidBatch(
            f"unknown input format {input_format!r}; expected one of {', '.join(INPUT_FORMATS)}"
        )
    batch = _Batch(contract, arrow_schema(contract), chunk_rows, max_line_bytes, UniqueTracker())
    for path in [paths] if isinstance(paths, str) else list(paths):
        fmt = input_format or detect_format(path)
        with open_input(path, storage_options) as stream:
            yielded = False
            try:
                if fmt == "jsonl":
                    chunks = _jsonl_chunks(stream, path, batch)
                else:
                    records = _RECORD_READERS[fmt](stream, path, batch, schema_lookup)
                    chunks = _record_chunks(records, path, batch)
                for chunk in chunks:
                    yielded = True
                    yield chunk
            except InvalidBatch as exc:
                exc.file = exc.file or path
                raise
            if not yielded:
                raise InvalidBatch("the file holds no records", file=path, byte_offset=0)


@dataclass
class _Batch:
    contract: Contract
    schema: pa.Schema
    chunk_rows: int
    max_line_bytes: int
    unique: UniqueTracker
    pii: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pii = list(self.contract.metadata.pii_fields)

    def finish(self, table: pa.Table, rows: pa.Array, problems: list[RowViolation], raw: dict, path: str,
               offsets: Callable[[set[int]], dict[int, int]]) -> Chunk:  # fmt: skip
        """Validate the typed rows and put every violation of the chunk together."""
        violations = problems + validate(table, self.contract, rows=rows, unique=self.unique)
        invalid = {v.row for v in violations}
        where = offsets(invalid) if invalid else {}
        for violation in violations:
            violation.file = path
            if violation.byte_offset is None:
                violation.byte_offset = where.get(violation.row)
        violations.sort(key=lambda v: v.row)
        return Chunk(table=table, rows=rows, violations=violations, invalid_rows=invalid, raw=raw, file=path)


# --- JSON Lines -----------------------------------------------------------------------------------


def _jsonl_chunks(stream: BinaryIO, path: str, batch: _Batch) -> Iterator[Chunk]:
    """Blocks parsed one ahead on a worker thread while the previous one is validated.

    pyarrow's parser and the validation kernels release the GIL, so the two overlap.
    """
    json_schema = _json_read_schema(batch.schema, path)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonl-parse") as parser:
        in_flight = None
        for first_row, first_offset, lines, block in _line_blocks(stream, path, batch):
            parsed = parser.submit(_parse_block, block, json_schema, batch.schema)
            if in_flight:
                yield _jsonl_block(*in_flight[0], in_flight[1].result(), path, batch, json_schema)
            in_flight = ((block, lines, first_row, first_offset), parsed)
        if in_flight:
            yield _jsonl_block(*in_flight[0], in_flight[1].result(), path, batch, json_schema)


def _parse_block(block: bytes, json_schema: pa.Schema, schema: pa.Schema) -> pa.Table | None:
    """The fast path: the whole block typed by pyarrow, or None when pyarrow refuses it."""
    try:
        return _read_json(block, json_schema, schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _line_blocks(stream: BinaryIO, path: str, batch: _Batch) -> Iterator[tuple[int, int, int, bytes]]:
    """Blocks of whole lines, about ``chunk_rows`` each: first row, byte offset, line count, bytes.

    A line longer than ``max_line_bytes`` raises as soon as that many bytes are read without a
    newline: the whole line is never held in memory.
    """
    row, offset = 1, 0
    parts: list[bytes] = []
    pending = 0  # bytes of the unfinished line held in parts
    read_size = min(64 * 1024, batch.max_line_bytes + 1)  # then sized by _next_read_size
    while True:
        data = stream.read(read_size)
        cut = data.rfind(b"\n") + 1 if data else len(data)
        if data and not cut:
            parts.append(data)
            pending += len(data)
            if pending > batch.max_line_bytes:
                raise _line_too_long(path, row, offset, batch.max_line_bytes)
            continue
        block = b"".join([*parts, memoryview(data)[:cut]]) if data else b"".join(parts)
        rest = data[cut:] if data else b""
        parts, pending = ([rest], len(rest)) if rest else ([], 0)
        if block:
            lines = block.count(b"\n") + (not block.endswith(b"\n"))
            if len(block) > batch.max_line_bytes:
                _check_line_lengths(block, path, row, offset, batch.max_line_bytes)
            yield row, offset, lines, block
            row, offset = row + lines, offset + len(block)
            read_size = _next_read_size(len(block), lines, batch)
        if not data:
            return


def _next_read_size(block_bytes: int, lines: int, batch: _Batch) -> int:
    """Bytes to read for about ``chunk_rows`` lines, from the average line length so far."""
    per_line = max(1, block_bytes // max(1, lines))
    return max(4096, min(per_line * batch.chunk_rows, 64 * 1024 * 1024, batch.max_line_bytes + 1))


def _check_line_lengths(block: bytes, path: str, row: int, offset: int, limit: int) -> None:
    for line in block.split(b"\n"):
        if len(line) > limit:
            raise _line_too_long(path, row, offset, limit)
        row, offset = row + 1, offset + len(line) + 1


def _line_too_long(path: str, row: int, offset: int, limit: int) -> InvalidBatch:
    return InvalidBatch(
        f"line is longer than the {limit}-byte limit (max_line_bytes); is this JSON Lines?",
        file=path,
        row=row,
        byte_offset=offset,
    )


def _jsonl_block(block: bytes, lines: int, first_row: int, first_offset: int, table: pa.Table | None,
                 path: str, batch: _Batch, json_schema: pa.Schema) -> Chunk:  # fmt: skip
    if table is not None and table.num_rows == lines:  # fewer rows: blank lines; let the slow pass count
        rows = sequence(first_row, lines)
        return batch.finish(
            table, rows, [], {}, path, lambda wanted: _line_offsets(block, first_row, first_offset, wanted)
        )
    return _jsonl_precise(block, first_row, first_offset, path, batch, json_schema)


def _read_json(data: bytes, json_schema: pa.Schema, schema: pa.Schema) -> pa.Table:
    """Typed rows by pyarrow in 1 MiB blocks (threaded), or in one block when a line is longer."""
    parse = pa_json.ParseOptions(explicit_schema=json_schema, unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(io.BytesIO(data), parse_options=parse)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
        whole = pa_json.ReadOptions(block_size=len(data) + 1)
        table = pa_json.read_json(io.BytesIO(data), read_options=whole, parse_options=parse)
    if json_schema.equals(schema, check_metadata=False):
        return pa.Table.from_arrays(table.columns, schema=schema)
    return table.cast(schema)


def _line_offsets(block: bytes, first_row: int, first_offset: int, wanted: set[int]) -> dict[int, int]:
    """Byte offsets of the wanted rows; walked only when a block has violations."""
    found, row, start = {}, first_row, 0
    last = max(wanted)
    while row <= last and start <= len(block):
        if row in wanted:
            found[row] = first_offset + start
        end = block.find(b"\n", start)
        start = len(block) + 1 if end < 0 else end + 1
        row += 1
    return found


def _jsonl_precise(block: bytes, first_row: int, first_offset: int, path: str, batch: _Batch,
                   json_schema: pa.Schema) -> Chunk:  # fmt: skip
    """Line by line: name each bad row, then type the good ones (still with pyarrow)."""
    problems: list[RowViolation] = []
    raw: dict[int, str] = {}
    good: list[tuple[int, int, bytes]] = []
    row, start = first_row, 0
    for line in block.split(b"\n"):
        offset = first_offset + start
        start += len(line) + 1
        row, this_row = row + 1, row
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            message = f"row is not valid JSON: {getattr(exc, 'msg', exc)}"
            problems.append(RowViolation(this_row, "", "decode", "", message, offset))
            raw[this_row] = _raw_text(line, None, batch.pii)
            continue
        if not isinstance(record, dict):
            raise InvalidBatch(
                f"line is a JSON {_json_kind(record)}, not an object: JSON Lines input needs one object per line",
                file=path, row=this_row, byte_offset=offset,
            )  # fmt: skip
        found = [
            RowViolation(
                this_row, field_path, rule, _shown_json(value, field_path, batch.pii), message, offset
            )
            for field_path, rule, value, message in _json_problems(record, batch.schema, "")
        ]
        if found:
            problems += found
            raw[this_row] = _raw_text(line, record, batch.pii)
        else:
            good.append((this_row, offset, line))
    tables, typed_rows = _type_good_lines(good, json_schema, batch, problems, raw)
    table = pa.concat_tables(tables) if tables else batch.schema.empty_table()
    offsets = {r: o for r, o, _ in good}
    offsets.update({v.row: v.byte_offset for v in problems})
    rows = pa.array(typed_rows, pa.int64())
    return batch.finish(
        table, rows, problems, raw, path, lambda wanted: {r: offsets[r] for r in wanted if r in offsets}
    )


def _type_good_lines(good, json_schema, batch: _Batch, problems: list, raw: dict) -> tuple[list, list]:
    """The lines the Python check passed, typed by pyarrow: all at once, or one by one if it balks."""
    if not good:
        return [], []
    try:
        return [_read_json(b"\n".join(line for _, _, line in good), json_schema, batch.schema)], [
            r for r, _, _ in good
        ]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    tables, rows = [], []
    for row, offset, line in good:
        try:
            tables.append(_read_json(line, json_schema, batch.schema))
            rows.append(row)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            field_path, shown, message = _pyarrow_complaint(str(exc), batch.pii)
            problems.append(RowViolation(row, field_path, "type", shown, message, offset))
            raw[row] = _raw_text(line, json.loads(line), batch.pii)
    return tables, rows


def _pyarrow_complaint(text: str, pii: list[str]) -> tuple[str, str, str]:
    """Field path, shown value and message from a pyarrow JSON error, never echoing PII values.

    pyarrow names the column only sometimes; without one, a contract with PII gets no details.
    """
    match = re.search(r"Column\(([^)]*)\)", text)
    field_path = match.group(1).strip("/").replace("/", ".") if match else ""
    if (field_path and is_pii(field_path, pii)) or (not field_path and pii):
        return (
            field_path,
            REDACTED,
            f"{field_path or 'row'}: a value does not fit the contract's type (details withheld: PII)",
        )
    return field_path, "", f"{field_path or 'row'}: {text.removeprefix('JSON parse error: ')}"


def _json_read_schema(schema: pa.Schema, path: str) -> pa.Schema:
    """The schema pyarrow's JSON reader can fill: dates come as strings, then are cast.

    Maps and times of day have no JSON reading in pyarrow: such contracts need Avro or Protobuf.
    """
    return pa.schema([pa.field(f.name, _json_type(f.type, f.name, path), f.nullable) for f in schema])


def _json_type(arrow_type: pa.DataType, where: str, path: str) -> pa.DataType:
    if pa.types.is_date(arrow_type):
        return pa.string()
    if pa.types.is_map(arrow_type) or pa.types.is_time(arrow_type):
        kind = "a map" if pa.types.is_map(arrow_type) else "a time of day"
        raise InvalidBatch(
            f"{where} is {kind}, which JSON Lines input cannot fill; send Avro or Protobuf", path
        )
    if pa.types.is_list(arrow_type):
        item = arrow_type.value_field
        return pa.list_(pa.field(item.name, _json_type(item.type, where + "[]", path), item.nullable))
    if pa.types.is_struct(arrow_type):
        return pa.struct(
            [pa.field(c.name, _json_type(c.type, f"{where}.{c.name}", path), c.nullable) for c in arrow_type]
        )
    return arrow_type


_INT_RANGES = {8: 2**7, 16: 2**15, 32: 2**31, 64: 2**63}


def _json_problems(record: dict, fields, prefix: str) -> Iterator[tuple[str, str, object, str]]:
    """``(path, rule, value, message)`` for each field of a parsed JSON object that breaks the schema."""
    for pa_field in fields:
        path = prefix + pa_field.name
        value = record.get(pa_field.name)
        if value is None:
            if not pa_field.nullable:
                yield path, "required", None, f"{path} is required but missing or null"
            continue
        yield from _json_value_problems(value, pa_field.type, path)


def _json_value_problems(value, arrow_type: pa.DataType, path: str) -> Iterator[tuple[str, str, object, str]]:
    expected = _expected_json(arrow_type, value)
    if expected:
        yield path, "type", value, f"{path}: expected {expected}, got a JSON {_json_kind(value)}"
    elif pa.types.is_struct(arrow_type):
        yield from _json_problems(value, arrow_type, path + ".")
    elif pa.types.is_list(arrow_type):
        item = arrow_type.value_field
        for element in value:
            if element is None:
                if not item.nullable:
                    yield path + "[]", "required", None, f"{path}[] elements must not be null"
            else:
                yield from _json_value_problems(element, item.type, path + "[]")


def _expected_json(arrow_type: pa.DataType, value) -> str | None:
    """What the JSON value should have been, or None when it fits the Arrow type."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if pa.types.is_integer(arrow_type):
        bound = _INT_RANGES[arrow_type.bit_width]
        low, high = (0, 2 * bound) if pa.types.is_unsigned_integer(arrow_type) else (-bound, bound)
        fits = isinstance(value, int) and not isinstance(value, bool) and low <= value < high
        return None if fits else f"an integer of {arrow_type}"
    if pa.types.is_floating(arrow_type):
        return None if is_number else "a number"
    if pa.types.is_decimal(arrow_type):
        return None if is_number or isinstance(value, str) else f"a decimal ({arrow_type})"
    if pa.types.is_boolean(arrow_type):
        return None if isinstance(value, bool) else "true or false"
    if pa.types.is_struct(arrow_type):
        return None if isinstance(value, dict) else "an object"
    if pa.types.is_list(arrow_type):
        return None if isinstance(value, list) else "an array"
    if pa.types.is_timestamp(arrow_type):
        return None if isinstance(value, str) else "an ISO 8601 timestamp string"
    if pa.types.is_fixed_size_binary(arrow_type):
        return (
            None
            if isinstance(value, str) and len(value) == arrow_type.byte_width
            else f"a string of {arrow_type.byte_width} bytes"
        )
    return None if isinstance(value, str) else "a string"


def _json_kind(value) -> str:
    kinds = ((bool, "boolean"), (int | float, "number"), (str, "string"), (list, "array"), (dict, "object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def _shown_json(value, path: str, pii: list[str]) -> str:
    if value is None:
        return "null"
    if is_pii(path, pii):
        return REDACTED
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 120 else text[:119] + "…"


def _raw_text(line: bytes, record, pii: list[str]) -> str:
    """The row's text for quarantine, with PII values redacted (withheld if it does not parse)."""
    if record is None:
        if pii:
            return (
                f"<{len(line)} bytes that are not valid JSON; withheld because the contract has PII fields>"
            )
        return line.decode("utf-8", errors="replace")
    if not pii:
        return line.decode("utf-8", errors="replace")
    return json.dumps(redact(record, pii), ensure_ascii=False, default=str)


def redact(value, pii: list[str], prefix: str = ""):
    """A copy of a decoded record with the values at PII paths (through lists too) redacted."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if item is not None and is_pii(prefix + key, pii)
            else redact(item, pii, prefix + key + ".")
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, pii, prefix) for item in value]
    return value


# --- record formats: Avro, Protobuf, Confluent ----------------------------------------------------


@dataclass
class _Record:
    row: int
    offset: int | None
    value: dict | None  # None when it could not be decoded
    problems: list[RowViolation]
    raw: str | None = None


def _record_chunks(records: Iterator[_Record], path: str, batch: _Batch) -> Iterator[Chunk]:
    pending: list[_Record] = []
    for record in records:
        pending.append(record)
        if len(pending) >= batch.chunk_rows:
            yield _records_to_chunk(pending, path, batch)
            pending = []
    if pending:
        yield _records_to_chunk(pending, path, batch)


def _records_to_chunk(records: list[_Record], path: str, batch: _Batch) -> Chunk:
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


def _records_one_by_one(typed: list[_Record], batch: _Batch, problems: list, raw: dict):
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


def _avro_records(stream: BinaryIO, path: str, batch: _Batch, schema_lookup) -> Iterator[_Record]:
    row = 0
    try:
        reader = fastavro.reader(stream, reader_schema=parsed_schema(batch.contract))
        for row, value in enumerate(reader, start=1):  # noqa: B007 - row names the failing record
            yield _Record(row, None, value, [])
    except InvalidBatch as exc:
        exc.row = exc.row or row + 1
        raise
    except (
        ValueError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        StopIteration,
        RuntimeError,
        zlib.error,
    ) as exc:
        what = "Avro header" if row == 0 else f"Avro record {row + 1}"
        raise InvalidBatch(f"{what} cannot be decoded ({type(exc).__name__}: {exc}); truncated or not an Avro file?",
                           file=path, row=row + 1) from None  # fmt: skip


def _protobuf_records(stream: BinaryIO, path: str, batch: _Batch, schema_lookup) -> Iterator[_Record]:
    decoder = _ProtoDecoder(batch)
    cls = message_class(batch.contract)
    row, offset = 0, 0
    while True:
        row += 1
        length, size = _read_varint(stream, path, row, offset)
        if length is None:
            return
        payload = _read_exactly(stream, length, path, row, offset, batch.max_line_bytes)
        yield decoder.record(cls, payload, row, offset)
        offset += size + length


def _confluent_records(stream: BinaryIO, path: str, batch: _Batch, schema_lookup) -> Iterator[_Record]:
    if schema_lookup is None:
        raise InvalidBatch(
            "Confluent wire-format input needs a schema lookup to resolve schema ids", file=path
        )
    decoder = _ProtoDecoder(batch)
    writers = _WriterCache(schema_lookup, path)
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
        if writer.format == "AVRO":
            yield _avro_payload(record[5:], writer, schema_id, batch, row, offset)
        else:
            indexes, start = _message_indexes(record, path, row, offset)
            cls = writers.message_class(schema_id, indexes, batch.contract, row, offset)
            yield decoder.record(cls, record[start:], row, offset)
        offset += 4 + len(record)


def _avro_payload(
    payload: bytes, writer: Contract, schema_id: int, batch: _Batch, row: int, offset: int
) -> _Record:
    if batch.contract.format != "AVRO":
        raise InvalidBatch(
            f"schema id {schema_id} is Avro but the contract is {batch.contract.format}",
            row=row,
            byte_offset=offset,
        )
    try:
        value = fastavro.schemaless_reader(
            io.BytesIO(payload), parsed_schema(writer), parsed_schema(batch.contract)
        )
    except (ValueError, EOFError, KeyError, IndexError, TypeError, StopIteration) as exc:
        message = f"Avro payload (schema id {schema_id}) does not decode: {type(exc).__name__}"
        return _Record(
            row,
            offset,
            None,
            [RowViolation(row, "", "decode", "", message, offset)],
            _raw_bytes(payload, batch),
        )
    return _Record(row, offset, value, [])


class _WriterCache:
    """Writer contracts by schema id, looked up once each."""

    def __init__(self, lookup: SchemaLookup, path: str):
        self._lookup = lookup
        self._path = path
        self._contracts: dict[int, Contract] = {}

    def get(self, schema_id: int, row: int, offset: int) -> Contract:
        if schema_id not in self._contracts:
            try:
                self._contracts[schema_id] = self._lookup(schema_id)
            except Exception as exc:  # any lookup failure (registry error, KeyError) means unknown id
                raise InvalidBatch(f"unknown schema id {schema_id}: {exc}", self._path, row, offset) from None
        return self._contracts[schema_id]

    def message_class(
        self, schema_id: int, indexes: tuple[int, ...], reader: Contract, row: int, offset: int
    ):
        """The reader's message class, once the writer's indexes are seen to name that same message."""
        return _message_class_for(self._contracts[schema_id], indexes, reader, self._path, row, offset)


def _message_class_for(writer: Contract, indexes: tuple[int, ...], reader: Contract, path, row, offset):
    if writer.format != "PROTOBUF" or reader.format != "PROTOBUF":
        raise InvalidBatch(f"record is Protobuf but the contract is {reader.format}", path, row, offset)
    messages = list(file_descriptor(writer).message_types_by_name.values())
    try:
        message = messages[indexes[0]]
        for index in indexes[1:]:
            message = message.nested_types[index]
    except IndexError:
        raise InvalidBatch(
            f"message indexes {list(indexes)} name no message of the writer's schema", path, row, offset
        ) from None
    expected = message_descriptor(reader).full_name
    if message.full_name != expected:
        raise InvalidBatch(
            f"record holds message {message.full_name} (indexes {list(indexes)}) but the contract's message is {expected}",
            path, row, offset,
        )  # fmt: skip
    return message_class(reader)


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


def _raw_bytes(payload: bytes, batch: _Batch) -> str:
    if batch.pii:
        return f"<{len(payload)} bytes that do not decode; withheld because the contract has PII fields>"
    return "base64:" + base64.b64encode(payload).decode()


class _ProtoDecoder:
    """Protobuf messages to row dicts shaped like the Arrow schema (see docs/lakehouse-types.md)."""

    def __init__(self, batch: _Batch):
        self._batch = batch

    def record(self, cls, payload: bytes, row: int, offset: int) -> _Record:
        message = cls()
        try:
            message.MergeFromString(payload)
        except (DecodeError, RuntimeError, ValueError) as exc:
            problem = RowViolation(row, "", "decode", "", f"Protobuf message does not decode: {exc}", offset)
            return _Record(row, offset, None, [problem], _raw_bytes(payload, self._batch))
        # proto2 required fields that are absent come out as None: validate() names them
        return _Record(row, offset, _converter(message.DESCRIPTOR)(message), [])


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
    if field.has_presence:
        return lambda m: convert(getattr(m, name)) if m.HasField(name) else None
    return lambda m: convert(getattr(m, name))


def _value_converter(field: FieldDescriptor) -> Callable:
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = {v.number: v.name for v in field.enum_type.values}
        return lambda v: names.get(v, str(v))  # an unknown number fails the enum check
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        full_name = field.message_type.full_name
        if full_name == PROTO_TIMESTAMP:
            return lambda v: v.ToDatetime(tzinfo=UTC)
        if full_name in WRAPPERS:
            return (lambda v: Decimal(v.value)) if WRAPPERS[full_name] == UINT64 else (lambda v: v.value)
        return _converter(field.message_type)
    if field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return Decimal
    return lambda v: v


_RECORD_READERS = {"avro": _avro_records, "protobuf": _protobuf_records, "confluent": _confluent_records}
