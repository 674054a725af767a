"""examples/airflow/meshgate_dag.py run for real by Airflow 3 over the example data.

Airflow lives in its own environment, `.venv-airflow` (meshgate[airflow], built by `make test`), as in
a deployment: these tests drive its `airflow` command as a subprocess. `airflow dags test` runs one
DAG run in process (Dag.test(): no scheduler), its metadata in SQLite under a temporary AIRFLOW_HOME.
The DAG runs twice over the same landing files; during the first run a DuckDB session holds the dbt
file's lock, so `dbt_run_silver` fails for real and Airflow's retry succeeds once the lock is gone.
Without the environment the tests skip, except under ``CI=true``, where they fail.
"""

import ast
import contextlib
import importlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from lakehouse.dbt.glue import DUCKDB_FILE
from lakehouse.masking import KEY_ENV
from meshgate.pipeline.resources import LakehouseResource

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "examples" / "airflow" / "meshgate_dag.py"
AIRFLOW_VENV = ROOT / ".venv-airflow"
GATES = {"gate_checkout__checkout_completed", "gate_identity__user_signed_up", "gate_web__page_viewed"}
TASKS = GATES | {"dbt_run_silver", "dbt_test_silver", "dbt_build_gold"}
LANDING = {  # table -> [(file, generator options)], as in test_pipeline.py
    "checkout__checkout_completed": [
        ("checkout-1.jsonl", {"kind": "checkout", "rows": 300, "seed": 1, "late": 0.05}),
        # the same seed: its first 300 events are those of checkout-1 delivered again, then 100 new ones
        ("checkout-2.jsonl", {"kind": "checkout", "rows": 400, "seed": 1, "late": 0.05}),
        ("checkout-bad.jsonl", {"kind": "checkout", "rows": 50, "seed": 3, "bad": True}),
    ],
    "identity__user_signed_up": [("signup-1.jsonl", {"kind": "signup", "rows": 300, "seed": 4})],
    "web__page_viewed": [("pageview-1.jsonl", {"kind": "pageview", "rows": 300, "seed": 5, "late": 0.05})],
}
RETRY_DELAY_SECONDS = 3  # the lock is released within a poll (0.1 s) of the failure
RUN_TIMEOUT = 300
DAG_STRUCTURE = """
import json
from airflow.models import DagBag
bag = DagBag(dag_folder={dag_file!r})
dag = bag.get_dag("meshgate")
print(json.dumps({{"errors": list(bag.import_errors), "upstream": {{t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}}}}))
"""

pytestmark = pytest.mark.timeout(900)


def test_every_meshgate_name_the_dag_imports_exists():
    tree = ast.parse(DAG_FILE.read_text(), filename=str(DAG_FILE))
    imported = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module.split(".")[0] in ("meshgate", "lakehouse", "registry")
        for alias in node.names
    ]
    assert ("meshgate.pipeline.bronze", "gate_file") in imported  # the same function as the Dagster asset
    for module, name in imported:
        assert hasattr(importlib.import_module(module), name), (
            f"{DAG_FILE.name}: {module}.{name} does not exist"
        )


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """The environment of the `airflow` commands: a fresh AIRFLOW_HOME (metadata DB migrated) and data dir."""
    if not (AIRFLOW_VENV / "bin" / "airflow").is_file():
        reason = f"the Airflow environment {AIRFLOW_VENV} is missing: `make test` creates it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the Airflow DAG must run)")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("airflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MESHGATE_"))}
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FILE.parent),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY=str(RETRY_DELAY_SECONDS),
        MESHGATE_DATA_DIR=str(home / "data"),
        **{KEY_ENV: "airflow-test-key"},
    )
    airflow(env, "db", "migrate")
    return env


