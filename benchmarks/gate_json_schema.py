"""Benchmark of the gate against a JSON Schema contract, next to the Avro contract of the same fields.

The 10-field page-view records of benchmarks/gate.py (N JSON lines) go, in the same run, through
- baseline: ``pyarrow.json.read_json`` + a plain pyiceberg ``append`` into a Bronze-shaped table
  (``benchmarks.gate.baseline``);
- avro: the gate with the Avro contract of benchmarks/gate.py (its quality rules: not_null,
  unique, min, max, regex);
- json: the gate with a JSON Schema contract of the same fields, the bounds and the URL pattern as
  JSON Schema keywords (``minimum``, ``maximum``, ``pattern``, ``enum``, ``format: date-time``,
  ``additionalProperties: false``), not_null and unique as quality rules;
- json-per-line: the same with the vector path switched off, jsonschema-rs on every line.
As in benchmarks/gate.py each run is a fresh process after a warm-up ingest of 2,000 records, the
rounds are interleaved with the order rotating, and the best of each side is kept.

Then the keyword check alone, in this process, over the same lines (each parsed as the gate parses
it, block by block of 65,536 lines): jsonschema-rs on every line, pure-Python ``jsonschema`` on
every line (on at most ``--python-rows`` lines: it is slow), and the vector path (the Arrow checks
of ``lakehouse.json_schema_vector``, then jsonschema-rs on the lines they flag: none, here).

    .venv/bin/python -m benchmarks.gate_json_schema [--rows 1000000] [--rounds 3] [--python-rows 100000]
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
from benchmarks.gate import CONTRACT, SCHEMA, baseline, gate, write_records  # noqa: E402

JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "event_id": {"type": "string"},
        "user_id": {"type": "string"},
        "session_id": {"type": "string"},
        "url": {"type": "string", "pattern": "^https://"},
        "referrer": {"type": ["string", "null"]},
        "country": {"type": "string", "enum": ["DE", "FR", "PT", "US"]},
        "duration_ms": {"type": "integer", "minimum": 0},
        "scroll_depth": {"type": "number", "maximum": 1},
        "is_bot": {"type": "boolean"},
        "viewed_at": {"type": "string", "format": "date-time"},
    },
    "required": ["event_id", "user_id", "session_id", "url", "country", "duration_ms", "scroll_depth",
                 "is_bot", "viewed_at"],
    "additionalProperties": False,
}  # fmt: skip
JSON_CONTRACT = """subject: web.PageViewed
format: JSON
schema: page_viewed.schema.json
pii: [user_id]
quality:
  - {field: event_id, rule: not_null}
  - {field: event_id, rule: unique}
"""
CONTRACTS = {"baseline": "avro.yaml", "avro": "avro.yaml", "json": "json.yaml", "json-per-line": "json.yaml"}
BLOCK_LINES = 65536


def run_isolated(name: str, path: Path, work: Path) -> tuple[float, float]:
    """One timed run of ``name`` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.gate_json_schema", "--run", name, "--input", str(path),
         "--work", str(work)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    wall, cpu = json.loads(out.splitlines()[-1])
    return wall, cpu


def child(name: str, path: Path, work: Path) -> None:
    from registry.contract import load_contract

    if name == "json-per-line":
        import lakehouse.json_schema_checks as checks

        checks._vector = lambda schema_text: None  # no Arrow checks: every line to jsonschema-rs
    contract = load_contract(path.parent / CONTRACTS[name])
    side = baseline if name == "baseline" else gate
    work.mkdir(parents=True)
    warm = work / "warm.jsonl"
    write_records(warm, 2000)
    side(warm, work / "warm", contract)
    print(json.dumps(side(path, work / "timed", contract)))


def blocks(path: Path, rows: int) -> list[bytes]:
    """The file's first ``rows`` lines in blocks of ``BLOCK_LINES``, as the gate reads them."""
    found, lines = [], []
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            if number == rows:
                break
            lines.append(line)
            if len(lines) == BLOCK_LINES:
                found.append(b"".join(lines))
                lines = []
    return found + ([b"".join(lines)] if lines else [])


