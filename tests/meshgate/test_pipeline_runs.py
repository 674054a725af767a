"""The gate through real Dagster runs on a persistent instance (run and event storage on PostgreSQL, the
Iceberg catalog on PostgreSQL): two runs of one subject at once, a failed run re-executed, a run whose
gate process is SIGKILLed mid-gate re-executed.

Each run is ``dagster job execute`` (a process of its own) or ``execute_job`` from this process, with
Dagster's multiprocess executor: the gate op runs in a step process of its own, the process killed
here. The job is the checkout's Bronze asset alone (``gate_job``): dbt is not needed to show the gate.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    ReexecutionOptions,
    define_asset_job,
    execute_job,
    reconstructable,
)

from lakehouse.bronze import SUMMARY_BATCH_ID
from lakehouse.dbt.sources import contracts_from_files
from lakehouse.gate import PAUSE_AT_ENV
from lakehouse.masking import KEY_ENV
from lakehouse.naming import bronze_identifier
from meshgate.pipeline.bronze import bronze_asset, bronze_key, landing_partitions
from meshgate.pipeline.resources import ENV_CATALOG_URL, ENV_DATA_DIR, LakehouseResource
from tests.conftest import ROOT, postgres_database

pytestmark = pytest.mark.timeout(600)

SUBJECT = "checkout.CheckoutCompleted"
JOB = "gate_checkout"
ROWS = 1500
CHUNK_ROWS = 500  # three data files per batch


def gate_job():
    """The checkout's Bronze asset as a job, built from the environment in every process of a run."""
    lakehouse = LakehouseResource.from_env()
    (contract,) = [c for c in contracts_from_files(lakehouse.contracts_dir) if c.subject == SUBJECT]
    defs = Definitions(
        assets=[bronze_asset(contract)],
        jobs=[define_asset_job(JOB, selection=[bronze_key(SUBJECT)])],
        resources={"lakehouse": lakehouse},
    )
    return defs.resolve_job_def(JOB)