def airflow(env: dict[str, str], *args: str) -> str:
    """Run `airflow ARGS` in the Airflow environment; its output, or a failure with the output's tail."""
    done = subprocess.run(
        [AIRFLOW_VENV / "bin" / "airflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"airflow {' '.join(args)} exited {done.returncode}:\n{output[-5000:]}"
    return output


def metadata(env: dict[str, str], sql: str, *params) -> list[tuple]:
    """Rows of Airflow's metadata DB (SQLite) for a query."""
    with contextlib.closing(sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db", timeout=30)) as db:
        return db.execute(sql, params).fetchall()


def wait_for_retry(env: dict[str, str], task_id: str, run: subprocess.Popen, log: Path) -> None:
    """Return once Airflow marked the task up for retry (its first try failed)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if run.poll() is not None:
            pytest.fail(
                f"airflow dags test ended ({run.returncode}) before {task_id} failed:\n{log.read_text()[-5000:]}"
            )
        try:
            states = metadata(env, "select state from task_instance where task_id = ?", task_id)
        except sqlite3.OperationalError:  # the table is not there yet, or locked by a writer
            states = []
        if ("up_for_retry",) in states:
            return
        time.sleep(0.1)
    pytest.fail(f"{task_id} was not marked up for retry within {RUN_TIMEOUT} s")


def tables(lakehouse: LakehouseResource) -> dict[str, list[tuple]]:
    """Every Bronze, Silver and Gold table's rows (sorted), by identifier."""
    catalog = lakehouse.catalog()
    found = {}
    for namespace in ("bronze", "silver", "gold"):
        for identifier in catalog.list_tables(namespace):
            rows = catalog.load_table(identifier).scan().to_arrow().to_pylist()
            found[".".join(identifier)] = sorted(
                tuple(sorted((k, _value(v)) for k, v in row.items())) for row in rows
            )
    return found


def _value(value) -> str:
    """Comparable text of a value; doubles rounded: a SUM of doubles depends on summation order."""
    return repr(round(value, 6) if isinstance(value, float) else value)


def bronze_snapshots(lakehouse: LakehouseResource) -> dict[str, list[int]]:
    catalog = lakehouse.catalog()
    return {
        ".".join(identifier): [s.snapshot_id for s in catalog.load_table(identifier).snapshots()]
        for identifier in catalog.list_tables("bronze")
    }


@pytest.fixture(scope="module")
def two_runs(airflow_env, generate, tmp_path_factory):
    """The DAG run twice over the same landing files, the first with dbt's DuckDB file locked at first.

    Returns, per run: its log, its task instances {task_id: (state, try_number)}, the gates' decisions
    {file: status}; and the tables and Bronze snapshots after each run.
    """
    data = Path(airflow_env["MESHGATE_DATA_DIR"])
    lakehouse = LakehouseResource(data_dir=str(data))
    for table, files in LANDING.items():
        (data / "landing" / table).mkdir(parents=True, exist_ok=True)
        for name, options in files:
            options = dict(options)
            generate.write(
                options.pop("kind"), data / "landing" / table / name, options.pop("rows"), **options
            )
    first_log = tmp_path_factory.mktemp("logs") / "first.log"
    with first_log.open("w") as out, duckdb.connect(str(data / DUCKDB_FILE)):  # someone's DuckDB session
        first = subprocess.Popen(
            [AIRFLOW_VENV / "bin" / "airflow", "dags", "test", "meshgate", "2026-01-02"],
            env=airflow_env,
            stdout=out,
            stderr=out,
        )
        try:
            wait_for_retry(airflow_env, "dbt_run_silver", first, first_log)
        except BaseException:
            first.kill()
            raise
    assert first.wait(timeout=RUN_TIMEOUT) == 0, first_log.read_text()[-5000:]
    after_first = tables(lakehouse), bronze_snapshots(lakehouse)
    second_log = airflow(airflow_env, "dags", "test", "meshgate", "2026-01-03")
    after_second = tables(lakehouse), bronze_snapshots(lakehouse)

    runs = []
    for (run_id,) in metadata(airflow_env, "select run_id from dag_run order by logical_date"):
        instances = metadata(
            airflow_env, "select task_id, state, try_number from task_instance where run_id = ?", run_id
        )
        returned = metadata(
            airflow_env, "select value from xcom where run_id = ? and key = 'return_value'", run_id
        )
        decisions = {name: status for (value,) in returned for name, status in json.loads(value).items()}
        runs.append(({t: (state, tries) for t, state, tries in instances}, decisions))
    (first_tasks, first_decisions), (second_tasks, second_decisions) = runs
    return {
        "logs": (first_log.read_text(), second_log),
        "tasks": (first_tasks, second_tasks),
        "decisions": (first_decisions, second_decisions),
        "tables": (after_first[0], after_second[0]),
        "snapshots": (after_first[1], after_second[1]),
    }


def test_airflow_parses_the_dag_with_its_tasks_in_order(airflow_env):
    output = subprocess.run(
        [AIRFLOW_VENV / "bin" / "python", "-c", DAG_STRUCTURE.format(dag_file=str(DAG_FILE))],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    ).stdout
    parsed = json.loads(output.strip().splitlines()[-1])
    assert parsed["errors"] == []
    upstream = parsed["upstream"]
    assert set(upstream) == TASKS
    assert set(upstream["dbt_run_silver"]) == GATES
    assert upstream["dbt_test_silver"] == ["dbt_run_silver"]
    assert upstream["dbt_build_gold"] == ["dbt_test_silver"]


def test_both_runs_end_with_every_task_succeeded(two_runs):
    for tasks in two_runs["tasks"]:
        assert set(tasks) == TASKS
        assert {state for state, _ in tasks.values()} == {"success"}


def test_dbt_failing_on_a_locked_duckdb_file_is_retried_by_airflow_and_succeeds(two_runs):
    first_tasks, second_tasks = two_runs["tasks"]
    assert first_tasks["dbt_run_silver"] == ("success", 2)  # failed once, retried once
    assert all(tries == 1 for task, (_, tries) in first_tasks.items() if task != "dbt_run_silver")
    assert all(tries == 1 for _, tries in second_tasks.values())
    assert "Could not set lock on file" in two_runs["logs"][0]
    assert "Could not set lock on file" not in two_runs["logs"][1]


def test_the_first_run_gates_every_landing_file_and_builds_silver_and_gold(two_runs):
    first_decisions, _ = two_runs["decisions"]
    assert first_decisions == {
        "checkout-1.jsonl": "accepted",
        "checkout-2.jsonl": "accepted",
        "checkout-bad.jsonl": "rejected",
        "signup-1.jsonl": "accepted",
        "pageview-1.jsonl": "accepted",
    }
    after_first, _ = two_runs["tables"]
    assert len(after_first["bronze.checkout__checkout_completed"]) == 700  # both accepted files
    assert (
        len(after_first["silver.checkout__checkout_completed"]) == 400
    )  # one row per event, despite the retry
    assert len(after_first["bronze.identity__user_signed_up"]) == 300
    assert len(after_first["silver.identity__user_signed_up"]) == 300
    assert len(after_first["silver.web__page_viewed"]) == 300
    gold = {
        "gold.daily_revenue",
        "gold.daily_active_users",
        "gold.conversion_funnel",
        "gold.daily_page_views",
    }
    assert gold <= set(after_first)
    assert all(after_first[name] for name in after_first if name.startswith("gold."))


def test_a_second_run_over_the_same_landing_files_is_a_no_op(two_runs):
    _, second_decisions = two_runs["decisions"]
    assert second_decisions == {
        "checkout-1.jsonl": "duplicate",
        "checkout-2.jsonl": "duplicate",
        "checkout-bad.jsonl": "rejected",
        "signup-1.jsonl": "duplicate",
        "pageview-1.jsonl": "duplicate",
    }
    before, after = two_runs["snapshots"]
    assert after == before  # the gate committed no snapshot
    after_first, after_second = two_runs["tables"]
    assert after_second == after_first  # Bronze, Silver and Gold: the same rows, none duplicated
