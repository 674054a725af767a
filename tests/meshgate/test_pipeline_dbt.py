"""The dbt CLI resource of the code location: one dbt process per invocation, no in-process adapter;
the transform job forced to build, then skipping when nothing is new.

dagster-dbt's own resource starts ``dbt --version`` and loads an adapter (profile, project, dbt's
macros) in the run's process before each invocation; ``MeshgateDbtCli`` does neither. These tests
fail if a dagster-dbt upgrade renames what it overrides, instead of the cost coming back unseen.
"""

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import dagster_dbt.core.resource
from dagster_dbt import DbtCliResource
from packaging.version import Version

from lakehouse.dbt.glue import PROJECT_DIR, dbt_environment
from lakehouse.masking import KEY_ENV
from meshgate.pipeline.dbt import MeshgateDbtCli, dbt_project, dbt_resource
from meshgate.pipeline.definitions import TRANSFORM_JOB
from meshgate.pipeline.project import working_project
from meshgate.pipeline.resources import ENV_DATA_DIR, LakehouseResource
from tests.conftest import ROOT


def test_the_overridden_members_still_exist_in_dagster_dbt():
    assert isinstance(DbtCliResource.__dict__["_cli_version"], type(MeshgateDbtCli.__dict__["_cli_version"]))
    assert callable(DbtCliResource.__dict__["_initialize_dbt_core_adapter"])


def test_an_invocation_starts_dbt_once_and_loads_no_adapter(tmp_path, monkeypatch):
    def no_second_process(*args, **kwargs):
        raise AssertionError(f"a second process was started: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_second_process)  # `dbt --version`
    lakehouse = LakehouseResource(data_dir=str(tmp_path / "data"))
    project = dbt_project(working_project(PROJECT_DIR, lakehouse.data_dir))
    resource = dbt_resource(project)
    assert isinstance(resource, MeshgateDbtCli)
    assert resource._cli_version == Version(version("dbt-core"))
    with dbt_environment(lakehouse.dbt_environment()):
        invocation = resource.cli(["ls", "--resource-type", "model"], target_path=tmp_path / "target")
        lines = [str(event) for event in invocation.stream_raw_events()]
    assert invocation.is_successful() and invocation.adapter is None
    assert any("silver_checkout_completed" in line for line in lines)


def test_the_transform_job_builds_with_full_build_then_skips_with_nothing_new(tmp_path):
    """``dagster job execute`` of the code location's transform job, as docs/orchestration.md says to
    force a build: the forced run builds every model, the next run (nothing new) starts no dbt."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        ENV_DATA_DIR: str(tmp_path / "data"),
        KEY_ENV: "dbt-job-key",
    }
    dagster = [str(Path(sys.executable).with_name("dagster")), "job", "execute"]
    dagster += ["--module-name", "meshgate.pipeline.definitions", "--job", TRANSFORM_JOB]
    forced = tmp_path / "full-build.yaml"
    forced.write_text(
        json.dumps({"ops": {"meshgate_dbt_models": {"config": {"full_build": True}}}})
    )  # JSON is YAML
    outputs = []
    for extra in (["--config", str(forced)], []):
        run = subprocess.run(
            [*dagster, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 0, outputs[-1][-3000:]
    assert "Finished dbt command" in outputs[0] and "skipped" not in outputs[0]
    assert "7 of 7 models skipped" in outputs[1] and "Finished dbt command" not in outputs[1]
    assert "full_build: true" in outputs[1]
