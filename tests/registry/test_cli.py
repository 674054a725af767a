"""The registry's meshgate commands against a real server; ``serve`` as a real process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgate.cli import main
from registry.contract import Reference
from tests.conftest import free_port
from tests.registry.http_schemas import MONEY_PROTO, SHOP_ORDER_PROTO
from tests.registry.registry_harness import BREAKING, V1, V2, unique_subject


@pytest.fixture
def run(server):
    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), env={"MESHGATE_REGISTRY": server.grpc_target})

    return invoke


def _contract(tmp_path, subject: str, schema: str, compatibility: str = "BACKWARD"):
    (tmp_path / "event.avsc").write_text(schema)
    path = tmp_path / "event.yaml"
    path.write_text(
        f"subject: {subject}\nformat: AVRO\nschema: event.avsc\npii: [id]\ncompatibility: {compatibility}\n"
    )
    return str(path)


def test_register_get_and_subjects(run, examples_dir):
    contracts = sorted(str(p) for p in examples_dir.glob("contracts/*/*.yaml"))
    registered = run("register", *contracts)
    assert registered.exit_code == 0, registered.output
    assert "checkout.CheckoutCompleted: version 1" in registered.output
    shown = run("get", "checkout.CheckoutCompleted")
    assert (
        shown.exit_code == 0 and "pii:       email" in shown.output and '"CheckoutCompleted"' in shown.output
    )
    as_json = json.loads(run("get", "identity.UserSignedUp", "--version", "1", "--json").output)
    assert (as_json["format"], as_json["metadata"]["mask_pii_at"]) == ("PROTOBUF", "bronze")
    listed = run("subjects", "--prefix", "checkout.").output.split()
    assert listed == ["checkout.CheckoutCompleted"]


def test_register_sets_the_contract_level_and_reports_a_rejection(run, tmp_path):
    subject = unique_subject()
    assert run("register", _contract(tmp_path, subject, V1, "FULL")).exit_code == 0
    assert run("config", subject).output.strip() == f"{subject}: FULL"
    rejected = run("register", _contract(tmp_path, subject, BREAKING, "FULL"))
    assert rejected.exit_code == 1
    assert "rejected" in rejected.output and "TYPE_CHANGED Event.amount (line" in rejected.output
    assert "Traceback" not in rejected.output


def test_register_of_a_broken_contract_file_names_the_file(run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("subject: nodots\nformat: AVRO\nschema: x.avsc\n")
    result = run("register", str(bad))
    assert result.exit_code == 1 and f"{bad}: subject" in result.output


def test_config_shows_and_sets_levels(run):
    subject = unique_subject()
    assert run("config").output.strip() == "(global): BACKWARD"
    assert run("config", subject, "--set", "forward").output.strip() == f"{subject}: FORWARD"
    bad = run("config", subject, "--set", "SIDEWAYS")
    assert bad.exit_code == 1 and "SIDEWAYS" in bad.output


def test_consumers_add_list_remove(run, tmp_path):
    subject = unique_subject()
    run("register", _contract(tmp_path, subject, V1))
    added = run("consumers", "add", "billing", subject, "--version", "1", "--field", "amount")
    assert added.exit_code == 0, added.output
    reader = tmp_path / "reader.avsc"
    reader.write_text(V1)
    assert run("consumers", "add", "audit", subject, "--reader-schema", str(reader)).exit_code == 0
    listed = run("consumers", "list", subject).output.splitlines()
    assert listed == [f"{subject}\taudit\treader schema", f"{subject}\tbilling\tversion 1 fields amount"]
    assert run("consumers", "remove", "audit", subject).exit_code == 0
    missing = run("consumers", "remove", "audit", subject)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_get_of_a_missing_subject_fails_cleanly(run):
    result = run("get", "no.Such")
    assert result.exit_code == 1 and "Error: subject 'no.Such' not found" in result.output


def test_unreachable_registry_fails_cleanly():
    result = CliRunner().invoke(main, ["subjects", "--registry", "127.0.0.1:1"])
    assert result.exit_code == 1 and "unreachable" in result.output


def test_serve_requires_tokens_by_default_and_the_first_admin_token_comes_from_the_store(tmp_path):
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "meshgate"),
            "serve",
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "registry serving gRPC" in process.stdout.readline()
        ports = json.loads(process.stdout.readline())
        runner = CliRunner()
        target = f"127.0.0.1:{ports['grpc_port']}"
        refused = runner.invoke(main, ["subjects", "--registry", target])
        assert refused.exit_code == 1 and "no token" in refused.output
        created = runner.invoke(
            main, ["token", "create", "--name", "root", "--role", "admin", "--data-dir", str(tmp_path)]
        )
        assert created.exit_code == 0, created.output
        secret = created.stdout.strip().splitlines()[-1]
        assert secret.startswith("mgt_")
        listed = runner.invoke(main, ["subjects", "--registry", target, "--token", secret])
        assert listed.exit_code == 0, listed.output
        assert (tmp_path / "registry.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def test_serve_on_a_busy_port_names_it_and_exits_1(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flag in ("--grpc-port", "--http-port"):
            other = "--http-port" if flag == "--grpc-port" else "--grpc-port"
            result = CliRunner().invoke(
                main, ["serve", flag, str(port), other, "0", "--data-dir", str(tmp_path)]
            )
            assert result.exit_code == 1, result.output
            assert f"127.0.0.1:{port}" in result.output and "Traceback" not in result.output


def test_serve_with_an_unreachable_database_says_so(tmp_path):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/registry"
    result = CliRunner().invoke(
        main, ["serve", "--database-url", url, "--grpc-port", "0", "--http-port", "0"]
    )
    assert result.exit_code == 1 and "cannot open the registry store" in result.output


def test_mode_shows_sets_and_deletes_a_subjects_mode(run):
    subject = unique_subject()
    assert run("mode").output.strip() == "(global): READWRITE"
    assert run("mode", subject, "--set", "readonly").output.strip() == f"{subject}: READONLY"
    assert run("mode", subject).output.strip() == f"{subject}: READONLY"
    deleted = run("mode", subject, "--delete")
    assert deleted.output.strip() == f"{subject}: READONLY removed; READWRITE applies"
    missing = run("mode", subject, "--delete")
    assert missing.exit_code == 1 and "has no mode of its own" in missing.output
    assert run("mode", "--delete").exit_code == 2


def test_mode_import_over_existing_schemas_needs_force(run, tmp_path):
    subject = unique_subject()
    run("register", _contract(tmp_path, subject, V1))
    refused = run("mode", subject, "--set", "IMPORT")
    assert refused.exit_code == 1 and "force" in refused.output
    assert run("mode", subject, "--set", "IMPORT", "--force").output.strip() == f"{subject}: IMPORT"


def test_referenced_by_lists_the_importing_schema_ids(run, client):
    money, order = unique_subject(), unique_subject()
    client.register(money, MONEY_PROTO, format="PROTOBUF")
    importer = client.register(
        order, SHOP_ORDER_PROTO, format="PROTOBUF", references=[Reference("common/money.proto", money, 1)]
    )
    assert run("referenced-by", money).output.split() == [str(importer.schema_id)]
    assert run("referenced-by", order, "--version", "1").output == ""
    missing = run("referenced-by", money, "--version", "9")
    assert missing.exit_code == 1 and "version 9" in missing.output


def test_get_by_metadata_picks_the_newest_version_with_those_properties(run, client):
    subject = unique_subject()
    client.register(subject, V1, data_metadata={"properties": {"release": "1"}})
    client.register(subject, V2, data_metadata={"properties": {"release": "2"}})
    found = json.loads(run("get", subject, "--metadata", "release=1", "--json").output)
    assert found["version"] == 1
    assert json.loads(run("get", subject, "--metadata", "release=2", "--json").output)["version"] == 2
    missing = run("get", subject, "--metadata", "release=3")
    assert missing.exit_code == 1 and "release=3" in missing.output
    assert run("get", subject, "--metadata", "release").exit_code == 2
    assert run("get", subject, "--metadata", "release=1", "--version", "2").exit_code == 2
