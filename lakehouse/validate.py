"""Validation of typed rows against a contract, vectorised with pyarrow.compute.

The typed read already enforced the field types; here the schema's own constraints (required fields,
enum symbols) and the contract's quality rules (``not_null``, ``accepted_values``, ``min``, ``max``,
``regex``, ``unique``) run as Arrow kernels over whole columns; CEL rules registered by Confluent
clients run per record (``lakehouse.cel_rules``). Python only touches the rows that
violate something. Values of the contract's PII fields never appear in a violation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.cel_rules import cel_failures
from lakehouse.schema_mapping import ENUM_KEY, arrow_schema
from lakehouse.value_hash import value_hashes
from registry.contract import Contract, QualityRule
from registry.errors import InvalidArgument

REDACTED = "<redacted PII>"
MAX_SHOWN = 120  # characters of a value echoed in a violation
_LITERAL_PREFIX = re.compile(r"\^([A-Za-z0-9:/@,=_' -]*)")
"""A regex rule that is ``^`` and characters that mean themselves in RE2: a prefix."""


@dataclass
class RowViolation:
    """One reason why one source row breaks its contract."""

    row: int  # 1-based row (line or record number) in its file
    field: str  # path such as ``items[].sku``; empty when the whole row is at fault
    rule: str  # type, required, enum, not_null, accepted_values, min, max, regex, unique, decode
    value: str  # the offending value as text, or "<redacted PII>"
    message: str
    byte_offset: int | None = None
    file: str | None = None


@dataclass
class Chunk:
    """A slice of one file, decoded: typed rows plus what was wrong with which row.

    ``table`` holds every row that could be typed, also those breaking a rule or missing a required
    value (its schema is the contract's, all fields nullable); ``rows`` are their 1-based source row
    numbers. Rows that could not be typed at all are only in ``violations`` and ``raw`` (their text,
    PII redacted). ``invalid_rows`` is every row with at least one violation.
    """

    table: pa.Table
    rows: pa.Array
    violations: list[RowViolation]
    invalid_rows: set[int]
    raw: dict[int, str]
    file: str | None = None

    def valid_table(self) -> pa.Table:
        """The typed rows without any violation: what may enter Bronze."""
        if not self.invalid_rows:
            return self.table
        bad = pa.array(sorted(self.invalid_rows), pa.int64())
        return self.table.filter(pc.invert(pc.is_in(self.rows, value_set=bad)))


def validate(
    table: pa.Table,
    contract: Contract,
    first_row: int = 1,
    *,
    rows: pa.Array | None = None,
    unique: UniqueTracker | None = None,
    schema: pa.Schema | None = None,
) -> list[RowViolation]:
    """Violations of required fields, enum symbols and quality rules in ``table``.

    Row numbers are ``first_row + i``, or ``rows[i]`` when given (a chunk whose untypable rows were
    taken out). ``unique`` carries values across chunks; without it uniqueness is checked within
    ``table`` only. Required fields and enum symbols come from ``schema``, by default the contract's
    Arrow schema (``table`` itself may be all-nullable). Violations come sorted by row;
    ``file``/``byte_offset`` are left to the caller.
    """
    if rows is None:
        rows = sequence(first_row, table.num_rows)
    pii = [_normalise(p) for p in contract.metadata.pii_fields]
    found: list[RowViolation] = []
    for path, pa_field, check_null in _schema_paths(schema or arrow_schema(contract)):
        symbols = (pa_field.metadata or {}).get(ENUM_KEY)
        if not check_null and not symbols:
            continue
        values = _walk(table, path, with_index=False)[0]
        locate = lambda p=path: column_values(table, p)[1]  # noqa: E731 - built only for violations
        if check_null and values.null_count:
            found += _report(values, locate, rows, pc.is_null(values), path, "required", pii,
                             lambda shown, p=path: f"{p} is required but missing or null")  # fmt: skip
        if symbols:
            allowed = json.loads(symbols)
            mask = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=pa.array(allowed))))
            listed = ", ".join(allowed)
            found += _report(values, locate, rows, mask, path, "enum", pii,
                             lambda shown, p=path, s=listed: f"{p}: {shown} is not a symbol of the enum ({s})")  # fmt: skip
    tracker = unique or UniqueTracker()
    for rule in contract.metadata.quality_rules:
        found += _check_rule(table, rule, rows, pii, tracker)
    found += [RowViolation(*failure[:3], "", failure[3]) for failure in cel_failures(table, contract, rows)]
    found.sort(key=lambda v: v.row)
    return found


class UniqueTracker:
    """Remembers the values of ``unique`` fields across the chunks of one batch.

    Keeps a 64-bit hash (``value_hash``, computed over the whole chunk at once) and the first row
    (32 bits) per distinct value in sorted NumPy runs, merged a few at a time so that each chunk is
    checked with a binary search per run: 12 bytes a key (five million keys: 60 MB) and no
    Python work per value. Runs stop merging at ``MAX_MERGED`` keys, so a merge never copies more than
    that and memory grows by the keys alone, not by twice the largest run. A bitmap of the hashes'
    top ``FILTER_BITS`` bits seen so far (8 MiB a field) spares the binary searches for every
    value whose bit is still clear, which is nearly every value of a batch without repeats. Two
    different values that share a hash would be reported as duplicates: about one chance in 10^6 at
    5 million values.
    """

    MAX_MERGED = 1 << 18  # a merge's temporaries ~8 MB (at 1 << 20 they were 32 MB: +24 MiB peak RSS at 5M)
    FAN_IN = 8
    FILTER_BITS = 26

    def __init__(self) -> None:
        self._runs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # (sorted hashes, first rows)
        self._seen: dict[str, np.ndarray] = {}  # bitmap of the hashes' top bits, per field

    def duplicates(
        self, path: str, values: pa.Array | pa.ChunkedArray, rows: pa.Array
    ) -> list[tuple[int, int, int]]:
        """``(index in values, row, first row with the same value)`` for each repeat, remembering all.

        A value repeated inside one row (a list field) is not a repeat.
        """
        runs = self._runs.setdefault(path, [])
        present = None  # positions of the non-null values; None: all of them
        if values.null_count:
            present = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
            if not len(present):
                return []
        try:
            hashes = value_hashes(values)
        except TypeError as exc:
            raise InvalidArgument(f"quality rule unique on {path}: {exc}") from None
        row_numbers = rows.to_numpy(zero_copy_only=False)
        if present is not None:
            hashes, row_numbers = hashes[present], row_numbers[present]
        order = np.argsort(hashes)
        ordered, ordered_rows = hashes[order], row_numbers[order]
        changes = ordered[1:] != ordered[:-1]
        starts = None  # where each distinct hash begins in ``ordered``; None: every value distinct
        if changes.all():
            distinct, first_rows = ordered, ordered_rows
        else:
            starts = np.flatnonzero(np.concatenate(([True], changes)))
            distinct, first_rows = ordered[starts], np.minimum.reduceat(ordered_rows, starts)
        earlier = np.full(len(distinct), -1, np.int64)
        seen = self._seen.setdefault(path, np.zeros(1 << (self.FILTER_BITS - 3), np.uint8))
        slots = distinct >> np.uint64(64 - self.FILTER_BITS)
        bits = np.left_shift(1, (slots & np.uint64(7)).astype(np.uint8)).astype(np.uint8)
        maybe = np.flatnonzero(seen[slots >> np.uint64(3)] & bits)  # clear bit: never seen
        for run_hashes, run_rows in runs if len(maybe) else ():
            at = np.minimum(np.searchsorted(run_hashes, distinct[maybe]), len(run_hashes) - 1)
            hit = run_hashes[at] == distinct[maybe]
            earlier[maybe[hit]] = run_rows[at[hit]]
        new = earlier < 0
        every = bool(new.all())  # the common case: no value seen before (no copies of the keys)
        fresh = (
            (slots, bits, distinct, first_rows)
            if every
            else (slots[new], bits[new], distinct[new], first_rows[new])
        )
        at = fresh[0] >> np.uint64(3)  # sorted, as ``distinct`` is: OR each byte's bits at once
        if len(at):
            firsts = np.flatnonzero(np.concatenate(([True], at[1:] != at[:-1])))
            seen[at[firsts]] |= np.bitwise_or.reduceat(fresh[1], firsts)
        self._remember(runs, fresh[2], fresh[3])
        if starts is None and every:
            return []  # the common case: no repeat at all
        if starts is None:
            group = np.arange(len(distinct))
        else:
            group = np.repeat(np.arange(len(distinct)), np.diff(np.append(starts, len(ordered))))
        first = np.where(new[group], first_rows[group], earlier[group])
        repeat = ~new[group] | (ordered_rows > first_rows[group])
        positions = (order if present is None else present[order])[repeat]
        by_index = np.argsort(positions)
        columns = (positions[by_index], ordered_rows[repeat][by_index], first[repeat][by_index])
        return list(zip(*(c.tolist() for c in columns), strict=True))

    @staticmethod
    def _remember(runs: list, hashes: np.ndarray, first_rows: np.ndarray) -> None:
        """Add a sorted run; the newest ``FAN_IN`` runs of one size class are merged into one.

        Runs of a size class merge only when ``FAN_IN`` of them are there, so a key is copied a
        few times over a batch, not once per doubling (the bitmap keeps lookups cheap anyway).
        """
        if len(hashes):
            narrow = first_rows.max() < 2**32  # 32-bit rows, unless a file has more lines than that
            runs.append((hashes, first_rows.astype(np.uint32) if narrow else first_rows))
        fan_in = UniqueTracker.FAN_IN
        while (
            len(runs) >= fan_in
            and len(runs[-fan_in][0]) <= 2 * len(runs[-1][0])
            and sum(len(run[0]) for run in runs[-fan_in:]) <= UniqueTracker.MAX_MERGED
        ):
            runs[-fan_in:] = [_merge_runs(runs[-fan_in:])]


def _merge_runs(sorted_runs: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(hashes, first rows)`` runs as one; a stable sort merges the sorted runs in passes."""
    hashes = np.concatenate([run[0] for run in sorted_runs])
    order = np.argsort(hashes, kind="stable")
    rows = np.concatenate([run[1] for run in sorted_runs])
    return hashes[order], rows[order]


def _composite_duplicates(
    table: pa.Table, paths: tuple[str, ...], key: str, rows: pa.Array, pii: list[str], tracker: UniqueTracker
) -> list[RowViolation]:
    """``unique`` on a composite key: rows whose parts are all equal to an earlier row's.

    A row with a null part has no key (``not_null`` rules are what refuse it), as in SQL.
    """
    parts = [_row_values(table, path) for path in paths]
    missing = parts[0].is_null()
    for part in parts[1:]:
        missing = pc.or_(missing, part.is_null())
    keys = pa.StructArray.from_arrays(parts, names=[f"k{i}" for i in range(len(parts))], mask=missing)
    found = []
    for i, row, first in tracker.duplicates(key, keys, rows):
        shown = ", ".join(
            shown_value(part[i].as_py(), path, pii) for part, path in zip(parts, paths, strict=True)
        )
        message = f"({', '.join(paths)}): ({shown}) repeats the key of row {first} (must be unique within the batch)"
        found.append(RowViolation(row, key, "unique", f"({shown})", message))
    return found


def _row_values(table: pa.Table, path: str) -> pa.Array:
    """One value per row at a path through records (null where a record on the way is null)."""
    parts = path.split(".")
    if parts[0] not in table.schema.names:
        raise InvalidArgument(f"field path {path!r} is not a column of the contract's schema")
    values = table.column(parts[0]).combine_chunks()
    for depth, name in enumerate(parts[1:], start=1):
        if not pa.types.is_struct(values.type) or values.type.get_field_index(name) < 0:
            raise InvalidArgument(
                f"field path {path!r}: {'.'.join(parts[:depth])} has no field {name!r} "
                "(a composite key takes one value per row, through records only)"
            )
        values = pc.struct_field(values, name)
    return values


def sequence(start: int, count: int) -> pa.Array:
    """``start, start + 1, ...`` as int64 without a Python loop."""
    return pa.array(np.arange(start, start + count, dtype=np.int64))


def column_values(table: pa.Table, path: str) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | None]:
    """The values at a field path and, for each, the index of its row in ``table`` (None: the same).

    A top-level column comes as the table's own (chunked) array; a nested path as one array.

    ``shipping.city`` descends into a struct, ``items[].sku`` (or ``items.sku``) into each element of
    a list. Rows whose ancestors are null contribute nothing; nulls at the path itself are kept.
    """
    return _walk(table, path, with_index=True)


