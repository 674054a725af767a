"""The Dagster pipeline in-process over the example data: Bronze partitions fed by the gate, the dbt
models and their tests, run twice and after failures midway, always leaving the same tables.

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


@pytest.fixture(scope="module")
def twice(tmp_path_factory, generate, pii_key):
    """The pipeline run twice over the same landing files; the tables after each run; its data dir."""
    lakehouse, defs = pipeline(tmp_path_factory.mktemp("twice"), generate)
    instance = DagsterInstance.ephemeral()
    first = run_locally(defs, instance)
    after_first = tables(lakehouse)
    second = run_locally(defs, instance)
    return first, after_first, second, tables(lakehouse), Path(lakehouse.data_dir)


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


def test_each_dbt_run_starts_from_the_previous_runs_saved_parse(twice):
    targets = twice[-1] / "dbt-target"
    runs = [folder for folder in targets.iterdir() if folder.is_dir()]
    assert len(runs) == 2 and all((folder / "partial_parse.msgpack").is_file() for folder in runs)
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
    assert tables(lakehouse, drop=TIME_COLUMNS) == {
        name: rows for name, rows in _drop_times(reference).items()
    }


def _drop_times(found: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {
        name: sorted(tuple(item for item in row if item[0] not in TIME_COLUMNS) for row in rows)
        for name, rows in found.items()
    }
