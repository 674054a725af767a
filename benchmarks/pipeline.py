"""A full pipeline run over 1,000,000 events: generate, gate into Bronze, dbt build (Silver, Gold, tests).

Orchestrated: the Dagster code location in-process (meshgate.pipeline.local.run_locally): one Bronze
partition per landing file through the gate, then `dbt build` through dagster-dbt; then the same run
again (every batch a no-op: dbt is skipped, nothing its models read changed), and once more with
``full_build`` (dbt runs: Silver incremental with nothing new, Gold rebuilt).
Baseline, same run, other data dir: the same steps called directly (lakehouse.gate.ingest, then
`dbt build` as a subprocess, as dagster-dbt runs it: both sides pay one dbt process start), twice, to
show what the orchestrator costs. Both sides start from a parsed project (the code location parses
at load; the direct side runs `dbt parse` first), untimed. ``--rounds`` alternates which side goes
first; the best of each is kept.

Run: .venv/bin/python -m benchmarks.pipeline [--rows 1000000] [--rounds 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster import DagsterInstance, Definitions, materialize  # noqa: E402

from benchmarks._report import figure  # noqa: E402
from lakehouse.catalog import open_catalog  # noqa: E402
from lakehouse.dbt.glue import PROJECT_DIR, target_dir  # noqa: E402
from lakehouse.gate import ingest  # noqa: E402
from lakehouse.masking import KEY_ENV  # noqa: E402
from meshgate.demo import load_generator  # noqa: E402
from meshgate.pipeline.dbt import dbt_project, dbt_resource  # noqa: E402
from meshgate.pipeline.definitions import build_definitions  # noqa: E402
from meshgate.pipeline.local import run_locally  # noqa: E402
from meshgate.pipeline.resources import LakehouseResource  # noqa: E402
from meshgate.pipeline.sensors import landing_files  # noqa: E402

SHARES = {"checkout": 0.7, "signup": 0.3}  # of the events
SUBJECTS = {"checkout": "checkout.CheckoutCompleted", "signup": "identity.UserSignedUp"}
ATTEMPTS = {"first run": {}, "rerun (no-op)": {}, "rerun (full build)": {"full_build": True}}  # Dagster's


class Clock:
    def __init__(self):
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        yield
        self.times.append((name, time.perf_counter() - started))
        print(f"  {name:<40} {self.times[-1][1]:8.1f} s", flush=True)

    def has(self, side: str, attempt: str) -> bool:
        return any(name.startswith(side) and attempt in name for name, _ in self.times)


def generate(generator, folder: Path, rows: int) -> dict[str, Path]:
    """The landing files of one run, made once and copied into each run's data dir."""
    files = {}
    for kind, share in SHARES.items():
        folder.mkdir(parents=True, exist_ok=True)
        files[kind] = generator.write(kind, folder / f"{kind}-1.jsonl", int(rows * share), seed=7)
    return files


def land(files: dict[str, Path], data_dir: Path) -> None:
    """Put the files where the Dagster sensors and Bronze assets look for them."""
    lakehouse = LakehouseResource(data_dir=str(data_dir))
    for kind, path in files.items():
        target = lakehouse.landing_folder(SUBJECTS[kind])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def orchestrated(data_dir: Path, clock: Clock) -> None:
    """The gate half (Bronze partitions) and the dbt half (dbt_assets) timed apart, twice."""
    defs = build_definitions(LakehouseResource(data_dir=str(data_dir)))
    instance = DagsterInstance.ephemeral()
    bronze_assets = [a for a in defs.assets if a.partitions_def is not None]
    models = [a for a in defs.assets if a.partitions_def is None]
    logging.getLogger("dagster").setLevel(logging.ERROR)
    for attempt, config in ATTEMPTS.items():
        with clock.step(f"Dagster: gate into Bronze, {attempt}"):
            decisions = _gate(Definitions(assets=bronze_assets, resources=defs.resources), instance)
        print(f"    {decisions}")
        with clock.step(f"Dagster: dbt build, {attempt}"), contextlib.redirect_stdout(io.StringIO()):
            run = run_locally(
                Definitions(assets=models, resources=defs.resources),
                instance,
                dbt_config=config,
                log_level="ERROR",
            )
        print(f"    {len(run.models_built)} models built")


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
    """The same steps without Dagster, twice: the gate, then `dbt build` in a process of its own."""
    generator = load_generator()
    catalog = open_catalog(data_dir)
    lakehouse = LakehouseResource(data_dir=str(data_dir))
    dbt = [dbt_resource(dbt_project()).dbt_executable, "--quiet", "--project-dir", str(PROJECT_DIR)]
    dbt += ["--profiles-dir", str(PROJECT_DIR), "--target-path", str(target_dir(data_dir))]
    environment = {**os.environ, **lakehouse.dbt_environment()}
    subprocess.run([dbt[0], "parse", *dbt[1:]], env=environment, capture_output=True, check=True)
    for attempt in ("first run", "rerun (full build)"):
        with clock.step(f"direct: gate into Bronze, {attempt}"):
            for kind, path in files.items():
                result = ingest([str(path)], generator.contract(kind), catalog, schema_id=0, schema_version=0)
                print(f"    {kind}: {result.status}, {result.rows_accepted:,} rows")
        with clock.step(f"direct: dbt build (subprocess), {attempt}"):
            build = subprocess.run([dbt[0], "build", *dbt[1:]], env=environment, capture_output=True)
        if build.returncode != 0:
            raise SystemExit(f"dbt build failed: {build.stdout.decode()[-2000:]}")
    catalog.engine.dispose()


def _total(clock: Clock, side: str, attempt: str) -> float:
    return sum(seconds for name, seconds in clock.times if name.startswith(side) and attempt in name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each alternates which side runs first")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "benchmark-key")
    print(f"pipeline over {args.rows:,} events ({os.cpu_count()} CPUs)")
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp:
        tmp = Path(tmp)
        files = generate(load_generator(), tmp / "source", args.rows)
        dagster, plain = Clock(), Clock()
        best: dict[tuple[str, str], float] = {}
        for number in range(args.rounds):
            sides = [("Dagster", dagster), ("direct", plain)]
            if args.no_baseline:
                sides = sides[:1]
            for side, clock in sides if number % 2 == 0 else sides[::-1]:
                clock.times.clear()
                data_dir = tmp / f"{side}-{number}"
                print(f"round {number + 1}, {side}:")
                if side == "Dagster":
                    land(files, data_dir)
                    orchestrated(data_dir, clock)
                else:
                    direct(data_dir, files, clock)
                for attempt in ATTEMPTS:
                    if clock.has(side, attempt):
                        total = _total(clock, side, attempt)
                        best[side, attempt] = min(best.get((side, attempt), total), total)
                shutil.rmtree(data_dir)
        print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
        if args.no_baseline:
            for attempt in ATTEMPTS:
                print(f"Dagster {attempt}: {best['Dagster', attempt]:.1f} s")
            return
        note = f"baseline: direct calls, dbt as a subprocess on both sides; best of {args.rounds}"
        for attempt in ("first run", "rerun (full build)"):
            figure(
                f"pipeline {attempt}, Dagster", best["Dagster", attempt], best["direct", attempt], "s", note
            )
        figure(
            "pipeline rerun (no-op), Dagster",
            best["Dagster", "rerun (no-op)"],
            best["direct", "rerun (full build)"],
            "s",
            "dbt skipped (nothing new in Bronze); baseline: the direct rerun, which runs dbt; target < 3 s",
        )


if __name__ == "__main__":
    main()
