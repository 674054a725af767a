"""A full pipeline run over 1,000,000 events: generate, gate into Bronze, dbt build (Silver, Gold, tests).

Orchestrated: the Dagster code location in-process (meshgate.pipeline.local.run_locally): one Bronze
partition per landing file through the gate, then `dbt build` through dagster-dbt, then the same run
again (every batch a no-op, Silver incremental with nothing new, Gold rebuilt).
Baseline, same run, other data dir: the same steps called directly (lakehouse.gate.ingest, run_dbt
in-process), to show what the orchestrator costs.

Run: .venv/bin/python benchmarks/pipeline.py [--rows 1000000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster import DagsterInstance, Definitions, materialize  # noqa: E402

from lakehouse.catalog import open_catalog  # noqa: E402
from lakehouse.dbt.glue import run_dbt  # noqa: E402
from lakehouse.gate import ingest  # noqa: E402
from lakehouse.masking import KEY_ENV  # noqa: E402
from meshgate.demo import load_generator  # noqa: E402
from meshgate.pipeline.definitions import build_definitions  # noqa: E402
from meshgate.pipeline.local import run_locally  # noqa: E402
from meshgate.pipeline.resources import LakehouseResource  # noqa: E402
from meshgate.pipeline.sensors import landing_files  # noqa: E402

SHARES = {"checkout": 0.7, "signup": 0.3}  # of the events
SUBJECTS = {"checkout": "checkout.CheckoutCompleted", "signup": "identity.UserSignedUp"}


class Clock:
    def __init__(self):
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        yield
        self.times.append((name, time.perf_counter() - started))
        print(f"  {name:<40} {self.times[-1][1]:8.1f} s", flush=True)

    def total(self) -> float:
        return sum(seconds for _, seconds in self.times)


def generate(generator, folder: Path, rows: int, clock: Clock) -> dict[str, Path]:
    files = {}
    with clock.step(f"generate {rows:,} events (JSON Lines)"):
        for kind, share in SHARES.items():
            lakehouse = LakehouseResource(data_dir=str(folder))
            target = lakehouse.landing_folder(SUBJECTS[kind])
            target.mkdir(parents=True, exist_ok=True)
            files[kind] = generator.write(kind, target / f"{kind}-1.jsonl", int(rows * share), seed=7)
    return files


def orchestrated(data_dir: Path, clock: Clock) -> None:
    """The gate half (Bronze partitions) and the dbt half (dbt_assets) timed apart, twice."""
    defs = build_definitions(LakehouseResource(data_dir=str(data_dir)))
    instance = DagsterInstance.ephemeral()
    bronze_assets = [a for a in defs.assets if a.partitions_def is not None]
    models = [a for a in defs.assets if a.partitions_def is None]
    logging.getLogger("dagster").setLevel(logging.ERROR)
    for attempt in ("first run", "rerun (no-op)"):
        with clock.step(f"Dagster: gate into Bronze, {attempt}"):
            decisions = _gate(Definitions(assets=bronze_assets, resources=defs.resources), instance)
        print(f"    {decisions}")
        with clock.step(f"Dagster: dbt build, {attempt}"), contextlib.redirect_stdout(io.StringIO()):
            run_locally(Definitions(assets=models, resources=defs.resources), instance, log_level="ERROR")


def _gate(defs, instance) -> dict[str, str]:
    lakehouse = defs.resources["lakehouse"]
    decisions = {}
    for asset_def in defs.assets:
        subject = asset_def.metadata_by_key[asset_def.key]["subject"]
        names = landing_files(lakehouse.landing_folder(subject))
        instance.add_dynamic_partitions(asset_def.partitions_def.name, names)
        for name in names:
            result = materialize(
                [asset_def],
                partition_key=name,
                resources=defs.resources,
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
            (check,) = result.get_asset_check_evaluations()
            decisions[name] = check.metadata["status"].value
    return decisions


def direct(data_dir: Path, files: dict[str, Path], clock: Clock) -> None:
    generator = load_generator()
    catalog = open_catalog(data_dir)
    with clock.step("direct: gate into Bronze"):
        for kind, path in files.items():
            result = ingest([str(path)], generator.contract(kind), catalog, schema_id=0, schema_version=0)
            print(f"    {kind}: {result.status}, {result.rows_accepted:,} rows")
    with clock.step("direct: dbt build (in-process)"):
        build = run_dbt(["build", "--quiet"], data_dir)
    if not build.success:
        raise SystemExit(f"dbt build failed: {build.failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "benchmark-key")
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        tmp = Path(tmp)
        clock = Clock()
        print(f"pipeline over {args.rows:,} events ({os.cpu_count()} CPUs)")
        files = generate(load_generator(), tmp / "dagster", args.rows, clock)
        orchestrated(tmp / "dagster", clock)
        first = sum(s for n, s in clock.times if n.startswith("Dagster") and "first run" in n)
        print(f"  {'full orchestrated run (gate + dbt build)':<40} {first:8.1f} s")
        if not args.no_baseline:
            baseline = Clock()
            direct(tmp / "direct", files, baseline)
            print(f"  {'baseline: direct calls (gate + dbt build)':<40} {baseline.total():8.1f} s")
            print(f"  ratio orchestrated / direct: {first / baseline.total():.2f}")


if __name__ == "__main__":
    main()
