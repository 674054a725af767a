"""Faults: gates killed with SIGKILL mid-batch or at a named checkpoint, and gates racing on one table.

Gate processes are real OS processes forked from a forkserver that has the gate's modules loaded
(so twenty runs cost milliseconds of start-up each, not seconds of imports); SIGKILL is real.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from lakehouse import bronze
from lakehouse.catalog import open_catalog
from lakehouse.gate import PAUSE_AT_ENV, ingest
from lakehouse.naming import bronze_identifier, quarantine_identifier
from lakehouse.retention import maintain
from registry.contract import load_contract

SUBJECT = "checkout.CheckoutCompleted"
ROWS_PER_BATCH = 1200
CHUNK_ROWS = 300  # four data files per batch, so a kill can fall between them

# Runs in the child: ingest the given batches one after the other.
WORKER = """
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from registry.contract import load_contract

catalog = open_catalog(data_dir, catalog_url)
contract = load_contract(contract_path)
for path, batch_id in batches:
    ingest([path], contract, catalog, schema_id=1, schema_version=1, batch_id=batch_id, chunk_rows=chunk_rows)
"""


@pytest.fixture(scope="module")
def gate_processes():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["lakehouse.gate", "lakehouse.decode", "lakehouse.catalog", "registry.contract"]
    )
    return context


def start_gate(context, data_dir, catalog_url, contract_path, batches):
    env = {
        "data_dir": str(data_dir),
        "catalog_url": catalog_url,
        "contract_path": str(contract_path),
        "batches": batches,
        "chunk_rows": CHUNK_ROWS,
    }
    process = context.Process(target=exec, args=(WORKER, env))
    process.start()
    return process


def write_batch(folder, number: int) -> str:
    path = folder / f"batch-{number}.jsonl"
    with path.open("w") as out:
        for i in range(ROWS_PER_BATCH):
            out.write(
                json.dumps(
                    {
                        "event_id": f"b{number}-e{i}",
                        "order_id": f"o{i}",
                        "user_id": f"u{i % 50}",
                        "email": f"user{i % 50}@example.com",
                        "amount": float(i % 300),
                        "currency": "EUR",
                        "completed_at": "2026-11-25T10:00:00Z",
                        "items": [{"sku": "SKU-1", "quantity": 1}],
                    }
                )
                + "\n"
            )
    return str(path)


def batch_counts(catalog) -> tuple[Counter, Counter]:
    """(rows per batch id in Bronze, snapshots per batch id in the history)."""
    table = catalog.load_table(bronze_identifier(SUBJECT))
    rows = Counter(table.scan(selected_fields=("_batch_id",)).to_arrow().column("_batch_id").to_pylist())
    snapshots = Counter(s.summary.get(bronze.SUMMARY_BATCH_ID) for s in table.metadata.snapshots)
    return rows, snapshots


def test_gates_killed_at_random_points_leave_whole_batches_and_retries_land_once(
    gate_processes, examples_dir, tmp_path
):
    contract_path = examples_dir / "contracts/checkout/checkout_completed.yaml"
    contract = load_contract(contract_path)
    data_dir = tmp_path / "data"
    catalog = open_catalog(data_dir)
    ingest([write_batch(tmp_path, 0)], contract, catalog, schema_id=1, schema_version=1, batch_id="warm-up")
    # How long one gate run takes here (forkserver warm), so the kill points spread over its life.
    durations = []
    for probe_id in ("probe-1", "probe-2"):
        started = time.monotonic()
        probe = start_gate(
            gate_processes, data_dir, None, contract_path, [(write_batch(tmp_path, 1), probe_id)]
        )
        probe.join(60)
        assert probe.exitcode == 0
        durations.append(time.monotonic() - started)
    duration = durations[-1]

    chooser = random.Random(20261125)
    killed_before_exit = 0
    for run in range(2, 22):
        path = write_batch(tmp_path, run)
        gate = start_gate(gate_processes, data_dir, None, contract_path, [(path, f"run-{run}")])
        time.sleep(chooser.uniform(0, duration * 1.1))
        killed_before_exit += gate.is_alive()
        gate.kill()  # SIGKILL: no cleanup, no atexit, no finally
        gate.join(10)

        rows, snapshots = batch_counts(catalog)
        assert all(count == ROWS_PER_BATCH for count in rows.values()), (
            f"run {run}: a partial batch is visible"
        )
        assert snapshots[f"run-{run}"] <= 1

        retry = ingest([path], contract, catalog, schema_id=1, schema_version=1, batch_id=f"run-{run}")
        assert retry.status in ("accepted", "duplicate")
        rows, snapshots = batch_counts(catalog)
        assert rows[f"run-{run}"] == ROWS_PER_BATCH and snapshots[f"run-{run}"] == 1

    assert killed_before_exit > 0  # the kills did interrupt running gates
    rows, _ = batch_counts(catalog)
    assert set(rows) == {"warm-up", "probe-1", "probe-2", *(f"run-{run}" for run in range(2, 22))}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_gates_racing_on_one_table_both_land_and_nothing_twice(
    gate_processes, examples_dir, tmp_path, request, backend
):
    catalog_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    contract_path = examples_dir / "contracts/checkout/checkout_completed.yaml"
    data_dir = tmp_path / "data"
    catalog = open_catalog(data_dir, catalog_url)
    contract = load_contract(contract_path)
    ingest([write_batch(tmp_path, 0)], contract, catalog, schema_id=1, schema_version=1, batch_id="b0")
    shared = [(write_batch(tmp_path, n), f"b{n}") for n in range(1, 7)]  # both gates try these
    own_a = [(write_batch(tmp_path, n), f"b{n}") for n in range(7, 10)]
    own_b = [(write_batch(tmp_path, n), f"b{n}") for n in range(10, 13)]

    gate_a = start_gate(gate_processes, data_dir, catalog_url, contract_path, shared + own_a)
    gate_b = start_gate(gate_processes, data_dir, catalog_url, contract_path, own_b + shared[::-1])
    gate_a.join(120)
    gate_b.join(120)

    assert (gate_a.exitcode, gate_b.exitcode) == (0, 0)
    rows, snapshots = batch_counts(catalog)
    assert set(rows) == {f"b{n}" for n in range(13)}
    assert all(count == ROWS_PER_BATCH for count in rows.values())
    assert all(count == 1 for count in snapshots.values())


# Runs in a child process started with MESHGATE_GATE_PAUSE_AT: it pauses at that checkpoint of the gate.
PAUSING_GATE = """
import sys
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from registry.contract import load_contract