def _walk(table: pa.Table, path: str, with_index: bool) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | None]:
    """``column_values``; without ``with_index`` the row index (the costly part) is not built."""
    parts = [p for p in path.replace("[]", "").split(".") if p]
    if not parts or parts[0] not in table.schema.names:
        raise InvalidArgument(f"field path {path!r} is not a column of the contract's schema")
    column = table.column(parts[0])
    if len(parts) == 1 and not pa.types.is_list(column.type):
        return column, None  # the table's own chunks: no copy of a whole column per check
    values = column.combine_chunks()
    index = sequence(0, table.num_rows) if with_index else None
    for depth, name in enumerate(parts[1:], start=1):
        values, index = _flatten_lists(values, index)
        if not pa.types.is_struct(values.type) or values.type.get_field_index(name) < 0:
            raise InvalidArgument(f"field path {path!r}: {'.'.join(parts[:depth])} has no field {name!r}")
        keep = pc.is_valid(values)
        values = pc.struct_field(values.filter(keep), name)
        index = index.filter(keep) if with_index else None
    return _flatten_lists(values, index) if path.endswith("[]") else (values, index)


def _flatten_lists(values: pa.Array, index: pa.Array | None) -> tuple[pa.Array, pa.Array | None]:
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        if index is not None:
            index = index.take(pc.list_parent_indices(values))
        values = pc.list_flatten(values)
    return values, index


