"""The pipeline's sensors evaluated against a real Dagster instance, real landing files, a real
registry and the real dbt manifest: what they request, and that a second tick requests nothing new."""

import json
import shutil

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context

from lakehouse.dbt.glue import PROJECT_DIR
from lakehouse.dbt.sources import SOURCES_FILE, contracts_from_files
from meshgate.pipeline.dbt import MeshgateTranslator, dbt_project
from meshgate.pipeline.definitions import build_definitions
from meshgate.pipeline.resources import EXAMPLE_CONTRACTS, LakehouseResource
from meshgate.pipeline.sensors import contract_change_sensor, downstream_models

CHECKOUT = "checkout__checkout_completed"
SIGNUP = "identity__user_signed_up"
CHECKOUT_MODELS = {
    AssetKey(["silver", CHECKOUT]),
    AssetKey(["gold", "daily_revenue"]),
    AssetKey(["gold", "daily_active_users"]),
    AssetKey(["gold", "conversion_funnel"]),
}


@pytest.fixture
def lakehouse(tmp_path, monkeypatch):
    from lakehouse.masking import KEY_ENV

    monkeypatch.setenv(KEY_ENV, "sensor-test-key")
    return LakehouseResource(data_dir=str(tmp_path / "data"))


def land(lakehouse, generate, kind: str) -> None:
    """Gate a small generated batch of ``kind`` into its Bronze table (through the pipeline's gate_file)."""
    from meshgate.pipeline.bronze import gate_file

    contract = generate.contract(kind)
    folder = lakehouse.landing_folder(contract.subject)
    folder.mkdir(parents=True, exist_ok=True)
    path = generate.write(kind, folder / f"{kind}.jsonl", 20)
    assert gate_file(lakehouse, contract, path).status == "accepted"


@pytest.fixture
def defs(lakehouse):
    return build_definitions(lakehouse)


def manifest() -> dict:
    """The checkout's own manifest, parsed when missing (the code location now parses a working copy)."""
    from meshgate.pipeline.dbt import load_manifest

    return load_manifest(dbt_project())


def test_the_code_location_loads_with_bronze_dbt_assets_and_checks(defs):
    from dagster import Definitions

    Definitions.validate_loadable(defs)  # what `dagster definitions validate` checks: jobs, sensors, targets
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {f"bronze/{CHECKOUT}", f"bronze/{SIGNUP}", f"silver/{CHECKOUT}", "gold/daily_revenue"} <= keys
    # the Silver model depends on the gate's Bronze asset (dbt source bronze.<table> = the same key)
    assert AssetKey(["bronze", CHECKOUT]) in graph.get(AssetKey(["silver", CHECKOUT])).parent_keys
    checks = {key.name for key in graph.asset_check_keys}
    assert "gate_decision" in checks
    assert defs.resolve_job_def("transform").executor_def.name == "in_process"  # one step a run
    assert any(name.startswith("unique_silver_checkout_completed") for name in checks)  # dbt tests


def test_new_landing_files_become_partitions_and_runs_once(defs, lakehouse):
    folder = lakehouse.landing_folder("checkout.CheckoutCompleted")
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text("{}\n")
    (folder / "b.jsonl.part").write_text("{}\n")  # still being written: ignored
    (folder / ".c.jsonl").write_text("{}\n")  # hidden: ignored
    instance = DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def(f"landing_files__{CHECKOUT}")
    result = sensor(build_sensor_context(instance=instance, resources={"lakehouse": lakehouse}))
    assert [(r.partition_key, r.asset_selection) for r in result.run_requests] == [
        ("a.jsonl", [AssetKey(["bronze", CHECKOUT])])
    ]
    for request in result.dynamic_partitions_requests:  # what the daemon does with the result
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    again = sensor(build_sensor_context(instance=instance, resources={"lakehouse": lakehouse}))
    assert again.run_requests == [] and "no new landing file" in again.skip_reason.skip_message


def test_downstream_models_follow_the_dbt_lineage():
    translator = MeshgateTranslator()
    assert set(downstream_models(manifest(), [CHECKOUT], translator)) == CHECKOUT_MODELS
    signup = set(downstream_models(manifest(), [SIGNUP], translator))
    assert AssetKey(["silver", SIGNUP]) in signup and AssetKey(["gold", "daily_revenue"]) not in signup
    assert downstream_models(manifest(), ["no_such_table"], translator) == []
    # before any sign-up landed, the Gold joins of checkouts and sign-ups cannot build: left out
    only_checkout = set(downstream_models(manifest(), [CHECKOUT], translator, landed={CHECKOUT}))
    assert only_checkout == {AssetKey(["silver", CHECKOUT]), AssetKey(["gold", "daily_revenue"])}
    both = set(downstream_models(manifest(), [CHECKOUT], translator, landed={CHECKOUT, SIGNUP}))
    assert both == CHECKOUT_MODELS


