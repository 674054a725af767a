"""Vectorised (Arrow compute) vs per-record (cel-python) evaluation of one CEL condition.

``python -m benchmarks.cel_rules [ROWS] [SAMPLE]``: the vectorised path over ROWS rows (default
1,000,000); the interpreter over SAMPLE rows (default 20,000), scaled to ROWS (it is linear).
"""

from __future__ import annotations

import sys
import time

import celpy
import numpy as np
import pyarrow as pa

from benchmarks._report import figure
from lakehouse.cel_rules import interpreted_failures, vectorised_failures

EXPR = 'message.amount >= 0.0 && message.currency in ["EUR", "USD"] && message.email.contains("@")'


def table(rows: int) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "amount": rng.normal(50, 40, rows),
            "currency": pa.array(np.array(["EUR", "USD", "GBP"])[rng.integers(0, 3, rows)]),
            "email": pa.array(np.array(["a@b.c", "bad"])[rng.integers(0, 2, rows)]),
        }
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    sample = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    environment = celpy.Environment()
    tree = environment.compile(EXPR)
    rule = {"name": "r", "type": "CEL", "expr": EXPR}
    big = table(rows)
    start = time.perf_counter()
    failed = vectorised_failures(tree, rule, big, {})
    vectorised = time.perf_counter() - start
    small = table(sample).to_pylist()
    start = time.perf_counter()
    interpreted_failures(environment.program(tree), rule, small, {})
    per_record = (time.perf_counter() - start) * rows / sample
    print(
        f"{rows} rows, {len(failed)} failing; per record measured on {sample} rows and scaled (it is linear)"
    )
    figure(
        "cel vectorised, rows/s",
        rows / vectorised,
        rows / per_record,
        "rows/s",
        "baseline: cel-python per record",
    )


if __name__ == "__main__":
    main()
