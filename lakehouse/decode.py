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

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from lakehouse.decode_jsonl import jsonl_chunks
from lakehouse.decode_records import record_chunks
from lakehouse.errors import InvalidBatch
from lakehouse.input_files import COMPRESSION_SUFFIXES, open_input, suffix
from lakehouse.schema_mapping import arrow_schema, nullable
from lakehouse.validate import Chunk, RowViolation, UniqueTracker, validate
from registry.contract import Contract

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "INPUT_FORMATS",
    "BatchContext",
    "detect_format",
    "open_input",
    "read_batch",
]

INPUT_FORMATS = ("jsonl", "avro", "protobuf", "confluent")
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest JSON line or binary record accepted (64 MiB); a longer one makes the batch invalid."""

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


def detect_format(path: str) -> str:
    """The input format named by a file's extension (compression suffixes skipped)."""
    name = path.rsplit("/", 1)[-1].lower()
    for ending in COMPRESSION_SUFFIXES:
        name = name.removesuffix(ending)
    found = _FORMAT_SUFFIXES.get(suffix(name))
    if not found:
        known = ", ".join(_FORMAT_SUFFIXES)
        raise InvalidBatch(
            f"cannot tell the input format from the name (known: {known}); pass a format", file=path
        )
    return found


def read_batch(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    contract: Contract,
    input_format: str | None = None,
    chunk_rows: int = 65536,
    schema_lookup: SchemaLookup | None = None,
    storage_options: dict | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    references: dict[str, str] | None = None,
) -> Iterator[Chunk]:
    """Decode and validate the files of one batch, chunk by chunk.

    ``input_format``: ``jsonl``, ``avro``, ``protobuf`` (varint-length-delimited messages),
    ``confluent`` (4-byte big-endian length, then a Confluent wire-format record) or None to go by
    each file's extension. ``schema_lookup(schema_id) -> Contract`` resolves the schema ids of
    Confluent records (the writer's schema); ``contract`` is the reader's. ``unique`` rules hold
    across all files of the batch. ``references`` maps import names to the schema texts the
    contract imports. Raises ``InvalidBatch`` for a file that cannot be decoded.
    """
    if input_format is not None and input_format not in INPUT_FORMATS:
        raise InvalidBatch(
            f"unknown input format {input_format!r}; expected one of {', '.join(INPUT_FORMATS)}"
        )
    references = dict(references or {})
    declared = arrow_schema(contract, references)
    batch = BatchContext(
        contract, declared, nullable(declared), chunk_rows, max_line_bytes, UniqueTracker(), references
    )
    for path in [str(paths)] if isinstance(paths, str | os.PathLike) else [str(p) for p in paths]:
        fmt = input_format or detect_format(path)
        with open_input(path, storage_options) as stream:
            yielded = False
            try:
                if fmt == "jsonl":
                    chunks = jsonl_chunks(stream, path, batch)
                else:
                    chunks = record_chunks(fmt, stream, path, batch, schema_lookup)
                for chunk in chunks:
                    yielded = True
                    yield chunk
            except InvalidBatch as exc:
                exc.file = exc.file or path
                raise
            if not yielded:
                raise InvalidBatch("the file holds no records", file=path, byte_offset=0)


@dataclass
class BatchContext:
    """What the decoders of one batch share: contract, schemas, limits, the uniqueness tracker.

    ``declared`` is the contract's Arrow schema (required fields non-nullable); decoded tables have
    ``schema``, its all-nullable twin, so that a missing value is a violation, not a decode failure.
    """

    contract: Contract
    declared: pa.Schema
    schema: pa.Schema
    chunk_rows: int
    max_line_bytes: int
    unique: UniqueTracker
    references: dict[str, str] = field(default_factory=dict)  # import name -> schema text
    pii: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pii = list(self.contract.metadata.pii_fields)

    def finish(self, table: pa.Table, rows: pa.Array, problems: list[RowViolation], raw: dict, path: str,
               offsets: Callable[[set[int]], dict[int, int]]) -> Chunk:  # fmt: skip
        """Validate the typed rows and put every violation of the chunk together."""
        violations = problems + validate(
            table, self.contract, rows=rows, unique=self.unique, schema=self.declared
        )
        invalid = {v.row for v in violations}
        where = offsets(invalid) if invalid else {}
        for violation in violations:
            violation.file = path
            if violation.byte_offset is None:
                violation.byte_offset = where.get(violation.row)
        violations.sort(key=lambda v: v.row)
        return Chunk(table=table, rows=rows, violations=violations, invalid_rows=invalid, raw=raw, file=path)