def test_contract_changes_regenerate_sources_and_rebuild_what_reads_the_subject(
    tmp_path, lakehouse, generate
):
    from registry.client import RegistryClient
    from registry.contract import load_contract
    from registry.events import EventLog
    from registry.server import RegistryServer, ThreadedServer
    from registry.store import Store, sqlite_url

    land(lakehouse, generate, "checkout")
    land(lakehouse, generate, "signup")
    project = tmp_path / "dbt"
    shutil.copytree(PROJECT_DIR / "models", project / "models")
    (project / SOURCES_FILE).unlink()
    server = ThreadedServer(RegistryServer(sqlite_url(tmp_path)))
    ports = server.start()
    try:
        target = f"127.0.0.1:{ports.grpc_port}"
        configured = LakehouseResource(data_dir=lakehouse.data_dir, registry=target)
        contracts = contracts_from_files(EXAMPLE_CONTRACTS)
        sensor = contract_change_sensor(
            contracts, project, manifest(), MeshgateTranslator(), None, drain_seconds=0.5
        )
        with RegistryClient(target) as client:
            for path in sorted(EXAMPLE_CONTRACTS.glob("*/*.yaml")):
                client.register(load_contract(path))

            first = sensor(build_sensor_context(resources={"lakehouse": configured}))
            sources = (project / SOURCES_FILE).read_text()
            assert f"name: {CHECKOUT}" in sources and f"name: {SIGNUP}" in sources
            assert set(first.run_requests[0].asset_selection) >= CHECKOUT_MODELS

            quiet = sensor(build_sensor_context(cursor=first.cursor, resources={"lakehouse": configured}))
            assert quiet.run_requests == [] and "no contract changed" in quiet.skip_reason.skip_message

            evolved = PROJECT_DIR.parent / "examples" / "evolution" / "checkout_completed.v2.avsc"
            client.register("checkout.CheckoutCompleted", evolved.read_text(), format="AVRO")
            changed = sensor(build_sensor_context(cursor=first.cursor, resources={"lakehouse": configured}))
            (request,) = changed.run_requests
            assert set(request.asset_selection) == CHECKOUT_MODELS
            assert request.tags["meshgate/contracts"] == "checkout.CheckoutCompleted"
            assert (project / SOURCES_FILE).read_text() != sources  # v2's new field: a new source column

            signup_v2 = PROJECT_DIR.parent / "examples" / "evolution" / "user_signed_up.v2.proto"
            client.register("identity.UserSignedUp", signup_v2.read_text(), format="PROTOBUF")
        store = Store(sqlite_url(tmp_path))
        try:  # retention removes every event but the newest: the cursor is now behind the log
            EventLog(store).compact(keep_last=1)
        finally:
            store.close()
        compacted = sensor(build_sensor_context(cursor=first.cursor, resources={"lakehouse": configured}))
        (request,) = compacted.run_requests  # state re-read: every subject counts as changed
        assert set(request.asset_selection) >= CHECKOUT_MODELS | {AssetKey(["silver", SIGNUP])}
        assert int(compacted.cursor) > int(first.cursor)
        # resuming where the registry says replays the one retained event (harmless: runs are idempotent)
        resumed = sensor(build_sensor_context(cursor=compacted.cursor, resources={"lakehouse": configured}))
        assert [r.tags["meshgate/contracts"] for r in resumed.run_requests] == ["identity.UserSignedUp"]
        quiet = sensor(build_sensor_context(cursor=resumed.cursor, resources={"lakehouse": configured}))
        assert quiet.run_requests == []
    finally:
        server.stop()


def test_contract_changes_skip_without_a_registry(lakehouse, defs):
    sensor = defs.resolve_sensor_def("contract_changes")
    result = sensor(build_sensor_context(resources={"lakehouse": lakehouse}))
    assert result.run_requests == [] and "no registry configured" in result.skip_reason.skip_message


