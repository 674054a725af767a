"""JSON Lines batches: a vectorised fast path, and a precise pass only for blocks pyarrow refuses.

Lines are read in blocks of about ``chunk_rows`` lines; each block goes to ``pyarrow.json.read_json``
with the contract's explicit schema (parsed one block ahead on a worker thread). pyarrow's errors
carry block-relative row numbers or none, so a refused block is read again line by line in Python
to name each bad row's number, byte offset and field path; the lines that pass are typed by pyarrow
again, so both passes accept exactly the same values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from lakehouse.decode.context import BatchContext
from lakehouse.errors import InvalidBatch
from lakehouse.validate import REDACTED, Chunk, RowViolation, is_pii, redact, sequence, shown_value


def jsonl_chunks(stream: BinaryIO, path: str, batch: BatchContext) -> Iterator[Chunk]:
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
                 path: str, batch: BatchContext, json_schema: pa.Schema) -> Chunk:  # fmt: skip
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
        table = pa_json.read_json(pa.BufferReader(data), parse_options=parse)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
        whole = pa_json.ReadOptions(block_size=len(data) + 1)
        table = pa_json.read_json(pa.BufferReader(data), read_options=whole, parse_options=parse)
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


def _jsonl_precise(block: bytes, first_row: int, first_offset: int, path: str, batch: BatchContext,
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
                this_row, field_path, rule, shown_value(value, field_path, batch.pii), message, offset
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


def _type_good_lines(good, json_schema, batch: BatchContext, problems: list, raw: dict) -> tuple[list, list]:
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
    """``(path, rule, value, message)`` for each value of a parsed JSON object of the wrong type.

    Nulls and missing fields are typable (validate() names the required ones).
    """
    for pa_field in fields:
        value = record.get(pa_field.name)
        if value is not None:
            yield from _json_value_problems(value, pa_field.type, prefix + pa_field.name)


def _json_value_problems(value, arrow_type: pa.DataType, path: str) -> Iterator[tuple[str, str, object, str]]:
    expected = _expected_json(arrow_type, value)
    if expected:
        yield path, "type", value, f"{path}: expected {expected}, got a JSON {_json_kind(value)}"
    elif pa.types.is_struct(arrow_type):
        yield from _json_problems(value, arrow_type, path + ".")
    elif pa.types.is_list(arrow_type):
        for element in value:
            if element is not None:
                yield from _json_value_problems(element, arrow_type.value_type, path + "[]")


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
