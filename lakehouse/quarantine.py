"""Quarantine tables: the rows a batch could not put in Bronze, with why, in ``quarantine.<table>``.

The record text is kept as the producer sent it (PII field values redacted), with its source file,
row number, byte offset when known and every violation, so a producer can fix and resend exactly
those rows. Same gate columns and day partitioning as Bronze, so the same retention applies.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa

from lakehouse.validate import redact

REASON_TYPE = pa.struct(
    [
        pa.field("field", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("value", pa.string()),
        pa.field("message", pa.string()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("byte_offset", pa.int64()),
        pa.field("raw", pa.string()),
        pa.field("reasons", pa.list_(REASON_TYPE)),
    ]
)


def quarantine_rows(
    typed: pa.Table,
    typed_rows: list[int],
    raw: dict[int, str],
    violations: Iterable,
    pii_fields: list[str],
    default_file: str | None,
) -> pa.Table:
    """One quarantine row per invalid source row: raw text (PII redacted) and its violations.

    ``typed``/``typed_rows`` are the rows that were decoded (row numbers aligned), ``raw`` the
    already-redacted text of rows that could not be decoded.
    """
    by_row = defaultdict(list)
    for violation in violations:
        by_row[violation.row].append(violation)
    position = {row: i for i, row in enumerate(typed_rows)}
    wanted = sorted(by_row)
    typed_records = typed.take(
        pa.array([position[r] for r in wanted if r in position], pa.int64())
    ).to_pylist()
    typed_text = {
        row: json.dumps(redact(record, pii_fields), default=str, sort_keys=True)
        for row, record in zip([r for r in wanted if r in position], typed_records, strict=True)
    }
    files, rows, offsets, texts, reasons = [], [], [], [], []
    for row in wanted:
        found = by_row[row]
        files.append(found[0].file or default_file)
        rows.append(row)
        offsets.append(next((v.byte_offset for v in found if v.byte_offset is not None), None))
        texts.append(raw.get(row, typed_text.get(row)))
        reasons.append(
            [{"field": v.field, "rule": v.rule, "value": v.value, "message": v.message} for v in found]
        )
    return pa.Table.from_pydict(
        {"file": files, "row": rows, "byte_offset": offsets, "raw": texts, "reasons": reasons},
        schema=QUARANTINE_SCHEMA,
    )
