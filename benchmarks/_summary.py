"""The summary table of a benchmark run: every ``FIGURE {json}`` line (``benchmarks._report``) found.

``make bench`` tees each benchmark's output into ``.meshgate/bench/<name>.log`` and ends with this
table. Reads the files named on the command line, or stdin when none; other lines are skipped.

    .venv/bin/python -m benchmarks._summary .meshgate/bench/*.log
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from benchmarks._report import PREFIX

COLUMNS = ("name", "value", "baseline", "ratio", "unit")


def figures(lines: Iterable[str]) -> list[dict]:
    """The records of the FIGURE lines among ``lines``, in order; a malformed one is reported, not fatal."""
    found = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(PREFIX):
            continue
        try:
            record = json.loads(line[len(PREFIX) :])
        except json.JSONDecodeError as error:
            print(f"line {number}: not a FIGURE record ({error.msg})", file=sys.stderr)
            continue
        if isinstance(record, dict) and "name" in record:
            found.append(record)
    return found


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def table(records: list[dict]) -> str:
    """The records as an aligned text table, one row each."""
    rows = [COLUMNS, *([_cell(record.get(column)) for column in COLUMNS] for record in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    records: list[dict] = []
    if not paths:
        records = figures(sys.stdin)
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                records += figures(file)
        except OSError as error:
            print(f"{path}: cannot read ({error.strerror})", file=sys.stderr)
            return 2
    print(table(records) if records else "no FIGURE lines found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
