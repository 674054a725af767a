"""JSON Lines batches: a vectorised fast path, and a precise pass only for blocks pyarrow refuses.

Lines are read in blocks of about ``chunk_rows`` lines; each block goes to ``pyarrow.json.read_json``
with the contract's explicit schema (parsed one block ahead on a worker thread). pyarrow's errors
carry block-relative row numbers or none, so a refused block is read again line by line in Python
to name each bad row's number, byte offset and field path; the lines that pass are typed by pyarrow
again, so both passes accept exactly the same values.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from lakehouse.decode.context import BatchContext
from lakehouse.decode.values import (
    TOO_DEEP,
    UUID_PATTERN,
    Mismatch,
    NonJsonNumber,
    json_kind,
    parse_json_line,
    record_value,
)
from lakehouse.errors import InvalidBatch
from lakehouse.validate import REDACTED, Chunk, RowViolation, is_pii, redact, sequence, shown_value


def jsonl_chunks(stream: BinaryIO, path: str, batch: BatchContext) -> Iterator[Chunk]:
    """Blocks parsed ahead on the batch's workers while the oldest one is validated, in file order.

    Up to ``batch.workers`` blocks are parsed at once (pyarrow's parser and the validation kernels
    release the GIL, so they run on all cores); validation stays in order on the caller's thread,
    so row numbers, ``unique`` and the order of violations do not depend on the workers. One worker
    parses each block in turn on the caller's thread, single-threaded.
    """
    plan = _fast_plan(batch)
    threads = batch.workers > 1
    in_flight: deque = deque()
    for first_row, first_offset, lines, block in _line_blocks(stream, path, batch):
        parsed = batch.run(_parse_block, block, plan, batch.schema, threads)
        in_flight.append(((block, lines, first_row, first_offset), parsed))
        if len(in_flight) >= batch.workers:
            args, oldest = in_flight.popleft()
            yield _jsonl_block(*args, oldest.result(), path, batch)
    while in_flight:
        args, oldest = in_flight.popleft()
        yield _jsonl_block(*args, oldest.result(), path, batch)


@dataclass(frozen=True)
class _FastPlan:
    """How pyarrow reads a block, and the checks its result must pass to be taken as it is.

    pyarrow accepts a few things the contract refuses (``NaN`` in a float field, invalid UTF-8 in a
    string, any string in a uuid field, a decimal string with more digits than the precision) and
    cannot tell an absent field from a null; a block where
    one of these shows goes to the precise pass instead, which decides row by row.
    """

    read_schema: pa.Schema
    numbers: tuple[pa.Schema, pa.Schema] | None  # read and cast-through schemas, epoch numbers
    finite: tuple[tuple[str, ...], ...]  # float leaves: no NaN or infinity
    checked: tuple[tuple[str, ...], ...]  # string and decimal leaves: valid UTF-8, within precision
    uuids: tuple[tuple[str, ...], ...]  # uuid leaves: the UUID pattern
    defaulted: tuple[str, ...]  # top-level columns with a non-null default: no null
    numbers_first: list[bool] = dataclasses.field(
        default_factory=lambda: [False]
    )  # the variant that read last


_NO_FAST_PATH = frozenset({"map", "time", "json", "union", "null"})
"""Kinds pyarrow's JSON reader cannot fill: contracts that have one are read by the precise pass."""


def _fast_plan(batch: BatchContext) -> _FastPlan | None:
    """The fast path for this contract, or None when only the precise pass can read it."""
    finite, checked, uuids, defaulted = [], [], [], []

    def walk(fields, steps: tuple[str, ...]) -> bool:
        for field in fields:
            where = (*steps, field.name)
            if field.json_name not in (None, field.name):
                return False  # either name may be sent: pyarrow would read one only
            if field.json_name is not None and _holds_bytes(field.type):
                return False  # proto3 JSON bytes are base64, which pyarrow does not decode
            if field.has_default and field.default is not None:
                if steps:
                    return False
                defaulted.append(field.name)
            if not walk_type(field.type, where):
                return False
        return True

    def walk_type(neutral, where) -> bool:
        kind = neutral.kind
        if kind in _NO_FAST_PATH:
            return False
        if kind in ("float", "double"):
            finite.append(where)
        elif kind in ("string", "enum", "decimal"):
            checked.append(where)
        elif kind == "uuid":
            uuids.append(where)
            checked.append(where)
        elif kind == "record":
            return walk(neutral.fields, where)
        elif kind == "list":
            return walk_type(neutral.element.type, (*where, "[]"))
        return True

    if not walk(batch.fields, ()):
        return None
    read_schema = pa.schema([pa.field(f.name, _json_type(f.type), f.nullable) for f in batch.schema])
    return _FastPlan(
        read_schema, _numbers_schemas(batch), tuple(finite), tuple(checked), tuple(uuids), tuple(defaulted)
    )


