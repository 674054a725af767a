"""Benchmark of the gate's memory: peak RSS of a gate process at 1,000,000 and 5,000,000 records.

Each figure comes from a fresh process that imports the gate, ingests one JSON Lines file of the
page-view contract of benchmarks/gate.py (ten fields, quality rules including batch-wide ``unique``)
into a fresh Bronze table and reports its RSS high-water mark (``resource.getrusage``). A process
that only imports the same modules is measured too: what the libraries (pyarrow, pyiceberg, DuckDB,
SQLAlchemy) cost before a single row is read. Streaming keeps the rest flat: the 5M figure is
reported as a ratio to the 1M one. Targets: 5M < 384 MiB and within 15 % of 1M.

    .venv/bin/python -m benchmarks.gate_memory [--rows 1000000 5000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import figure  # noqa: E402
from benchmarks.gate import CONTRACT, SCHEMA, write_records  # noqa: E402

CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from registry.contract import load_contract
if {path!r}:
    catalog = open_catalog({data!r})
    result = ingest([{path!r}], load_contract({contract!r}), catalog, schema_id=1, schema_version=1)
    assert result.status == "accepted", result.message
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss(work: Path, rows: int) -> int:
    """Peak RSS in bytes of a gate process ingesting ``rows`` records (0: imports only)."""
    path = work / f"memory-{rows}.jsonl"
    if rows:
        write_records(path, rows)
    code = CHILD.format(
        root=str(ROOT),
        path=str(path) if rows else "",
        contract=str(work / "page_viewed.yaml"),
        data=str(work / f"data-{rows}"),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    path.unlink(missing_ok=True)
    return int(out.split()[-1]) * 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs=2, default=[1_000_000, 5_000_000], metavar=("SMALL", "LARGE")
    )
    args = parser.parse_args()
    small, large = args.rows
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        work = Path(tmp)
        (work / "page_viewed.avsc").write_text(json.dumps(SCHEMA))
        (work / "page_viewed.yaml").write_text(CONTRACT)
        imports, at_small, at_large = (peak_rss(work, rows) for rows in (0, small, large))
    mib = 2**20
    print(f"peak RSS, imports only:          {imports / mib:6.0f} MiB")
    print(f"peak RSS, {small:>9,} records:   {at_small / mib:6.0f} MiB")
    print(
        f"peak RSS, {large:>9,} records:   {at_large / mib:6.0f} MiB  "
        f"({at_large / at_small:.0%} of the {small:,}-record figure; targets < 384 MiB and <= 115%)"
    )
    figure(f"gate_peak_rss_mib_{large}_vs_{small}", round(at_large / mib, 1), round(at_small / mib, 1))
    figure(f"gate_peak_rss_mib_{small}_vs_imports", round(at_small / mib, 1), round(imports / mib, 1))


if __name__ == "__main__":
    main()
