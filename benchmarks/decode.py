"""Benchmark of decoding + validation alone: ``read_batch`` next to a bare ``pyarrow.json.read_json``.

Same JSON Lines file of N records (the 10-field page-view contract of benchmarks/gate.py) read by
- baseline: ``pyarrow.json.read_json`` with the contract's explicit schema (no validation);
- decode: ``lakehouse.decode.read_batch`` (chunked fast path, type + required + enum checks, the
  contract's quality rules including batch-wide ``unique``).
Each run happens in a fresh process after a warm-up read of the first chunk (a run in the same
process as another inherits its memory state and measured up to 50 % slower); best of five
interleaved runs each, order alternating, as the machine is shared. CPU seconds (all threads) are
printed too, being steadier than wall-clock time on a loaded machine.

    .venv/bin/python benchmarks/decode.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import figure  # noqa: E402
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


RUNS = {"baseline": baseline, "decode": decode}


def run_isolated(name: str, path: Path, contract_path: Path) -> tuple[float, float]:
    """One timed run of ``name`` in a fresh process (see the module docstring)."""
    out = subprocess.run(
        [sys.executable, __file__, "--run", name, "--input", str(path), "--contract", str(contract_path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    wall, cpu = json.loads(out.splitlines()[-1])
    return wall, cpu


def child(name: str, path: Path, contract_path: Path) -> None:
    from lakehouse.decode import read_batch
    from registry.contract import load_contract

    contract = load_contract(contract_path)
    next(iter(read_batch(str(path), contract, chunk_rows=2000)))  # warm-up: imports, lazy loads
    print(json.dumps(RUNS[name](path, contract)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--run", choices=RUNS, help=argparse.SUPPRESS)  # one isolated run (internal)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--contract", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args.run, args.input, args.contract)
        return

    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        (work / "page_viewed.yaml").write_text(CONTRACT)
        path = work / "views.jsonl"
        write_records(path, args.rows)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in RUNS}
        for i in range(args.rounds):
            for name in list(RUNS) if i % 2 == 0 else list(RUNS)[::-1]:
                runs[name].append(run_isolated(name, path, work / "page_viewed.yaml"))
        base, ours = runs["baseline"], runs["decode"]
        base_s, ours_s = min(w for w, _ in base), min(w for w, _ in ours)
        base_cpu, ours_cpu = min(c for _, c in base), min(c for _, c in ours)
        print(
            f"input: {args.rows:,} JSON lines, 10 fields, {path.stat().st_size / 2**20:.0f} MiB; best of {args.rounds}"
        )
        figure(
            "decode read_batch, records/s",
            args.rows / ours_s,
            args.rows / base_s,
            "records/s",
            "baseline: read_json",
        )
        figure(
            "decode read_batch, records per CPU second",
            args.rows / ours_cpu,
            args.rows / base_cpu,
            "records/s",
        )


if __name__ == "__main__":
    main()