_NUMBER_UNITS = {"millis": "ms", "micros": "us"}


def _numbers_schemas(batch: BatchContext) -> tuple[pa.Schema, pa.Schema] | None:
    """The variant for producers that send epoch numbers: temporal fields whose contract type is a
    number underneath (``Type.base``) are read as integers, cast to their unit, then to microseconds;
    None when the contract has no such field."""
    found = []

    def types(neutral, arrow_type: pa.DataType) -> tuple[pa.DataType, pa.DataType]:
        if neutral.base and neutral.kind == "timestamp" and neutral.unit in _NUMBER_UNITS:
            found.append(neutral)
            return pa.int64(), pa.timestamp(_NUMBER_UNITS[neutral.unit], tz=arrow_type.tz)
        if neutral.base and neutral.kind == "date":
            found.append(neutral)
            return pa.int32(), pa.date32()
        if neutral.kind == "record":
            pairs = [fields(f, c) for f, c in zip(neutral.fields, arrow_type, strict=True)]
            return pa.struct([p[0] for p in pairs]), pa.struct([p[1] for p in pairs])
        if neutral.kind == "list":
            read, via = fields(neutral.element, arrow_type.value_field)
            return pa.list_(read), pa.list_(via)
        return _json_type(arrow_type), arrow_type

    def fields(neutral_field, arrow_field: pa.Field) -> tuple[pa.Field, pa.Field]:
        read, via = types(neutral_field.type, arrow_field.type)
        return arrow_field.with_type(read), arrow_field.with_type(via)

    pairs = [fields(f, c) for f, c in zip(batch.fields, batch.schema, strict=True)]
    if not found:
        return None
    return pa.schema([p[0] for p in pairs]), pa.schema([p[1] for p in pairs])


def _holds_bytes(neutral) -> bool:
    if neutral.kind == "list":
        return _holds_bytes(neutral.element.type)
    return neutral.kind == "bytes"


def _parse_block(
    block: bytes, plan: _FastPlan | None, schema: pa.Schema, threads: bool = True
) -> pa.Table | None:
    """The fast path: the whole block typed by pyarrow, or None when the precise pass must decide.

    ``threads``: pyarrow may split the block over its own thread pool."""
    if plan is None or not _every_line_opens_an_object(block):
        return None
    variants = [(plan.read_schema, None), *([plan.numbers] if plan.numbers else [])]
    if plan.numbers_first[0]:
        variants.reverse()
    for read_schema, via in variants:
        try:
            table = _read_json(block, read_schema, schema, via, threads)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        plan.numbers_first[0] = via is not None  # a file's next block most likely reads the same way
        return table if _passes(table, plan) else None
    return None


def _every_line_opens_an_object(block: bytes) -> bool:
    """Each line starts with ``{``. pyarrow's reader reads a ``null`` line as a row of nulls, and
    crashes the process (pyarrow 26) on a block that starts with one: such blocks, and lines that
    start otherwise (blank, indented), are for the precise pass, which names them."""
    data = np.frombuffer(block, np.uint8)
    if not len(data):
        return True
    starts = np.flatnonzero(data == ord("\n")) + 1
    starts = starts[starts < len(data)]
    return bool(data[0] == ord("{") and np.all(data[starts] == ord("{")))


