"""The Dagster code location: ``dagster dev -m meshgate.pipeline.definitions``.

Configuration comes from the environment (``MESHGATE_DATA_DIR``, ``MESHGATE_CATALOG_URL``,
``MESHGATE_WAREHOUSE``, ``MESHGATE_LANDING_DIR``, ``MESHGATE_CONTRACTS_DIR``, ``MESHGATE_REGISTRY``,
``MESHGATE_S3_ENDPOINT`` and the AWS credentials), see ``resources.py``.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from lakehouse.dbt.glue import PROJECT_DIR, dbt_environment
from lakehouse.dbt.sources import contracts_from_files
from meshgate.pipeline.bronze import bronze_asset
from meshgate.pipeline.dbt import (
    DBT_RUN_TAGS,
    MeshgateTranslator,
    build_dbt_assets,
    dbt_project,
    dbt_resource,
    load_manifest,
)
from meshgate.pipeline.project import working_project
from meshgate.pipeline.resources import LakehouseResource
from meshgate.pipeline.sensors import bronze_batches_sensor, contract_change_sensor, landing_sensor

TRANSFORM_JOB = "transform"


def build_definitions(lakehouse: LakehouseResource, project_dir: Path = PROJECT_DIR) -> Definitions:
    """Bronze assets for the contracts in ``lakehouse.contracts_dir``, the dbt assets, sensors, a job,
    on the in-process executor.

    dbt runs on a working copy of ``project_dir`` under the data directory (``project.py``)."""
    contracts = contracts_from_files(lakehouse.contracts_dir)
    project = dbt_project(working_project(Path(project_dir), lakehouse.data_dir))
    with dbt_environment(lakehouse.dbt_environment()):  # the runs' profile: their dbt reuses this parse
        manifest = load_manifest(project)
    models = build_dbt_assets(project, manifest)
    dbt_selection = AssetSelection.assets(models)
    translator = MeshgateTranslator()
    return Definitions(
        assets=[*(bronze_asset(c) for c in contracts), models],
        jobs=[
            define_asset_job(
                TRANSFORM_JOB,
                selection=dbt_selection,
                description="dbt build: Silver, Gold, tests",
                tags=DBT_RUN_TAGS,
            )
        ],
        sensors=[
            *(landing_sensor(c) for c in contracts),
            bronze_batches_sensor(contracts, manifest, translator, dbt_selection),
            contract_change_sensor(contracts, project.project_dir, manifest, translator, dbt_selection),
        ],
        resources={"lakehouse": lakehouse, "dbt": dbt_resource(project)},
        # Every run here is one step (a Bronze partition, or the dbt multi-asset): a step process per
        # run (the multiprocess executor's) would be a second interpreter start for nothing. The run
        # launcher still gives each run a process of its own.
        executor=in_process_executor,
    )


defs = build_definitions(LakehouseResource.from_env())