data_dir, contract_path, path, batch_id = sys.argv[1:]
ingest([path], load_contract(contract_path), open_catalog(data_dir), schema_id=1, schema_version=1,
       batch_id=batch_id, on_invalid="quarantine", chunk_rows=CHUNK_ROWS)
"""
BAD_EVERY = 7  # every 7th row of a mixed batch breaks the contract (currency JPY): it is quarantined


def write_mixed_batch(folder, number: int) -> str:
    path = write_batch(folder, number)
    lines = open(path).read().splitlines()
    for i in range(0, len(lines), BAD_EVERY):
        lines[i] = lines[i].replace('"currency": "EUR"', '"currency": "JPY"')
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def kill_gate_at(checkpoint: str, data_dir, contract_path, path: str, batch_id: str) -> None:
    """A real gate process, SIGKILLed once it reports being at ``checkpoint``."""
    env = {**os.environ, PAUSE_AT_ENV: checkpoint}
    code = PAUSING_GATE.replace("CHUNK_ROWS", str(CHUNK_ROWS))
    args = [sys.executable, "-c", code, str(data_dir), str(contract_path), path, batch_id]
    gate = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in gate.stderr:
            if f"paused at {checkpoint}" in line:
                break
        else:
            raise AssertionError(f"the gate exited ({gate.wait()}) before reaching {checkpoint}")
        gate.send_signal(signal.SIGKILL)
    finally:
        gate.wait(30)
        gate.stderr.close()
    assert gate.returncode == -signal.SIGKILL


def rows_by_batch(catalog, identifier) -> Counter:
    table = catalog.load_table(identifier)
    return Counter(table.scan(selected_fields=("_batch_id",)).to_arrow().column("_batch_id").to_pylist())


def test_a_gate_killed_between_the_quarantine_and_the_bronze_commit_is_completed_by_its_retry(
    examples_dir, tmp_path
):
    contract_path = examples_dir / "contracts/checkout/checkout_completed.yaml"
    contract = load_contract(contract_path)
    data_dir = tmp_path / "data"
    catalog = open_catalog(data_dir)
    bad_rows = len(range(0, ROWS_PER_BATCH, BAD_EVERY))
    good_rows = ROWS_PER_BATCH - bad_rows
    for run in range(10):
        path, batch_id = write_mixed_batch(tmp_path, run), f"mixed-{run}"
        kill_gate_at("between-commits", data_dir, contract_path, path, batch_id)
        assert rows_by_batch(catalog, quarantine_identifier(SUBJECT))[batch_id] == bad_rows
        assert rows_by_batch(catalog, bronze_identifier(SUBJECT))[batch_id] == 0

        retry = ingest([path], contract, catalog, schema_id=1, schema_version=1, batch_id=batch_id,
                       on_invalid="quarantine", chunk_rows=CHUNK_ROWS)  # fmt: skip
        assert (retry.status, retry.rows_accepted, retry.rows_rejected) == (
            "quarantined",
            good_rows,
            bad_rows,
        )
        again = ingest([path], contract, catalog, schema_id=1, schema_version=1, batch_id=batch_id,
                       on_invalid="quarantine", chunk_rows=CHUNK_ROWS)  # fmt: skip
        assert again.status == "duplicate"

        quarantined = rows_by_batch(catalog, quarantine_identifier(SUBJECT))
        landed = rows_by_batch(catalog, bronze_identifier(SUBJECT))
        assert quarantined == Counter({f"mixed-{r}": bad_rows for r in range(run + 1)})
        assert landed == Counter({f"mixed-{r}": good_rows for r in range(run + 1)})
    for identifier in (quarantine_identifier(SUBJECT), bronze_identifier(SUBJECT)):
        snapshots = Counter(
            s.summary.get(bronze.SUMMARY_BATCH_ID) for s in catalog.load_table(identifier).snapshots()
        )
        assert snapshots == Counter({f"mixed-{r}": 1 for r in range(10)})
    # The retries deleted the quarantine files they wrote again; the killed gates' uncommitted Bronze
    # files are orphans for ``maintain`` (next test).
    quarantine_folder = catalog.load_table(quarantine_identifier(SUBJECT)).location().removeprefix("file://")
    assert not {p for p in unreferenced_data_files(catalog) if p.startswith(quarantine_folder + "/")}


def data_files_on_disk(catalog) -> set[str]:
    files = set()
    for namespace in ("bronze", "quarantine"):
        for identifier in catalog.list_tables(namespace):
            location = catalog.load_table(identifier).location().removeprefix("file://")
            files |= {str(p) for p in Path(location, "data").rglob("*") if p.is_file()}
    return files


def referenced_data_files(catalog) -> set[str]:
    files = set()
    for namespace in ("bronze", "quarantine"):
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            paths = table.inspect.all_files().column("file_path").to_pylist() if table.snapshots() else []
            files |= {p.removeprefix("file://") for p in paths}
    return files


def unreferenced_data_files(catalog) -> set[str]:
    return data_files_on_disk(catalog) - referenced_data_files(catalog)


def test_maintain_removes_the_files_of_killed_gates_and_nothing_referenced(examples_dir, tmp_path):
    contract_path = examples_dir / "contracts/checkout/checkout_completed.yaml"
    contract = load_contract(contract_path)
    data_dir = tmp_path / "data"
    catalog = open_catalog(data_dir)
    for n in range(3):
        landed = ingest([write_mixed_batch(tmp_path, 100 + n)], contract, catalog, schema_id=1, schema_version=1,
                        batch_id=f"landed-{n}", on_invalid="quarantine", chunk_rows=CHUNK_ROWS)  # fmt: skip
        assert landed.status == "quarantined"
    for run in range(10):
        kill_gate_at("written", data_dir, contract_path, write_mixed_batch(tmp_path, run), f"killed-{run}")
    orphans, referenced = unreferenced_data_files(catalog), referenced_data_files(catalog)
    assert len(orphans) >= 20  # each killed gate left Bronze and quarantine files behind
    before = {
        t: rows_by_batch(catalog, t) for t in (bronze_identifier(SUBJECT), quarantine_identifier(SUBJECT))
    }

    kept = maintain(catalog, orphan_window=timedelta(days=1))  # the killed gates' files are too young
    assert not any(r.orphans_removed for r in kept) and unreferenced_data_files(catalog) == orphans
    reports = maintain(catalog, orphan_window=timedelta(0))

    assert sorted(p for r in reports for p in r.orphans_removed) == sorted(orphans)
    assert not unreferenced_data_files(catalog)
    assert all(Path(p).is_file() for p in referenced)
    assert {t: rows_by_batch(catalog, t) for t in before} == before  # every table reads, whole
