"""examples/airflow/meshgate_dag.py: parsed by Airflow when it is installed; without Airflow, checked
to call only meshgate functions that exist (Airflow is not a dependency of meshgate)."""

import ast
import importlib
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "examples" / "airflow" / "meshgate_dag.py"
TASKS = {
    "gate_checkout__checkout_completed",
    "gate_identity__user_signed_up",
    "dbt_run_silver",
    "dbt_test_silver",
    "dbt_build_gold",
}


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


def test_airflow_parses_the_dag_with_its_tasks_in_order(tmp_path, monkeypatch):
    pytest.importorskip("airflow", reason="Airflow is not installed (not a meshgate dependency)")
    from airflow.models import DagBag

    monkeypatch.setenv("MESHGATE_DATA_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(DAG_FILE), include_examples=False)
    assert bag.import_errors == {}
    dag = bag.get_dag("meshgate")
    assert set(dag.task_ids) == TASKS
    assert dag.get_task("dbt_run_silver").upstream_task_ids == {t for t in TASKS if t.startswith("gate_")}
    assert dag.get_task("dbt_build_gold").upstream_task_ids == {"dbt_test_silver"}
