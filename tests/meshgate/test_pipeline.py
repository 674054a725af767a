"""The Dagster pipeline in-process over the example data: Bronze partitions fed by the gate, the dbt
models and their tests, run twice and after failures midway, always leaving the same tables; a run
with nothing new in Bronze skips dbt, one after a new batch builds what reads it.

Real parts throughout: the gate into Iceberg (SQLite catalog), `dbt build` through dagster-dbt's
subprocess, an ephemeral Dagster instance.
"""

from pathlib import Path

import pytest
from dagster import DagsterInstance

from lakehouse.masking import KEY_ENV
from meshgate.pipeline.bronze import InjectedFailure
from meshgate.pipeline.definitions import build_definitions
from meshgate.pipeline.local import run_locally
from meshgate.pipeline.resources import LakehouseResource

TIME_COLUMNS = ("_ingested_at", "ingested_at")  # when a batch landed: differs between two data dirs
LANDING = {  # table -> [(file, generator options)]
    "checkout__checkout_completed": [
        ("checkout-1.jsonl", {"kind": "checkout", "rows": 300, "seed": 1, "late": 0.05}),
        # the same seed: its first 300 events are those of checkout-1 delivered again, then 100 new ones
        ("checkout-2.jsonl", {"kind": "checkout", "rows": 400, "seed": 1, "late": 0.05}),
        ("checkout-bad.jsonl", {"kind": "checkout", "rows": 50, "seed": 3, "bad": True}),
    ],
    "identity__user_signed_up": [("signup-1.jsonl", {"kind": "signup", "rows": 300, "seed": 4})],
    "web__page_viewed": [("pageview-1.jsonl", {"kind": "pageview", "rows": 300, "seed": 5, "late": 0.05})],
}


def land_examples(generate, landing_dir):
    for table, files in LANDING.items():
        (landing_dir / table).mkdir(parents=True, exist_ok=True)
        for name, options in files:
            options = dict(options)
            generate.write(options.pop("kind"), landing_dir / table / name, options.pop("rows"), **options)


def tables(lakehouse: LakehouseResource, drop=()) -> dict[str, list[tuple]]:
    """Every Bronze, Silver and Gold table's rows (sorted), by identifier."""
    catalog = lakehouse.catalog()
    found = {}
    namespaces = {ns[0] for ns in catalog.list_namespaces()}
    for namespace in sorted(namespaces & {"bronze", "silver", "gold"}):
        for identifier in catalog.list_tables(namespace):
            data = catalog.load_table(identifier).scan().to_arrow()
            data = data.drop_columns([c for c in drop if c in data.column_names])
            rows = [tuple(sorted((k, _value(v)) for k, v in row.items())) for row in data.to_pylist()]
            found[".".join(identifier)] = sorted(rows)
    return found


def _value(value) -> str:
    """Comparable text of a value; doubles rounded: a SUM of doubles depends on summation order."""
    return repr(round(value, 6) if isinstance(value, float) else value)


@pytest.fixture(scope="module")
def pii_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "pipeline-test-key")
        yield


def pipeline(tmp_path, generate):
    lakehouse = LakehouseResource(data_dir=str(tmp_path / "data"))
    land_examples(generate, tmp_path / "data" / "landing")
    return lakehouse, build_definitions(lakehouse)


NEW_CHECKOUTS = 120  # the third run's batch: events no earlier file held


@pytest.fixture(scope="module")
def runs(tmp_path_factory, generate, pii_key):
    """The pipeline run twice over the same landing files, then a third time after a new checkout
    batch landed: each run's outcome, the tables after it, the dbt run's log messages."""
    lakehouse, defs = pipeline(tmp_path_factory.mktemp("twice"), generate)
    instance = DagsterInstance.ephemeral()
    outcomes = []
    for number in range(3):
        if number == 2:
            folder = lakehouse.landing_folder("checkout.CheckoutCompleted")
            generate.write("checkout", folder / "checkout-3.jsonl", NEW_CHECKOUTS, seed=11)
        run = run_locally(defs, instance)
        (dbt_run,) = instance.get_runs(limit=1)
        messages = [entry.user_message for entry in instance.all_logs(dbt_run.run_id)]
        outcomes.append((run, tables(lakehouse), messages))
    return outcomes, Path(lakehouse.data_dir)


@pytest.fixture(scope="module")
def twice(runs):
    """The first two runs: (first, tables after it, second, tables after it, data dir)."""
    (first, after_first, _), (second, after_second, _), _ = runs[0]
    return first, after_first, second, after_second, runs[1]


