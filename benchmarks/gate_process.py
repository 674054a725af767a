"""Benchmark of the gate as a user runs it: ``meshgate ingest`` as a whole process, start-up included.

The same JSON Lines file of N records (the page-view contract of benchmarks/gate.py) is ingested by
- baseline: a plain Python script, ``pyarrow.json.read_json`` with the explicit schema and a
  pyiceberg ``append`` to a fresh table in a SQL catalog (no validation, no gate columns);
- gate: ``meshgate ingest FILE --subject web.PageViewed --contract page_viewed.yaml --data-dir D``
  (the contract read from its file, so no registry round trip is timed).
Both are timed from outside as whole processes: interpreter start-up, imports, the work and the exit,
which a user pays for too. Rounds alternate the order; each round writes into a fresh data
directory; the best wall-clock time of each side is kept (the machine is shared) and the CPU
seconds (user + system of the process and its threads) and peak RSS are printed beside it.

    .venv/bin/python -m benchmarks.gate_process [--rows 2000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import figure  # noqa: E402
from benchmarks.gate import CONTRACT, SCHEMA, write_records  # noqa: E402

PLAIN_SCRIPT = """
import sys
import pyarrow.json as pj
from pyiceberg.catalog.sql import SqlCatalog
from lakehouse.schema_mapping import arrow_schema, nullable
from registry.contract import load_contract

path, contract, data = sys.argv[1:4]
catalog = SqlCatalog("plain", uri=f"sqlite:///{data}/catalog.db", warehouse=f"file://{data}/warehouse")
catalog.create_namespace("bronze")
schema = nullable(arrow_schema(load_contract(contract)))
table = catalog.create_table(("bronze", "plain"), schema=schema)
table.append(pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema)))
"""


def run(command: list[str], data: Path) -> tuple[float, float, int]:
    """Wall-clock seconds, CPU seconds and peak RSS (bytes) of one whole process."""
    data.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wall = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - wall
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
    process.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    meshgate = str(Path(sys.executable).with_name("meshgate"))
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        contract = work / "page_viewed.yaml"
        contract.write_text(CONTRACT)
        path = work / "views.jsonl"
        write_records(path, args.rows)
        commands = {
            "baseline": lambda data: [sys.executable, "-c", PLAIN_SCRIPT, str(path), str(contract), str(data)],
            "gate": lambda data: [meshgate, "ingest", str(path), "--subject", "web.PageViewed",
                                  "--contract", str(contract), "--data-dir", str(data)],
        }  # fmt: skip
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
        for i in range(args.rounds):
            for name in list(commands) if i % 2 == 0 else list(commands)[::-1]:
                runs[name].append(run(commands[name](work / f"{name}{i}"), work / f"{name}{i}"))
        best = {
            name: (min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs))
            for name, rs in runs.items()
        }
        print(
            f"input: {args.rows:,} JSON lines, {path.stat().st_size / 2**20:.0f} MiB; best of {args.rounds}, whole processes"
        )
        for name, label in (("baseline", "read_json + append script"), ("gate", "meshgate ingest          ")):
            wall, cpu, rss = best[name]
            print(
                f"{label}: {wall:6.2f} s  {args.rows / wall:>10,.0f} records/s  (CPU {cpu:.2f} s, peak RSS {rss / 2**20:.0f} MiB)"
            )
        (base, base_cpu, _), (gate, gate_cpu, _) = best["baseline"], best["gate"]
        print(
            f"meshgate ingest / script throughput: {base / gate:.0%} (target >= 90%); CPU-time ratio {base_cpu / gate_cpu:.0%}"
        )
        figure("gate_process_records_per_s", round(args.rows / gate), round(args.rows / base))


if __name__ == "__main__":
    main()
