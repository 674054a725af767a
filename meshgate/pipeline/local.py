"""Run the pipeline in this process, without a daemon: what the sensors would request, in order.

Every landing file becomes a partition and is gated into its Bronze asset, then ``dbt build`` runs
the Silver and Gold models and their tests. Used by tests, the benchmark and the demo; a deployment
gets the same runs from the sensors.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import AssetsDefinition, DagsterInstance, Definitions, materialize

from meshgate.pipeline.bronze import GATE_CHECK
from meshgate.pipeline.sensors import landing_files


@dataclass
class PipelineRun:
    """What a local run did: the gate's decision per landing file and the dbt checks that failed."""

    batches: dict[str, str] = field(default_factory=dict)  # "<table>/<file>" -> gate status
    failed_checks: list[str] = field(default_factory=list)  # "<asset key>:<check>"
    dbt_checks: int = 0
    failed_dbt_checks: list[str] = field(default_factory=list)  # those of failed_checks that are dbt's
    models_built: list[str] = field(default_factory=list)  # dbt models materialised (none: all skipped)


def run_locally(
    defs: Definitions,
    instance: DagsterInstance,
    gate_config: dict | None = None,
    dbt_config: dict | None = None,
    log_level: str = "DEBUG",
    on_step: Callable[[str], None] | None = None,
) -> PipelineRun:
    """Gate every landing file, then build the dbt models; raise on a failed step.

    ``gate_config``/``dbt_config`` are the assets' run config (``GateConfig``, ``DbtBuildConfig``);
    ``log_level`` that of Dagster's console logger; ``on_step(name)`` is called as each step starts
    (``gate <table>/<file>``, then ``dbt build``), to show progress.
    """
    step = on_step or (lambda name: None)
    loggers = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    lakehouse = defs.resources["lakehouse"]
    outcome = PipelineRun()
    bronze, models = _split_assets(defs)
    for asset_def in bronze:
        partitions = asset_def.partitions_def
        subject = asset_def.metadata_by_key[asset_def.key]["subject"]
        names = landing_files(lakehouse.landing_folder(subject))
        instance.add_dynamic_partitions(partitions.name, names)
        for name in names:
            step(f"gate {asset_def.key.path[-1]}/{name}")
            config = {**loggers, "ops": {asset_def.op.name: {"config": gate_config or {}}}}
            result = materialize(
                [asset_def],
                partition_key=name,
                resources=defs.resources,
                instance=instance,
                run_config=config,
            )
            for check in result.get_asset_check_evaluations():
                if check.check_name == GATE_CHECK:
                    outcome.batches[f"{asset_def.key.path[-1]}/{name}"] = check.metadata["status"].value
                    if not check.passed:
                        outcome.failed_checks.append(f"{check.asset_key.to_user_string()}:{name}")
    step("dbt build")
    config = {**loggers, "ops": {models.op.name: {"config": dbt_config or {}}}}
    result = materialize([models], resources=defs.resources, instance=instance, run_config=config)
    outcome.models_built = sorted(
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    )
    for check in result.get_asset_check_evaluations():
        outcome.dbt_checks += 1
        if not check.passed:
            outcome.failed_checks.append(f"{check.asset_key.to_user_string()}:{check.check_name}")
            outcome.failed_dbt_checks.append(outcome.failed_checks[-1])
    return outcome


def _split_assets(defs: Definitions) -> tuple[list[AssetsDefinition], AssetsDefinition]:
    assets = [a for a in defs.assets if isinstance(a, AssetsDefinition)]
    bronze = [a for a in assets if a.partitions_def is not None]
    (models,) = [a for a in assets if a.partitions_def is None]
    return bronze, models