def test_every_landing_file_is_a_partition_gated_into_bronze(twice):
    first, *_ = twice
    assert first.batches == {
        "checkout__checkout_completed/checkout-1.jsonl": "accepted",
        "checkout__checkout_completed/checkout-2.jsonl": "accepted",
        "checkout__checkout_completed/checkout-bad.jsonl": "rejected",
        "identity__user_signed_up/signup-1.jsonl": "accepted",
        "web__page_viewed/pageview-1.jsonl": "accepted",
    }


def test_a_rejected_batch_fails_the_gate_check_and_the_dbt_tests_pass(twice):
    first, *_ = twice
    assert first.failed_checks == ["bronze/checkout__checkout_completed:checkout-bad.jsonl"]
    assert first.dbt_checks > 10  # the dbt tests of Silver and Gold became asset checks


def test_bronze_silver_and_gold_hold_the_example_data(twice):
    _, tables_after, *_ = twice
    bronze = tables_after["bronze.checkout__checkout_completed"]
    silver = tables_after["silver.checkout__checkout_completed"]
    assert len(bronze) == 700  # both accepted files, re-deliveries included
    assert len(silver) == 400  # one row per event
    assert len(tables_after["bronze.identity__user_signed_up"]) == 300
    assert len(tables_after["silver.web__page_viewed"]) == 300
    gold = {
        "gold.daily_revenue",
        "gold.daily_active_users",
        "gold.conversion_funnel",
        "gold.daily_page_views",
    }
    assert gold <= set(tables_after)


def test_a_second_run_is_a_no_op_with_identical_tables(twice):
    _, after_first, second, after_second, _ = twice
    assert set(second.batches.values()) == {"duplicate", "rejected"}
    assert after_second == after_first


def test_a_rerun_with_nothing_new_in_bronze_skips_dbt_and_says_so(runs):
    (first, _, _), (second, _, messages), _ = runs[0]
    assert len(first.models_built) == 7 and second.models_built == [] and second.dbt_checks == 0
    (skipped,) = [m for m in messages if "skipped" in m]
    assert skipped.startswith("dbt: 7 of 7 models skipped, nothing they read changed")
    assert "full_build: true" in skipped  # how to force a build


def test_a_run_after_a_new_batch_builds_only_what_reads_it_with_the_new_rows(runs):
    (_, before, _), (third, after, messages) = runs[0][1:]
    assert third.batches["checkout__checkout_completed/checkout-3.jsonl"] == "accepted"
    assert third.models_built == [
        "gold/conversion_funnel",
        "gold/daily_active_users",
        "gold/daily_revenue",
        "silver/checkout__checkout_completed",
    ]
    assert third.dbt_checks > 5 and not third.failed_dbt_checks
    silver = "silver.checkout__checkout_completed"
    assert len(after[silver]) == len(before[silver]) + NEW_CHECKOUTS
    assert after["gold.daily_revenue"] != before["gold.daily_revenue"]
    for untouched in ("silver.identity__user_signed_up", "silver.web__page_viewed", "gold.daily_page_views"):
        assert after[untouched] == before[untouched]
    assert any("3 of 7 models skipped" in m for m in messages)


def test_each_dbt_run_starts_from_the_previous_runs_saved_parse(runs):
    targets = runs[1] / "dbt-target"
    folders = [folder for folder in targets.iterdir() if folder.is_dir()]
    assert len(folders) == 2  # the first and third runs; the second started no dbt
    assert all((folder / "partial_parse.msgpack").is_file() for folder in folders)
    assert (targets / "partial_parse.msgpack").is_file()  # kept for the next run


def test_a_run_failing_midway_then_retried_leaves_the_same_tables(tmp_path, generate, pii_key, twice):
    _, reference, *_ = twice
    lakehouse, defs = pipeline(tmp_path, generate)
    instance = DagsterInstance.ephemeral()
    with pytest.raises(InjectedFailure):  # the gate dies after writing the first chunk's data files
        run_locally(defs, instance, gate_config={"chunk_rows": 100, "fail_after_rows": 100})
    assert all(not rows for rows in tables(lakehouse).values())  # nothing was committed
    with pytest.raises(InjectedFailure):  # Bronze complete, the dbt run dies after building Silver
        run_locally(defs, instance, dbt_config={"fail_after_silver": True})
    assert "gold.daily_revenue" not in tables(lakehouse)
    retried = run_locally(defs, instance)
    assert retried.failed_checks == ["bronze/checkout__checkout_completed:checkout-bad.jsonl"]
    assert len(retried.models_built) == 7  # the failed run recorded no model as built
    assert tables(lakehouse, drop=TIME_COLUMNS) == {
        name: rows for name, rows in _drop_times(reference).items()
    }


def _drop_times(found: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {
        name: sorted(tuple(item for item in row if item[0] not in TIME_COLUMNS) for row in rows)
        for name, rows in found.items()
    }