def _schema_paths(schema: pa.Schema, prefix: str = ""):
    """``(path, field, must_not_be_null)`` for every field, nested ones included."""
    for pa_field in schema:
        yield from _field_paths(pa_field, prefix + pa_field.name)


def _field_paths(pa_field: pa.Field, path: str):
    yield path, pa_field, not pa_field.nullable
    arrow_type = pa_field.type
    if pa.types.is_list(arrow_type):
        yield from _field_paths(arrow_type.value_field, path + "[]")
    elif pa.types.is_struct(arrow_type):
        for child in arrow_type:
            yield from _field_paths(child, f"{path}.{child.name}")


def _check_rule(
    table: pa.Table, rule: QualityRule, rows: pa.Array, pii: list[str], tracker: UniqueTracker
) -> list[RowViolation]:
    path = rule.field
    if rule.rule == "unique" and len(rule.fields) > 1:
        return _composite_duplicates(table, rule.fields, path, rows, pii, tracker)
    if rule.rule == "unique":
        values, index = column_values(table, path)
        found = []
        for i, row, first in tracker.duplicates(path, values, rows if index is None else rows.take(index)):
            shown = shown_value(values[i].as_py(), path, pii)
            message = f"{path}: {shown} repeats the value of row {first} (must be unique within the batch)"
            found.append(RowViolation(row, path, "unique", shown, message))
        return found
    values = _walk(table, path, with_index=False)[0]
    locate = lambda: column_values(table, path)[1]  # noqa: E731 - built only when a row breaks the rule
    if rule.rule == "not_null":
        return _report(
            values,
            locate,
            rows,
            pc.is_null(values),
            path,
            "not_null",
            pii,
            lambda _: f"{path} must not be null",
        )
    if rule.rule == "accepted_values":
        accepted = _typed_list(list(rule.values), values.type, rule)
        mask = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=accepted)))
        listed = ", ".join(str(v) for v in rule.values)
        return _report(values, locate, rows, mask, path, "accepted_values", pii,
                       lambda shown: f"{path}: {shown} is not one of the accepted values ({listed})")  # fmt: skip
    if rule.rule in ("min", "max"):
        numbers = _numeric(values, rule)
        compare = pc.less if rule.rule == "min" else pc.greater
        mask = pc.fill_null(compare(numbers, rule.value), False)
        word = "below the minimum" if rule.rule == "min" else "above the maximum"
        return _report(
            values,
            locate,
            rows,
            mask,
            path,
            rule.rule,
            pii,
            lambda shown: f"{path}: {shown} is {word} {rule.value}",
        )
    if rule.rule == "regex":
        texts = values if pa.types.is_string(values.type) else values.cast(pa.string())
        try:
            prefix = _LITERAL_PREFIX.fullmatch(rule.value)
            if prefix:  # ``^https://``: a prefix test, several times cheaper than RE2 for the same answer
                matched = pc.starts_with(texts, prefix.group(1))
            else:
                matched = pc.match_substring_regex(texts, rule.value)
        except pa.ArrowInvalid as exc:
            raise InvalidArgument(
                f"quality rule regex on {path}: pattern not supported by RE2: {exc}"
            ) from None
        mask = pc.fill_null(pc.invert(matched), False)
        return _report(
            values,
            locate,
            rows,
            mask,
            path,
            "regex",
            pii,
            lambda shown: f"{path}: {shown} does not match {rule.value}",
        )
    raise InvalidArgument(f"unknown quality rule {rule.rule!r} on {path}")


