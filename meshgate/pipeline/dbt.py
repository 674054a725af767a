"""The dbt models (Silver, Gold) as Dagster assets, read from the dbt manifest (dagster-dbt).

dagster-dbt turns every model into an asset, every dbt test into an asset check, and every source
``bronze.<table>`` into a dependency on the Bronze asset of the same key, so lineage runs from the
landing file to Gold. Model keys are ``[schema, alias]`` (``silver/checkout__checkout_completed``,
``gold/daily_revenue``): the Iceberg identifiers the dbt plugin lands them under.
"""

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from lakehouse.dbt.glue import PROJECT_DIR, dbt_environment
from meshgate.pipeline.bronze import InjectedFailure
from meshgate.pipeline.resources import LakehouseResource

DBT_RUN_TAGS = {"meshgate/runs": "dbt"}  # deploy/dagster.yaml queues these one at a time (one DuckDB file)
MANIFEST_TARGET = "target"  # dbt/target/manifest.json, the file contract-check reads too
PROJECT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def dbt_project(project_dir: Path = PROJECT_DIR) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir, target_path=MANIFEST_TARGET)


def prepare_manifest(project: DbtProject) -> Path:
    """``dbt parse`` when the manifest is missing or older than the project's files; its path.

    A code location loads the manifest at import, so a fresh checkout (no ``dbt/target``) and a
    regenerated ``sources.yml`` (the contract-change sensor) both get a current one.
    """
    manifest = project.manifest_path
    if manifest.is_file() and manifest.stat().st_mtime >= _newest_input(project.project_dir):
        return manifest
    from dbt.cli.main import dbtRunner

    folder = str(project.project_dir)
    args = ["parse", "--quiet", "--project-dir", folder, "--profiles-dir", folder]
    scratch = manifest.parent / f"parse-{os.getpid()}"  # the daemon and the webserver may parse at once
    result = dbtRunner().invoke([*args, "--target-path", str(scratch)])
    parsed = scratch / manifest.name
    if not result.success or not parsed.is_file():
        raise RuntimeError(f"dbt parse of {folder} failed: {result.exception or 'see dbt output above'}")
    os.replace(parsed, manifest)
    shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def _newest_input(project_dir: Path) -> float:
    newest = 0.0
    for name in PROJECT_INPUTS:
        path = project_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


class MeshgateTranslator(DagsterDbtTranslator):
    """Models keyed ``[schema, alias]``; sources keep dagster-dbt's ``[source, table]`` (= Bronze)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "snapshot", "seed"):
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)


class DbtBuildConfig(Config):
    """Run config of the dbt assets. ``fail_after_silver`` is a fault drill: build Silver, then fail."""

    fail_after_silver: bool = False


def dbt_resource(project: DbtProject) -> DbtCliResource:
    """dagster-dbt's dbt CLI resource over the project and the profile in it (dbt/profiles.yml)."""
    executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=project, dbt_executable=str(executable) if executable.is_file() else "dbt"
    )


def load_manifest(project: DbtProject) -> dict:
    """The project's manifest, parsed once (``prepare_manifest`` first): the dbt assets and the
    sensors of a code location share it."""
    return json.loads(prepare_manifest(project).read_text())


def build_dbt_assets(project: DbtProject, manifest: dict):
    """The multi-asset of every dbt model (with its tests as checks), running ``dbt build``."""

    @dbt_assets(
        manifest=manifest,
        project=project,
        dagster_dbt_translator=MeshgateTranslator(),
    )
    def meshgate_dbt_models(
        context: AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: DbtCliResource,
        lakehouse: LakehouseResource,
    ) -> Iterator:
        target = Path(lakehouse.data_dir).resolve() / "dbt-target" / context.run.run_id
        _carry_partial_parse(target.parent, target)
        with dbt_environment(lakehouse.dbt_environment()):
            if config.fail_after_silver:  # without the context: dagster-dbt would select every model
                dbt.cli(
                    ["run", "--select", "silver"], manifest=project.manifest_path, target_path=target
                ).wait()
                raise InjectedFailure("injected failure after the Silver models were built")
            # The op's context: dagster-dbt reads ``context.op`` for its selection, deprecated on
            # an AssetExecutionContext and current on the OpExecutionContext it wraps.
            op_context = context.op_execution_context
            yield from dbt.cli(["build"], context=op_context, target_path=target).stream()
        _carry_partial_parse(target, target.parent)

    return meshgate_dbt_models


PARTIAL_PARSE = "partial_parse.msgpack"


def _carry_partial_parse(source: Path, destination: Path) -> None:
    """Copy dbt's saved parse between the data dir's ``dbt-target`` and a run's own target folder.

    Each run writes into a folder of its own (its run results stay apart), where dbt would find no
    saved parse and parse the whole project again; seeded with the last run's, dbt re-parses only
    what changed (it checks the project's files, vars and profile itself).
    """
    saved = source / PARTIAL_PARSE
    if saved.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, destination / PARTIAL_PARSE)