def test_landed_bronze_batches_request_the_models_downstream_and_skip_rejections(defs, lakehouse, generate):
    from dagster import AssetMaterialization

    instance = DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def("bronze_batches")
    resources = {"lakehouse": lakehouse}
    checkout = AssetKey(["bronze", CHECKOUT])
    instance.report_runless_asset_event(AssetMaterialization(checkout, metadata={"status": "rejected"}))
    rejected = sensor(build_sensor_context(instance=instance, resources=resources))
    assert rejected.run_requests == [] and rejected.cursor is not None

    land(lakehouse, generate, "checkout")
    instance.report_runless_asset_event(AssetMaterialization(checkout, metadata={"status": "accepted"}))
    landed = sensor(build_sensor_context(instance=instance, cursor=rejected.cursor, resources=resources))
    (request,) = landed.run_requests  # no sign-up yet: only what checkouts alone feed
    assert set(request.asset_selection) == {
        AssetKey(["silver", CHECKOUT]),
        AssetKey(["gold", "daily_revenue"]),
    }
    again = sensor(build_sensor_context(instance=instance, cursor=landed.cursor, resources=resources))
    assert again.run_requests == []

    land(lakehouse, generate, "signup")
    signup = AssetKey(["bronze", SIGNUP])
    instance.report_runless_asset_event(AssetMaterialization(signup, metadata={"status": "accepted"}))
    both = sensor(build_sensor_context(instance=instance, cursor=again.cursor, resources=resources))
    (request,) = both.run_requests
    assert {AssetKey(["gold", "conversion_funnel"]), AssetKey(["silver", SIGNUP])} <= set(
        request.asset_selection
    )


def test_a_partition_whose_landing_file_is_gone_fails_with_its_path(defs, lakehouse):
    from dagster import DagsterInstance, Failure, materialize

    instance = DagsterInstance.ephemeral()
    asset = defs.get_assets_def(AssetKey(["bronze", CHECKOUT]))
    instance.add_dynamic_partitions(asset.partitions_def.name, ["gone.jsonl"])
    with pytest.raises(Failure, match=r"landing file .*checkout__checkout_completed/gone.jsonl"):
        materialize([asset], partition_key="gone.jsonl", resources=defs.resources, instance=instance)


def test_a_contracts_folder_without_contracts_is_a_clear_error(tmp_path):
    from registry.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="no contract YAML file"):
        build_definitions(LakehouseResource(data_dir=str(tmp_path), contracts_dir=str(tmp_path)))


def test_the_resource_reads_the_same_environment_as_the_cli():
    resource = LakehouseResource.from_env(
        {
            "MESHGATE_DATA_DIR": "/data",
            "MESHGATE_REGISTRY": "registry:50051",
            "MESHGATE_S3_ENDPOINT": "http://minio:9000",
        }
    )
    assert (resource.data_dir, resource.registry) == ("/data", "registry:50051")
    assert resource.storage_options() == {"s3.endpoint": "http://minio:9000"}
    assert str(resource.landing_folder("identity.UserSignedUp")) == f"/data/landing/{SIGNUP}"


def test_a_fresh_checkout_without_a_manifest_gets_one_and_a_changed_project_is_parsed_again(tmp_path):
    import os

    from meshgate.pipeline.dbt import prepare_manifest

    project_dir = tmp_path / "dbt"
    shutil.copytree(PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    project = dbt_project(project_dir)
    manifest_path = prepare_manifest(project)  # no dbt/target yet: dbt parse runs
    assert manifest_path == project_dir / "target" / "manifest.json"
    assert "model.meshgate.silver_checkout_completed" in json.loads(manifest_path.read_text())["nodes"]
    parsed_at = manifest_path.stat().st_mtime
    assert prepare_manifest(project).stat().st_mtime == parsed_at  # current: not parsed again
    model = project_dir / "models" / "gold" / "daily_revenue.sql"
    os.utime(model, (parsed_at + 10, parsed_at + 10))  # e.g. sources.yml regenerated by the sensor
    assert prepare_manifest(project).stat().st_mtime > parsed_at


def test_a_project_dbt_cannot_parse_is_a_clear_error_naming_it(tmp_path):
    from meshgate.pipeline.dbt import prepare_manifest

    project_dir = tmp_path / "dbt"
    shutil.copytree(PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    (project_dir / "models" / "gold" / "broken.sql").write_text("select {{ this is not jinja\n")
    with pytest.raises(RuntimeError, match=f"dbt parse of {project_dir} failed"):
        prepare_manifest(dbt_project(project_dir))


def test_an_undecodable_landing_file_fails_the_gate_check_with_file_and_row(defs, lakehouse):
    from dagster import materialize

    folder = lakehouse.landing_folder("checkout.CheckoutCompleted")
    folder.mkdir(parents=True)
    (folder / "garbage.jsonl").write_text("this is not JSON\n")
    instance = DagsterInstance.ephemeral()
    asset = defs.get_assets_def(AssetKey(["bronze", CHECKOUT]))
    instance.add_dynamic_partitions(asset.partitions_def.name, ["garbage.jsonl"])
    result = materialize([asset], partition_key="garbage.jsonl", resources=defs.resources, instance=instance)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["status"].value == "rejected" and check.metadata["reasons"].value
    violations = check.metadata.get("first_violations")
    details = [check.metadata["message"].value, *(violations.value if violations else [])]
    assert any("garbage.jsonl:1 decode : row is not valid JSON" in line for line in details), (
        details
    )  # the row, exactly