def _passes(table: pa.Table, plan: _FastPlan) -> bool:
    if any(table.column(name).null_count for name in plan.defaulted):
        return False  # absent (the default) or null (maybe refused): only the precise pass can tell
    for steps in plan.finite:
        for leaf in _leaves(table, steps):
            if pc.all(pc.is_finite(leaf)).as_py() is False:
                return False
    for steps in plan.uuids:
        for leaf in _leaves(table, steps):
            if pc.all(pc.match_substring_regex(leaf, _UUID_REGEX)).as_py() is False:
                return False
    try:
        for steps in plan.checked:
            for leaf in _leaves(table, steps):
                leaf.validate(full=True)  # UTF-8 of every string, every decimal within its precision
    except pa.ArrowInvalid:
        return False
    return True


_UUID_REGEX = f"^{UUID_PATTERN.pattern}$"


def _leaves(table: pa.Table, steps: tuple[str, ...]) -> Iterator[pa.Array]:
    """The arrays at a path of field names and ``[]`` (list elements), chunk by chunk."""
    for chunk in table.column(steps[0]).chunks:
        values = chunk
        for step in steps[1:]:
            values = values.flatten() if step == "[]" else values.field(step)
        yield values


def _line_blocks(
    stream: BinaryIO, path: str, batch: BatchContext
) -> Iterator[tuple[int, int, int, bytearray]]:
    """Blocks of whole lines, about ``chunk_rows`` each: first row, byte offset, line count, bytes.

    Each read lands in a fresh buffer behind the unfinished line carried over, so a block is never
    copied again on its way to pyarrow. A line longer than ``max_line_bytes`` raises as soon as that
    many bytes are read without a newline: the whole line is never held in memory.
    """
    row, offset = 1, 0
    parts: list[bytes] = []  # the unfinished line read so far
    pending = 0  # its length
    read_size = min(64 * 1024, batch.max_line_bytes + 1)  # then sized by _next_read_size
    while True:
        if pending <= read_size:  # the usual case: a short unfinished line
            block = bytearray(pending + read_size)
            block[:pending] = b"".join(parts)
            with memoryview(block) as view:
                size = stream.readinto(view[pending:])
            end = pending + size
            cut = block.rfind(b"\n", pending, end) + 1 if size else end
            rest = bytes(block[cut:end])
            del block[cut:]
        else:  # inside a long line: keep its pieces, join them once it ends
            data = stream.read(read_size)
            size = len(data)
            cut = data.rfind(b"\n") + 1 if size else 0
            rest = data[cut:]
            if not size or cut:
                block = bytearray().join([*parts, memoryview(data)[:cut]])
        if size and not cut:  # no line end in this read
            parts, pending = [*parts, rest] if pending > read_size else [rest], pending + size
            if pending > batch.max_line_bytes:
                raise _line_too_long(path, row, offset, batch.max_line_bytes)
            continue
        parts, pending = ([rest], len(rest)) if rest else ([], 0)
        if block:
            lines = _newlines(block) + (not block.endswith(b"\n"))
            if len(block) > batch.max_line_bytes:
                _check_line_lengths(block, path, row, offset, batch.max_line_bytes)
            yield row, offset, lines, block
            row, offset = row + lines, offset + len(block)
            read_size = _next_read_size(len(block), lines, batch)
        if not size:
            return


def _newlines(block: bytearray) -> int:
    """Line ends in the block; NumPy compares bytes about three times faster than ``bytes.count``."""
    return int(np.count_nonzero(np.frombuffer(block, np.uint8) == ord("\n")))


def _next_read_size(block_bytes: int, lines: int, batch: BatchContext) -> int:
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
                 path: str, batch: BatchContext) -> Chunk:  # fmt: skip
    if table is not None and table.num_rows == lines:  # fewer rows: blank lines; let the slow pass count
        rows = sequence(first_row, lines)
        problems = []
        if batch.keywords:
            starts = _line_starts(block)
            problems = _keyword_violations(
                block, starts, first_row + np.arange(len(starts)), first_offset + starts, batch, table
            )
        return batch.finish(
            table,
            rows,
            problems,
            {},
            path,
            lambda wanted: _line_offsets(block, first_row, first_offset, wanted),
        )
    return _jsonl_precise(block, first_row, first_offset, path, batch)


