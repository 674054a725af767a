"""Benchmark of the Bronze gate: records/s through the gate next to a plain read+append baseline.

All sides read the same JSON Lines file of N records (10 fields) into a fresh Iceberg table:
- baseline: ``pyarrow.json.read_json`` with the explicit schema, then a plain pyiceberg ``append``
  (no validation, no batch bookkeeping) into a table of the same layout as Bronze: the contract's
  columns plus the four gate columns (constants), partitioned by day(_ingested_at). The target is
  measured against this one, since the layout is not the gate's choice but Bronze's.
- plain baseline (for reference): the same read appended to an unpartitioned table of the
  contract's columns only;
- gate: ``lakehouse.gate.ingest`` (content hash, chunked decode, type + quality validation, gate
  columns, day partitioning, one-snapshot commit, ingestion log).
Each run happens in a fresh process, after a warm-up ingest of 2,000 records (imports, lazy module
loads), so no run inherits another's memory state; rounds are interleaved, the order rotating, and
the best of each side is kept (the machine is shared; the spread of each side, slowest / fastest,
is printed as the noise). CPU seconds (all threads of the process) are printed next to wall-clock
seconds. Target: gate >= 90 % of the plain baseline (no less than 80 %).

Then the workers: the same records as a batch of ``--files`` files, gated with one worker and with
two (``ingest(workers=...)``), best of the rounds each; target >= 1.6x on 2 cores. Then the peak
memory (RSS high-water mark) of a gate process ingesting a larger file, measured in a subprocess
with ``resource.getrusage`` (benchmarks/gate_memory.py has the targets).

    .venv/bin/python benchmarks/gate.py [--rows 1000000] [--rounds 5] [--files 4] [--memory-rows 5000000]
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

SCHEMA = {
    "type": "record",
    "name": "PageViewed",
    "namespace": "com.example.web",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "user_id", "type": "string"},
        {"name": "session_id", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "referrer", "type": ["null", "string"], "default": None},
        {"name": "country", "type": {"type": "enum", "name": "Country", "symbols": ["DE", "FR", "PT", "US"]}},
        {"name": "duration_ms", "type": "long"},
        {"name": "scroll_depth", "type": "double"},
        {"name": "is_bot", "type": "boolean"},
        {"name": "viewed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
CONTRACT = """subject: web.PageViewed
format: AVRO
schema: page_viewed.avsc
pii: [user_id]
quality:
  - {field: event_id, rule: not_null}
  - {field: event_id, rule: unique}
  - {field: duration_ms, rule: min, value: 0}
  - {field: scroll_depth, rule: max, value: 1}
  - {field: url, rule: regex, value: "^https://"}
"""
MEMORY_CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from registry.contract import load_contract
result = ingest([{path!r}], load_contract({contract!r}), open_catalog({data!r}), schema_id=1, schema_version=1)
assert result.status == "accepted", result.message
print(result.rows_accepted, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_records(path: Path, rows: int) -> None:
    countries = ("DE", "FR", "PT", "US")
    with path.open("w", buffering=1 << 22) as out:
        for i in range(rows):
            referrer = "null" if i % 3 else f'"https://search.example/q{i % 97}"'
            out.write(
                f'{{"event_id":"ev-{i:09d}","user_id":"user-{i % 50000}","session_id":"s-{i // 20}",'
                f'"url":"https://shop.example/p/{i % 5000}","referrer":{referrer},'
                f'"country":"{countries[i % 4]}","duration_ms":{i % 60000},"scroll_depth":{(i % 100) / 100},'
                f'"is_bot":{"true" if i % 50 == 0 else "false"},"viewed_at":"2026-11-25T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}}\n'
            )


def baseline(path: Path, data_dir: Path, contract, bronze_layout: bool = True) -> tuple[float, float]:
    """Wall-clock and CPU seconds of read_json + append (into a Bronze-shaped table by default)."""
    from datetime import UTC, datetime

    import pyarrow.json as pj

    from lakehouse import bronze
    from lakehouse.catalog import open_catalog
    from lakehouse.schema_mapping import arrow_schema, nullable

    catalog = open_catalog(data_dir)
    schema = arrow_schema(contract)
    if bronze_layout:
        iceberg = bronze.ensure_table(catalog, ("bronze", "baseline"), schema)
    else:
        iceberg = catalog.create_table(("bronze", "baseline"), schema=nullable(schema))
    wall, cpu = time.perf_counter(), time.process_time()
    data = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema))
    if bronze_layout:
        data = bronze.with_gate_columns(data, "baseline", datetime.now(UTC), 1, 1)
    iceberg.append(data)
    return time.perf_counter() - wall, time.process_time() - cpu


def gate(paths: list[Path], data_dir: Path, contract, **options) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one ingest of the files into a fresh Bronze table."""
    from lakehouse.catalog import open_catalog
    from lakehouse.gate import ingest

    catalog = open_catalog(data_dir)
    wall, cpu = time.perf_counter(), time.process_time()
    result = ingest([str(p) for p in paths], contract, catalog, schema_id=1, schema_version=1, **options)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
    assert result.status == "accepted", result.message
    return elapsed


