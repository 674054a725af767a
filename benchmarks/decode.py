"""Benchmark of decoding + validation alone: ``read_batch`` next to a bare ``pyarrow.json.read_json``.

Same JSON Lines file of N records (the 10-field page-view contract of benchmarks/gate.py) read by
- baseline: ``pyarrow.json.read_json`` with the contract's explicit schema (no validation);
- decode: ``lakehouse.decode.read_batch`` (chunked fast path, type + required + enum checks, the
  contract's quality rules including batch-wide ``unique``).
Best of three interleaved runs each, as the machine is shared; CPU seconds (all threads) are
printed too, being steadier than wall-clock time on a loaded machine.

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


def baseline(path: Path, contract) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) of the bare read."""
    import pyarrow.json as pj

    from lakehouse.schema_mapping import arrow_schema

    wall, cpu = time.perf_counter(), time.process_time()
    pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=arrow_schema(contract)))
    return time.perf_counter() - wall, time.process_time() - cpu


def decode(path: Path, contract) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) of decoding and validating the batch."""
    from lakehouse.decode import read_batch

    wall, cpu = time.perf_counter(), time.process_time()
    violations = sum(len(chunk.violations) for chunk in read_batch(str(path), contract))
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
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
        base_s, ours_s = min(w for w, _ in base), min(w for w, _ in ours)
        base_cpu, ours_cpu = min(c for _, c in base), min(c for _, c in ours)
        print(f"input: {args.rows:,} JSON lines, 10 fields, {path.stat().st_size / 2**20:.0f} MiB")
        for name, wall, cpu in (
            ("baseline (read_json, explicit schema)", base_s, base_cpu),
            ("read_batch (decode + validate)       ", ours_s, ours_cpu),
        ):
            print(f"{name}: {wall:6.2f} s  {args.rows / wall:>10,.0f} records/s  (CPU {cpu:.2f} s)")
        print(
            f"read_batch / baseline throughput: {base_s / ours_s:.0%} (CPU-time ratio {base_cpu / ours_cpu:.0%})"
        )


if __name__ == "__main__":
    main()
