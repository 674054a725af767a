"""The meshgate pipeline as an Airflow DAG, for teams on Airflow: the same steps as the Dagster code
location (meshgate.pipeline), through the same functions.

    gate_<table> (one task per contract) >> dbt_run_silver >> dbt_test_silver >> dbt_build_gold

Every task is idempotent: a landing file is one gate batch whose id is the sha256 of its bytes (a
batch already in Bronze is a no-op), Silver is incremental with delete+insert on the event id, Gold
is rebuilt from Silver. A retried task therefore never duplicates rows.

Configuration comes from the same environment variables as the Dagster deployment
(MESHGATE_DATA_DIR, MESHGATE_CATALOG_URL, MESHGATE_WAREHOUSE, MESHGATE_LANDING_DIR,
MESHGATE_CONTRACTS_DIR, MESHGATE_REGISTRY, MESHGATE_PII_KEY, ...; MESHGATE_CA_CERT and, for mutual TLS,
MESHGATE_CLIENT_CERT and MESHGATE_CLIENT_KEY when the registry serves TLS). Copy this file into the DAGs
folder of an Airflow 3 whose Python environment has meshgate installed (``pip install
'meshgate[airflow]'``). Each task is retried twice, after Airflow's configured delay
(``[core] default_task_retry_delay``, env AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY, 300 s by default).
`make test` runs this DAG with ``airflow dags test`` (tests/meshgate/test_airflow_dag.py).
"""

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from lakehouse.dbt.sources import contracts_from_files
from lakehouse.naming import table_name
from meshgate.pipeline.resources import LakehouseResource

LAKEHOUSE = LakehouseResource.from_env()
CONTRACTS = contracts_from_files(LAKEHOUSE.contracts_dir)


@task
def gate(subject: str) -> dict[str, str]:
    """Gate every file in the subject's landing folder; files already in Bronze are no-ops."""
    from meshgate.pipeline.bronze import gate_file
    from meshgate.pipeline.sensors import landing_files

    (contract,) = [c for c in CONTRACTS if c.subject == subject]
    folder = LAKEHOUSE.landing_folder(subject)
    decisions = {}
    for name in landing_files(folder):
        result = gate_file(LAKEHOUSE, contract, folder / name)
        print(result.message)  # a rejected batch's reasons are also in `meshgate ingest-log`
        decisions[name] = result.status
    return decisions


@task
def dbt(args: list[str]) -> None:
    """One dbt invocation on the project, pointed at the lakehouse; fails the task on a failing node."""
    from lakehouse.dbt.glue import run_dbt

    run = run_dbt(
        args,
        LAKEHOUSE.data_dir,
        catalog_url=LAKEHOUSE.catalog_url or None,
        warehouse=LAKEHOUSE.warehouse or None,
        storage_options=LAKEHOUSE.storage_options(),
    )
    if not run.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: " + "; ".join(run.failures))


@dag(
    dag_id="meshgate",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one dbt at a time on one DuckDB file
    default_args={"retries": 2},
    tags=["meshgate"],
)
def meshgate_pipeline():
    gates = [gate.override(task_id=f"gate_{table_name(c.subject)}")(c.subject) for c in CONTRACTS]
    silver = dbt.override(task_id="dbt_run_silver")(["run", "--select", "silver"])
    tested = dbt.override(task_id="dbt_test_silver")(
        ["test", "--select", "silver", "--indirect-selection", "cautious"]
    )
    gold = dbt.override(task_id="dbt_build_gold")(["build", "--select", "gold"])
    gates >> silver >> tested >> gold


meshgate_pipeline()