RUNS = {
    "baseline": lambda paths, data, contract: baseline(paths[0], data, contract),
    "plain": lambda paths, data, contract: baseline(paths[0], data, contract, bronze_layout=False),
    "gate": gate,
    "gate_1_worker": lambda paths, data, contract: gate(paths, data, contract, workers=1),
    "gate_2_workers": lambda paths, data, contract: gate(paths, data, contract, workers=2),
}


def run_isolated(name: str, paths: list[Path], work: Path, contract_path: Path) -> tuple[float, float]:
    """One timed run of ``name`` in a fresh process (see the module docstring)."""
    out = subprocess.run(
        [sys.executable, __file__, "--run", name, "--input", *map(str, paths), "--work", str(work),
         "--contract", str(contract_path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    wall, cpu = json.loads(out.splitlines()[-1])
    return wall, cpu


def child(name: str, paths: list[Path], work: Path, contract_path: Path) -> None:
    from registry.contract import load_contract

    contract = load_contract(contract_path)
    work.mkdir(parents=True)
    warm = work / "warm.jsonl"
    write_records(warm, 2000)
    RUNS[name]([warm], work / "warm", contract)
    print(json.dumps(RUNS[name](paths, work / "timed", contract)))


def interleaved(
    names: list[str], paths: list[Path], work: Path, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """``rounds`` runs of each side, interleaved, the order rotating by one every round."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            runs[name].append(run_isolated(name, paths, work / f"{name}{i}", work / "page_viewed.yaml"))
    return runs


def spread(times: list[tuple[float, float]]) -> float:
    """Slowest / fastest wall-clock time of one side: the noise of the shared machine."""
    walls = [wall for wall, _ in times]
    return max(walls) / min(walls)


def split_records(path: Path, files: int) -> list[Path]:
    """The file's lines as ``files`` files of about equal line counts, in order."""
    lines = path.read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // files)
    parts = []
    for i in range(files):
        part = path.with_name(f"part-{i}.jsonl")
        part.write_bytes(b"".join(lines[i * size : (i + 1) * size]))
        parts.append(part)
    return parts


def peak_memory(rows: int, work: Path, contract_path: Path) -> tuple[int, int]:
    path = work / "memory.jsonl"
    write_records(path, rows)
    code = MEMORY_CHILD.format(
        root=str(ROOT), path=str(path), contract=str(contract_path), data=str(work / "mem")
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    path.unlink()
    return int(out[0]), int(out[1]) * 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved baseline/gate rounds (best kept)")
    parser.add_argument("--files", type=int, default=4, help="files of the workers' batch (0: skip it)")
    parser.add_argument("--run", choices=RUNS, help=argparse.SUPPRESS)  # one isolated run (internal)
    parser.add_argument("--input", type=Path, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--contract", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args.run, args.input, args.work, args.contract)
        return

    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        (work / "page_viewed.yaml").write_text(CONTRACT)
        path = work / "views.jsonl"
        write_records(path, args.rows)
        size = path.stat().st_size
        # Interleaved rounds, best of each: the machine is shared, the minimum is the least disturbed.
        runs = interleaved(["baseline", "plain", "gate"], [path], work, args.rounds)
        best = {name: (min(w for w, _ in times), min(c for _, c in times)) for name, times in runs.items()}
        print(
            f"input: {args.rows:,} JSON lines, 10 fields, {size / 2**20:.0f} MiB; best of {args.rounds} rounds"
        )
        for name, label in (
            ("baseline", "baseline (read_json + append, Bronze layout)"),
            ("plain", "plain baseline (unpartitioned, no gate cols)"),
            ("gate", "gate (hash, decode, validate, commit, log)  "),
        ):
            wall, cpu = best[name]
            print(
                f"{label}: {wall:6.2f} s  {args.rows / wall:>10,.0f} records/s  (CPU {cpu:.2f} s; "
                f"spread {spread(runs[name]):.2f}x)"
            )
        (base, base_cpu), (plain, _), (through_gate, gate_cpu) = best["baseline"], best["plain"], best["gate"]
        noise = f"(best of {args.rounds}; spread gate {spread(runs['gate']):.2f}x, plain {spread(runs['plain']):.2f}x)"
        figure("gate_records_per_s_vs_plain", round(args.rows / through_gate), round(args.rows / plain),
               "records/s", f"target >= 0.9 {noise}")  # fmt: skip
        figure("gate_records_per_s_vs_bronze_layout", round(args.rows / through_gate), round(args.rows / base),
               "records/s", f"CPU-time ratio {base_cpu / gate_cpu:.0%}")  # fmt: skip
        if args.files:
            parts = split_records(path, args.files)
            runs = interleaved(["gate_1_worker", "gate_2_workers"], parts, work, args.rounds)
            one, two = (min(w for w, _ in runs[name]) for name in ("gate_1_worker", "gate_2_workers"))
            figure(f"gate_{args.files}_files_2_workers_vs_1", round(args.rows / two), round(args.rows / one),
                   "records/s", f"target >= 1.6 on 2 cores (spread {spread(runs['gate_2_workers']):.2f}x, "
                   f"{spread(runs['gate_1_worker']):.2f}x)")  # fmt: skip
        if args.memory_rows:
            rows, peak = peak_memory(args.memory_rows, work, work / "page_viewed.yaml")
            print(f"peak RSS of a gate process ingesting {rows:,} records: {peak / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