def _read_json(data: bytes, json_schema: pa.Schema, schema: pa.Schema, via: pa.Schema | None = None,
               threads: bool = True, unexpected: str = "ignore") -> pa.Table:  # fmt: skip
    """Typed rows by pyarrow in 1 MiB blocks (threaded), or in one block when a line is longer.

    ``via``: a schema to cast through first (epoch numbers to timestamps of their own unit);
    ``unexpected``: what a member the schema does not name does (``ignore`` or ``error``).
    """
    parse = pa_json.ParseOptions(explicit_schema=json_schema, unexpected_field_behavior=unexpected)
    try:
        table = pa_json.read_json(
            pa.BufferReader(data), read_options=pa_json.ReadOptions(use_threads=threads), parse_options=parse
        )
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
        whole = pa_json.ReadOptions(use_threads=threads, block_size=len(data) + 1)
        table = pa_json.read_json(pa.BufferReader(data), read_options=whole, parse_options=parse)
    if via is not None:
        table = table.cast(via)
    if json_schema.equals(schema, check_metadata=False):
        return pa.Table.from_arrays(table.columns, schema=schema)
    return table.cast(schema)


def _keyword_violations(block: bytes, starts: np.ndarray, rows, offsets, batch: BatchContext,
                        typed: pa.Table | None = None) -> list:  # fmt: skip
    """Typed lines against the contract's JSON Schema keywords (``json_schema_checks``): those its
    Arrow checks flag, or all. Line ``i`` of the block starts at ``starts[i]``, is row ``rows[i]``
    at byte ``offsets[i]`` of its file; ``typed``: the fast path's table of the block."""
    ends = np.append(starts[1:] - 1, len(block))
    found = []
    for i in _keyword_suspects(block, starts, ends, batch, typed):
        line = block[starts[i] : ends[i]]
        if line.strip():
            found += batch.keywords.violations(int(rows[i]), int(offsets[i]), parse_json_line(line))
    return found


def _keyword_suspects(block: bytes, starts: np.ndarray, ends: np.ndarray, batch: BatchContext,
                      typed: pa.Table | None = None):  # fmt: skip
    """The lines the validator must see: the Arrow checks' suspects, and those whose text sends a
    member as ``null`` where the schema refuses one (or has a backslash, which may escape the
    name); every line when pyarrow cannot read the block as the checks need."""
    every = range(len(starts))
    vector = batch.keywords.vector
    if vector is None:
        return every
    table = (
        _as_read(typed, vector.read_schema) if typed is not None and vector.unexpected == "ignore" else None
    )
    try:
        if table is None:
            table = _read_json(block, vector.read_schema, vector.read_schema, unexpected=vector.unexpected)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return every  # a closed object with more members, a value of another JSON type, ...
    if table.num_rows != len(starts):
        return every
    suspect, if_null = vector.suspects(table)
    for name, rows in if_null.items():
        sent = re.compile(
            rb'"%s"\s*:\s*null|\\' % re.escape(json.dumps(name, ensure_ascii=False)[1:-1].encode())
        )
        for i in np.flatnonzero(rows & ~suspect):
            suspect[i] = sent.search(block, starts[i], ends[i]) is not None
    return np.flatnonzero(suspect)


def _as_read(typed: pa.Table, read_schema: pa.Schema) -> pa.Table | None:
    """The typed table's columns when each has the type the checks read (no temporal format), so
    the block need not be read again; None otherwise."""
    for field in read_schema:
        index = typed.schema.get_field_index(field.name)
        if index < 0 or not typed.schema.field(index).type.equals(field.type):
            return None
    return typed.select(read_schema.names)


def _line_starts(block: bytes) -> np.ndarray:
    data = np.frombuffer(block, np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(data == ord("\n")) + 1])
    return starts[:-1] if len(starts) > 1 and starts[-1] == len(block) else starts


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


