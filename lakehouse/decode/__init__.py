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

Modules: ``input_files`` (open a local or S3 file, decompressed), ``context`` (what one batch's
decoders share), one decoder per input format (``jsonl``; ``records`` for Avro, Protobuf and the
Confluent wire format), and this module, which picks a decoder per file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from lakehouse.decode.context import BatchContext, SchemaLookup
from lakehouse.decode.input_files import COMPRESSION_SUFFIXES, BytesRead, open_input, suffix
from lakehouse.decode.jsonl import jsonl_chunks
from lakehouse.decode.records import record_chunks
from lakehouse.errors import InvalidBatch
from lakehouse.schema_mapping import arrow_schema, nullable
from lakehouse.validate import Chunk, UniqueTracker
from registry.contract import Contract

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "INPUT_FORMATS",
    "BatchContext",
    "DEFAULT_CHUNK_ROWS",
    "BytesRead",
    "SchemaLookup",
    "detect_format",
    "open_input",
    "read_batch",
]

INPUT_FORMATS = ("jsonl", "avro", "protobuf", "confluent")
DEFAULT_CHUNK_ROWS = 16384
"""Rows a chunk holds: blocks of a few MiB keep memory low; Bronze's row groups span chunks."""
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
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    schema_lookup: SchemaLookup | None = None,
    storage_options: dict | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    references: dict[str, str] | None = None,
    workers: int | None = None,
    meter: BytesRead | None = None,
) -> Iterator[Chunk]:
    """Decode and validate the files of one batch, chunk by chunk.

    ``input_format``: ``jsonl``, ``avro``, ``protobuf`` (varint-length-delimited messages),
    ``confluent`` (4-byte big-endian length, then a Confluent wire-format record) or None to go by
    each file's extension. ``schema_lookup(schema_id) -> Contract`` resolves the schema ids of
    Confluent records (the writer's schema); ``contract`` is the reader's. ``unique`` rules hold
    across all files of the batch. ``references`` maps import names to the schema texts the
    contract imports. ``workers``: JSON Lines blocks decoded at once, on threads (None: one per
    core; 1: everything on the caller's thread); chunks, row numbers and violations come out the
    same whatever the number. ``meter`` counts the bytes read from storage (for progress).
    Raises ``InvalidBatch`` for a file that cannot be decoded.
    """
    if input_format is not None and input_format not in INPUT_FORMATS:
        raise InvalidBatch(
            f"unknown input format {input_format!r}; expected one of {', '.join(INPUT_FORMATS)}"
        )
    references = dict(references or {})
    declared = arrow_schema(contract, references)
    workers = max(1, workers or os.cpu_count() or 1)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="decode") if workers > 1 else None
    batch = BatchContext(
        contract, declared, nullable(declared), chunk_rows, max_line_bytes, UniqueTracker(), references,
        workers, pool,
    )  # fmt: skip
    try:
        yield from _decoded(paths, input_format, batch, schema_lookup, storage_options, meter)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _decoded(
    paths, input_format: str | None, batch: BatchContext, schema_lookup, storage_options, meter
) -> Iterator[Chunk]:
    for path in [str(paths)] if isinstance(paths, str | os.PathLike) else [str(p) for p in paths]:
        fmt = input_format or detect_format(path)
        with open_input(path, storage_options, meter) as stream:
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
