"""Faults: gates killed with SIGKILL mid-batch, and gates racing on one table.

Gate processes are real OS processes forked from a forkserver that has the gate's modules loaded
(so twenty runs cost milliseconds of start-up each, not seconds of imports); SIGKILL is real.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from collections import Counter

import pytest

from lakehouse import bronze
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from lakehouse.naming import bronze_identifier
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