def keywords_alone(path: Path, rows: int, python_rows: int) -> dict[str, float]:
    """Records/s of the keyword check alone: jsonschema-rs per line, ``jsonschema`` per line, vector."""
    import jsonschema
    import numpy as np

    from lakehouse.decode.context import BatchContext
    from lakehouse.decode.jsonl import _keyword_violations, _line_starts
    from lakehouse.decode.values import parse_json_line
    from lakehouse.schema_mapping import arrow_schema, nullable
    from lakehouse.validate import UniqueTracker
    from registry.contract import Contract

    contract = Contract(subject="web.PageViewed", format="JSON", schema=json.dumps(JSON_SCHEMA))
    declared = arrow_schema(contract)
    batch = BatchContext(contract, declared, nullable(declared), BLOCK_LINES, 1 << 20, UniqueTracker())
    python = jsonschema.Draft202012Validator(
        JSON_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    def per_line(block: bytes) -> int:
        return sum(len(batch.keywords.violations(0, 0, parse_json_line(line))) for line in block.splitlines())

    def pure_python(block: bytes) -> int:
        return sum(not python.is_valid(parse_json_line(line)) for line in block.splitlines())

    def vector(block: bytes) -> int:
        starts = _line_starts(block)
        return len(_keyword_violations(block, starts, np.arange(len(starts)), starts, batch))

    speeds = {}
    for name, check, count in (
        ("jsonschema-rs", per_line, rows),
        ("jsonschema", pure_python, min(rows, python_rows)),
        ("vector", vector, rows),
    ):
        data = blocks(path, count)
        start = time.perf_counter()
        found = sum(check(block) for block in data)
        speeds[name] = count / (time.perf_counter() - start)
        assert found == 0, f"{name}: {found} violations in valid records"
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--python-rows", type=int, default=100_000, help="lines for pure-Python jsonschema")
    parser.add_argument("--run", choices=CONTRACTS, help=argparse.SUPPRESS)  # one isolated run (internal)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args.run, args.input, args.work)
        return

    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        (work / "avro.yaml").write_text(CONTRACT)
        (work / "page_viewed.schema.json").write_text(json.dumps(JSON_SCHEMA))
        (work / "json.yaml").write_text(JSON_CONTRACT)
        path = work / "views.jsonl"
        write_records(path, args.rows)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in CONTRACTS}
        for i in range(args.rounds):
            order = list(CONTRACTS)[i % 4 :] + list(CONTRACTS)[: i % 4]
            for name in order:
                runs[name].append(run_isolated(name, path, work / "runs" / f"{name}{i}"))
        best = {name: args.rows / min(wall for wall, _ in times) for name, times in runs.items()}
        print(f"input: {args.rows:,} JSON lines, 10 fields; best of {args.rounds} rounds, fresh processes")
        figure("gate_json_schema_records_per_s", round(best["json"]), round(best["baseline"]), "records/s",
               "JSON Schema contract vs read_json + append")  # fmt: skip
        figure("gate_avro_same_fields_records_per_s", round(best["avro"]), round(best["baseline"]), "records/s",
               "Avro contract of the same fields vs read_json + append")  # fmt: skip
        figure("gate_json_schema_vs_avro_records_per_s", round(best["json"]), round(best["avro"]), "records/s",
               "JSON Schema contract vs the Avro contract")  # fmt: skip
        figure("gate_json_schema_vector_vs_per_line_records_per_s", round(best["json"]),
               round(best["json-per-line"]), "records/s", "vector path vs jsonschema-rs on every line, in the gate")  # fmt: skip
        speeds = keywords_alone(path, args.rows, args.python_rows)
        figure("json_schema_keywords_vector_records_per_s", round(speeds["vector"]), round(speeds["jsonschema-rs"]),
               "records/s", "vector path vs jsonschema-rs on every line")  # fmt: skip
        figure("json_schema_keywords_jsonschema_rs_records_per_s", round(speeds["jsonschema-rs"]),
               round(speeds["jsonschema"]), "records/s", "jsonschema-rs vs pure-Python jsonschema, every line")  # fmt: skip


if __name__ == "__main__":
    main()
