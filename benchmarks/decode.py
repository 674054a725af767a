"""Benchmark of decoding + validation alone: ``read_batch`` next to a bare ``pyarrow.json.read_json``.

Same JSON Lines file of N records (the 10-field page-view contract of benchmarks/gate.py) read by
- baseline: ``pyarrow.json.read_json`` with the contract's explicit schema (no validation);
- decode: ``lakehouse.decode.read_batch`` (chunked fast path, type + required + enum checks, the
  contract's quality rules including batch-wide ``unique``).
Best of three interleaved runs each, as the machine is shared.

    .venv/bin/python benchmarks/decode.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gate import CONTRACT, SCHEMA, write_records  # noqa: E402


def baseline(path: Path, contract) -> float:
    import pyarrow.json as pj

    from lakehouse.schema_mapping import arrow_schema

    started = time.perf_counter()
    pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=arrow_schema(contract)))
    return time.perf_counter() - started


def decode(path: Path, contract) -> float:
    from lakehouse.decode import read_batch

    started = time.perf_counter()
    violations = sum(len(chunk.violations) for chunk in read_batch(str(path), contract))
    elapsed = time.perf_counter() - started
    assert violations == 0, f"{violations} violations in a clean file"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from registry.contract import load_contract

    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        (work / "page_viewed.yaml").write_text(CONTRACT)
        contract = load_contract(work / "page_viewed.yaml")
        path = work / "views.jsonl"
        write_records(path, args.rows)
        base, ours = [], []
        for _ in range(3):
            base.append(baseline(path, contract))
            ours.append(decode(path, contract))
        base_s, ours_s = min(base), min(ours)
        print(f"input: {args.rows:,} JSON lines, 10 fields, {path.stat().st_size / 2**20:.0f} MiB")
        print(
            f"baseline (read_json, explicit schema): {base_s:6.2f} s  {args.rows / base_s:>10,.0f} records/s"
        )
        print(
            f"read_batch (decode + validate):        {ours_s:6.2f} s  {args.rows / ours_s:>10,.0f} records/s"
        )
        print(f"read_batch / baseline throughput: {base_s / ours_s:.0%}")


if __name__ == "__main__":
    main()