def _typed_list(items: list, arrow_type: pa.DataType, rule: QualityRule) -> pa.Array:
    try:
        return pa.array(items, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InvalidArgument(
            f"quality rule accepted_values on {rule.field}: values {items!r} do not fit the field's type {arrow_type}"
        ) from None


def _numeric(values: pa.Array, rule: QualityRule) -> pa.Array:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return values
    if pa.types.is_decimal(values.type):
        return values.cast(pa.float64())
    raise InvalidArgument(
        f"quality rule {rule.rule} on {rule.field}: the field is {values.type}, not a number"
    )


def _report(
    values: pa.Array,
    locate: Callable[[], pa.Array | None],
    rows: pa.Array,
    mask,
    path: str,
    rule: str,
    pii: list[str],
    describe: Callable[[str], str],
) -> list[RowViolation]:
    """A violation per position where ``mask`` is true; only those positions reach Python.

    ``locate()`` gives each value's row index in the table (None: the identity), built only now.
    """
    positions = pc.indices_nonzero(mask)
    if not len(positions):
        return []
    index = locate()
    bad_values = values.take(positions).to_pylist()
    bad_rows = rows.take(positions if index is None else index.take(positions)).to_pylist()
    found = []
    for row, value in zip(bad_rows, bad_values, strict=True):
        shown = shown_value(value, path, pii)
        found.append(RowViolation(row, path, rule, shown, describe(shown)))
    return found


def is_pii(path: str, pii_fields: list[str]) -> bool:
    """Whether a field path is one of the contract's PII fields or lies inside one."""
    path = _normalise(path)
    return any(path == p or path.startswith(p + ".") for p in (_normalise(q) for q in pii_fields))


def _normalise(path: str) -> str:
    return path.replace("[]", "")


def shown_value(value, path: str, pii: list[str]) -> str:
    """The value as it may appear in a violation: redacted for PII, shortened when long."""
    if value is None:
        return "null"
    if is_pii(path, pii):
        return REDACTED
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = json.dumps(value)
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


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