def _gate_config(**config) -> dict:
    return {
        "ops": {bronze_key(SUBJECT).to_python_identifier(): {"config": {"chunk_rows": CHUNK_ROWS, **config}}}
    }


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A Dagster instance (DAGSTER_HOME) on PostgreSQL, a lakehouse whose catalog is on PostgreSQL too."""
    with postgres_database() as dagster_db, postgres_database() as catalog_db:
        home = tmp_path / "dagster"
        home.mkdir()
        url = dagster_db.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)  # Dagster's driver
        (home / "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: {json.dumps(url)}\ntelemetry:\n  enabled: false\n"
        )
        for name, value in {
            "DAGSTER_HOME": str(home),
            ENV_DATA_DIR: str(tmp_path / "data"),
            ENV_CATALOG_URL: catalog_db,
            KEY_ENV: "pipeline-runs-test-key",
        }.items():
            monkeypatch.setenv(name, value)
        lakehouse = LakehouseResource.from_env()
        instance = DagsterInstance.get()
        try:
            yield lakehouse, instance
        finally:
            instance.dispose()


def land(lakehouse: LakehouseResource, instance: DagsterInstance, generate, name: str, seed: int) -> str:
    """A landing file of the checkout, added as a partition as the landing sensor does."""
    folder = lakehouse.landing_folder(SUBJECT)
    folder.mkdir(parents=True, exist_ok=True)
    generate.write("checkout", folder / name, ROWS, seed=seed)
    instance.add_dynamic_partitions(landing_partitions(SUBJECT).name, [name])
    return name


class Run:
    """``dagster job execute`` of one partition: a run in a process of its own, logging to a file."""

    def __init__(self, log: Path, partition: str, env: dict[str, str] | None = None, **config):
        command = [
            str(Path(sys.executable).with_name("dagster")), "job", "execute",
            "--module-name", __name__, "--attribute", gate_job.__name__,
            "--tags", json.dumps({"dagster/partition": partition}),
            "--config", str(log.with_suffix(".yaml")),
        ]  # fmt: skip
        log.with_suffix(".yaml").write_text(json.dumps(_gate_config(**config)))  # JSON is YAML
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
            )

    def wait(self, timeout: float = 300) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the run's output:\n{self.output()[-3000:]}")


def bronze_batches(lakehouse: LakehouseResource) -> tuple[Counter, Counter]:
    """(rows per batch id in Bronze, snapshots per batch id in its history)."""
    table = lakehouse.catalog().load_table(bronze_identifier(SUBJECT))
    rows = Counter(table.scan(selected_fields=("_batch_id",)).to_arrow().column("_batch_id").to_pylist())
    snapshots = Counter(s.summary.get(SUMMARY_BATCH_ID) for s in table.metadata.snapshots)
    return rows, snapshots


def runs_of(instance: DagsterInstance, partition: str):
    from dagster import RunsFilter

    return instance.get_runs(RunsFilter(tags={"dagster/partition": partition}))


def test_two_runs_of_one_subject_at_once_both_land_once(deployment, generate, tmp_path):
    lakehouse, instance = deployment
    names = [land(lakehouse, instance, generate, f"batch-{n}.jsonl", seed=n) for n in (1, 2)]
    runs = [Run(tmp_path / f"run-{name}.log", name) for name in names]  # both append to one table at once
    for run in runs:
        assert run.wait() == 0, run.output()[-3000:]

    rows, snapshots = bronze_batches(lakehouse)
    assert sorted(rows.values()) == [ROWS, ROWS]  # both batches, whole: the row count is the sum
    assert set(snapshots.values()) == {1}  # one snapshot per batch, no batch twice
    for name in names:
        (run,) = runs_of(instance, name)
        assert run.status == DagsterRunStatus.SUCCESS


def test_a_failed_run_re_executed_from_failure_lands_the_batch_once(deployment, generate, tmp_path):
    lakehouse, instance = deployment
    name = land(lakehouse, instance, generate, "batch-1.jsonl", seed=1)
    failed = Run(tmp_path / "run.log", name, fail_after_rows=CHUNK_ROWS)  # files written, then it raises
    assert failed.wait() != 0 and "injected failure" in failed.output()
    (parent,) = runs_of(instance, name)
    assert parent.status == DagsterRunStatus.FAILURE
    assert not lakehouse.catalog().load_table(bronze_identifier(SUBJECT)).snapshots()  # nothing committed

    retried = retry(instance, parent.run_id)
    again = retry(instance, retried.run_id, from_failure=False)  # a second retry: the batch is there

    assert retried.success and again.success
    assert gate_status(again) == "duplicate"
    rows, snapshots = bronze_batches(lakehouse)
    assert list(rows.values()) == [ROWS] and list(snapshots.values()) == [1]


def retry(instance: DagsterInstance, run_id: str, from_failure: bool = True):
    """Dagster's re-execution of a run (the UI's "Re-execute from failure"), without the fault.

    ``execute_job`` copies neither the parent's config nor its tags: the partition is passed again."""
    options = (
        ReexecutionOptions.from_failure(run_id, instance)
        if from_failure
        else ReexecutionOptions(parent_run_id=run_id)
    )
    tags = {"dagster/partition": instance.get_run_by_id(run_id).tags["dagster/partition"]}
    return execute_job(
        reconstructable(gate_job), instance, _gate_config(), tags=tags, reexecution_options=options
    )


def gate_status(result) -> str:
    (check,) = [e for e in result.get_asset_check_evaluations()]
    return check.metadata["status"].value


def test_a_run_whose_gate_process_is_killed_mid_gate_lands_once_when_re_executed(
    deployment, generate, tmp_path
):
    lakehouse, instance = deployment
    name = land(lakehouse, instance, generate, "batch-1.jsonl", seed=1)
    run = Run(tmp_path / "run.log", name, env={PAUSE_AT_ENV: "written"})  # pauses with its files written
    step = int(run.wait_for(r"meshgate gate paused at written \(pid (\d+)\)").group(1))
    assert step != run.process.pid  # the op runs in a step process of the multiprocess executor
    os.kill(step, signal.SIGKILL)
    assert run.wait() != 0
    (parent,) = runs_of(instance, name)
    assert parent.status == DagsterRunStatus.FAILURE
    assert not lakehouse.catalog().load_table(bronze_identifier(SUBJECT)).snapshots()

    retried = retry(instance, parent.run_id)

    assert retried.success and gate_status(retried) == "accepted"
    rows, snapshots = bronze_batches(lakehouse)
    assert list(rows.values()) == [ROWS] and list(snapshots.values()) == [1]
