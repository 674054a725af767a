"""The dbt models (Silver, Gold) as Dagster assets, read from the dbt manifest (dagster-dbt).

dagster-dbt turns every model into an asset, every dbt test into an asset check, and every source
``bronze.<table>`` into a dependency on the Bronze asset of the same key, so lineage runs from the
landing file to Gold. Model keys are ``[schema, alias]`` (``silver/checkout__checkout_completed``,
``gold/daily_revenue``): the Iceberg identifiers the dbt plugin lands them under. A run builds the
selected models that are due in one ``dbt build`` and skips the others (``build_state.py``).
"""

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from lakehouse.dbt.glue import PROJECT_DIR, dbt_environment
from meshgate.pipeline.bronze import InjectedFailure
from meshgate.pipeline.build_state import BuildState
from meshgate.pipeline.resources import LakehouseResource

DBT_RUN_TAGS = {"meshgate/runs": "dbt"}  # deploy/dagster.yaml queues these one at a time (one DuckDB file)
MANIFEST_TARGET = "target"  # dbt/target/manifest.json, the file contract-check reads too
PROJECT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def dbt_project(project_dir: Path = PROJECT_DIR) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir, target_path=MANIFEST_TARGET)


def prepare_manifest(project: DbtProject) -> Path:
    """``dbt parse`` when the manifest is missing or older than the project's files; its path.

    A code location loads the manifest at import, so a fresh checkout (no ``dbt/target``) and a
    regenerated ``sources.yml`` (the contract-change sensor) both get a current one. dbt's saved
    parse is kept beside it (``target/partial_parse.msgpack``), where dagster-dbt seeds a run's
    target folder from when no earlier run left one.
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
    if (scratch / PARTIAL_PARSE).is_file():
        os.replace(scratch / PARTIAL_PARSE, manifest.parent / PARTIAL_PARSE)
    os.replace(parsed, manifest)
    shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def _project_files(project_dir: Path) -> list[Path]:
    files = []
    for name in PROJECT_INPUTS:
        path = project_dir / name
        files += sorted(f for f in (path.rglob("*") if path.is_dir() else [path]) if f.is_file())
    return files


def _newest_input(project_dir: Path) -> float:
    return max([0.0, *(f.stat().st_mtime for f in _project_files(project_dir))])


def project_fingerprint(project_dir: Path) -> str:
    """sha256 of the project's files (names and bytes): a model built under another one is due again."""
    digest = hashlib.sha256()
    for file in _project_files(project_dir):
        digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


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
    """Run config of the dbt assets.

    ``full_build`` builds every selected model even when nothing it reads changed since its last
    successful build (by default those are skipped, see ``build_state.py``). ``fail_after_silver`` is
    a fault drill: build Silver, then fail.
    """

    full_build: bool = False
    fail_after_silver: bool = False


class MeshgateDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource, without the work it does in the run's process before dbt starts.

    Per run, dagster-dbt starts ``dbt --version`` (a second dbt process: 1-4 s on 2 busy cores) and
    loads the profile, project and dbt's macros into an in-process adapter, used only to fetch row
    counts and column metadata, which these assets do not ask for. The version is the installed
    dbt-core's (the executable is the one beside this interpreter), and there is no adapter.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster-dbt's signature
        return None


def dbt_resource(project: DbtProject) -> DbtCliResource:
    """The dbt CLI resource over the project and the profile in it (dbt/profiles.yml)."""
    executable = Path(sys.executable).with_name("dbt")
    return MeshgateDbtCli(
        project_dir=project, dbt_executable=str(executable) if executable.is_file() else "dbt"
    )


def load_manifest(project: DbtProject) -> dict:
    """The project's manifest, parsed once (``prepare_manifest`` first): the dbt assets and the
    sensors of a code location share it."""
    return json.loads(prepare_manifest(project).read_text())


def build_dbt_assets(project: DbtProject, manifest: dict):
    """The multi-asset of every dbt model (with its tests as checks), running ``dbt build`` once per
    run over the selected models that are due (all of them with ``full_build``)."""
    translator = MeshgateTranslator()
    models = {
        translator.get_asset_key(node): uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=translator)
    def meshgate_dbt_models(
        context: AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: DbtCliResource,
        lakehouse: LakehouseResource,
    ) -> Iterator:
        root = Path(lakehouse.data_dir).resolve() / "dbt-target"
        target = root / context.run.run_id
        with dbt_environment(lakehouse.dbt_environment()):
            if config.fail_after_silver:  # without the context: dagster-dbt would select every model
                dbt.cli(
                    ["run", "--select", "silver"], manifest=project.manifest_path, target_path=target
                ).wait()
                raise InjectedFailure("injected failure after the Silver models were built")
            selected = sorted(models[key] for key in context.selected_asset_keys if key in models)
            state = BuildState(root, manifest, project_fingerprint(project.project_dir))
            catalog = lakehouse.catalog()
            try:
                before = state.versions_before(selected, catalog)  # read once: the check and the record
                due = selected if config.full_build else state.due(selected, catalog, before)
                skipped = [uid for uid in selected if uid not in due]
                if skipped:
                    context.log.info(
                        f"dbt: {len(skipped)} of {len(selected)} models skipped, nothing they read changed "
                        f"since their last successful build: {', '.join(_names(manifest, skipped))} "
                        "(run config full_build: true builds them anyway)"
                    )
                if not due:
                    return
                _carry_partial_parse(root, target)
                args = (
                    ["build"]
                    if due == sorted(models.values())
                    else ["build", "--select", " ".join(_fqn(manifest, uid) for uid in due)]
                )
                invocation = dbt.cli(
                    args, manifest=manifest, dagster_dbt_translator=translator, target_path=target
                )
                # Converted with the op's context (Outputs and AssetCheckResults of this multi-asset):
                # given to ``dbt.cli`` it would also make dagster-dbt select the models itself.
                for event in invocation.stream_raw_events():
                    yield from event.to_default_asset_events(
                        manifest=manifest,
                        dagster_dbt_translator=translator,
                        context=context.op_execution_context,
                        target_path=target,
                        project=project,
                    )
                results = invocation.get_artifact("run_results.json")["results"]
                state.record(
                    [r["unique_id"] for r in results if r["unique_id"] in due and r["status"] == "success"],
                    before,
                    catalog,
                )
            finally:
                catalog.engine.dispose()
        _carry_partial_parse(target, root)

    return meshgate_dbt_models


def _names(manifest: dict, uids: list[str]) -> list[str]:
    return [manifest["nodes"][uid]["name"] for uid in uids]


def _fqn(manifest: dict, uid: str) -> str:
    """dbt's selector of exactly one model (a bare name would also match a folder of that name)."""
    return "fqn:" + ".".join(manifest["nodes"][uid]["fqn"])


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