def _jsonl_precise(block: bytes, first_row: int, first_offset: int, path: str, batch: BatchContext) -> Chunk:
    """Line by line: each line parsed strictly and typed by the neutral field tree (``values``)."""
    problems: list[RowViolation] = []
    raw: dict[int, str] = {}
    good: list[tuple[int, int, dict, bytes]] = []
    row, start = first_row, 0
    for line in block.split(b"\n"):
        offset = first_offset + start
        start += len(line) + 1
        row, this_row = row + 1, row
        if not line.strip():
            continue
        try:
            record = parse_json_line(line)
        except ValueError as exc:
            where = f" (byte {exc.pos} of the line)" if getattr(exc, "pos", None) is not None else ""
            message = f"row is not valid JSON: {getattr(exc, 'msg', exc)}{where}"
            problems.append(RowViolation(this_row, "", "decode", "", message, offset))
            raw[this_row] = _raw_text(line, None, batch.pii)
            continue
        if not isinstance(record, dict):
            raise InvalidBatch(
                f"line is a JSON {json_kind(record)}, not an object: JSON Lines input needs one object per line",
                file=path, row=this_row, byte_offset=offset,
            )  # fmt: skip
        found: list[Mismatch] = []
        try:
            value = record_value(record, batch.fields, found)
        except RecursionError:  # a value nested almost as deep as json's own limit, in a json field
            found = [Mismatch("", TOO_DEEP, rule="decode")]
        if found:
            problems += [_violation(this_row, offset, mismatch, batch.pii) for mismatch in found]
            raw[this_row] = _raw_text(line, record, batch.pii)
        else:
            good.append((this_row, offset, value, line))
    if batch.keywords and good:  # typed, so only a JSON Schema keyword may still refuse them (kept typed)
        lines = [line for _, _, _, line in good]
        starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
        problems += _keyword_violations(
            b"\n".join(lines), starts, [r for r, _, _, _ in good], [o for _, o, _, _ in good], batch
        )
    table, typed_rows = _typed(good, batch, problems, raw)
    offsets = {r: o for r, o, _, _ in good}
    offsets.update({v.row: v.byte_offset for v in problems})
    rows = pa.array(typed_rows, pa.int64())
    return batch.finish(
        table, rows, problems, raw, path, lambda wanted: {r: offsets[r] for r in wanted if r in offsets}
    )


def _violation(row: int, offset: int, mismatch: Mismatch, pii: list[str]) -> RowViolation:
    """A mismatch as a row violation; on a PII field neither the value nor a message quoting it shows."""
    if is_pii(mismatch.path, pii):
        message = f"{mismatch.path}: a value does not fit the contract's type (details withheld: PII)"
        return RowViolation(row, mismatch.path, mismatch.rule, REDACTED, message, offset)
    shown = "" if mismatch.value is None else shown_value(mismatch.value, mismatch.path, pii)
    return RowViolation(row, mismatch.path, mismatch.rule, shown, mismatch.message, offset)


def _typed(good: list, batch: BatchContext, problems: list, raw: dict) -> tuple[pa.Table, list[int]]:
    """The typed rows as one table: all at once, or one by one if pyarrow balks at one."""
    try:
        return pa.Table.from_pylist([v for _, _, v, _ in good], schema=batch.schema), [
            r for r, _, _, _ in good
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    tables, rows = [], []
    for row, offset, value, line in good:
        try:
            tables.append(pa.Table.from_pylist([value], schema=batch.schema))
            rows.append(row)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            message = "row does not fit the contract's Arrow types" + ("" if batch.pii else f": {exc}")
            problems.append(RowViolation(row, "", "type", "", message, offset))
            raw[row] = _raw_text(line, parse_json_line(line), batch.pii)
    return (pa.concat_tables(tables) if tables else batch.schema.empty_table()), rows


def _json_type(arrow_type: pa.DataType) -> pa.DataType:
    """What pyarrow's JSON reader fills for a column: dates come as strings, then are cast."""
    if pa.types.is_date(arrow_type):
        return pa.string()
    if pa.types.is_list(arrow_type):
        item = arrow_type.value_field
        return pa.list_(pa.field(item.name, _json_type(item.type), item.nullable))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(c.name, _json_type(c.type), c.nullable) for c in arrow_type])
    return arrow_type


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
    return json.dumps(redact(record, pii), default=_raw_default)  # ASCII: lone surrogates escaped


def _raw_default(value) -> object:
    return value.literal if isinstance(value, NonJsonNumber) else str(value)
