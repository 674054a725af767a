"""TLS end to end: every client (``meshgate`` commands, ``contract-check``, the gate, the Dagster
resource, the SDK) against a real ``meshgate serve`` process serving TLS, and mutual TLS.

The certificates are made by the ``pki`` fixture (conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.catalog import open_catalog
from lakehouse.naming import bronze_identifier
from meshgate.pipeline.resources import LakehouseResource
from registry.client import RegistryClient, TlsConfig
from registry.contract import load_contract
from registry.errors import ClientCertificateRequired, InvalidArgument, UntrustedServer
from tests.registry.registry_harness import meshgate_serve

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONTRACT = ROOT / "examples/contracts/checkout/checkout_completed.yaml"
SUBJECT = "checkout.CheckoutCompleted"
RECORD = {"event_id": "e1", "order_id": "o1", "user_id": "u", "email": "a@b.io", "amount": 2.0,
          "currency": "USD", "completed_at": "2026-11-25T10:00:00Z", "items": []}  # fmt: skip
CA_HINT = "pass --ca-cert FILE or set MESHGATE_CA_CERT"
CLIENT_HINT = "pass --client-cert FILE --client-key FILE"


@pytest.fixture(scope="module")
def tls_server(pki, tmp_path_factory):
    tls = ("--no-ui", "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    with meshgate_serve(tmp_path_factory.mktemp("tls"), *tls) as served:
        yield served.grpc_target


@pytest.fixture(scope="module")
def mtls_server(pki, tmp_path_factory):
    tls = ("--no-ui", "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    with meshgate_serve(tmp_path_factory.mktemp("mtls"), *tls, "--tls-client-ca", str(pki.ca)) as served:
        yield served.grpc_target


@pytest.fixture(autouse=True)
def _no_tls_environment(monkeypatch):
    for name in ("MESHGATE_CA_CERT", "MESHGATE_CLIENT_CERT", "MESHGATE_CLIENT_KEY", "MESHGATE_TLS"):
        monkeypatch.delenv(name, raising=False)


def _run(
    command: str, *args, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """A client command line as a user runs it: its own process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MESHGATE_")} | (env or {})
    return subprocess.run(
        [str(BIN / command), *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
    )


def test_meshgate_commands_talk_tls_with_ca_cert_or_its_environment_variable(tls_server, pki):
    registered = _run("meshgate", "register", CONTRACT, "--registry", tls_server, "--ca-cert", pki.ca)
    listed = _run(
        "meshgate", "subjects", env={"MESHGATE_REGISTRY": tls_server, "MESHGATE_CA_CERT": str(pki.ca)}
    )

    assert registered.returncode == 0, registered.stderr
    assert listed.returncode == 0, listed.stderr
    assert SUBJECT in listed.stdout.split()


def test_a_plaintext_client_of_a_tls_registry_is_told_to_pass_a_ca_certificate(tls_server):
    result = _run("meshgate", "subjects", "--registry", tls_server)

    assert result.returncode == 1
    assert f"registry at {tls_server} serves TLS; this client talks plaintext" in result.stderr
    assert CA_HINT in result.stderr
    assert "Socket closed" not in result.stderr and "Traceback" not in result.stderr


def test_a_certificate_the_system_trust_store_does_not_know_is_named(tls_server):
    result = _run("meshgate", "subjects", "--registry", tls_server, "--tls")

    assert result.returncode == 1
    assert "its TLS certificate is not trusted" in result.stderr and CA_HINT in result.stderr


def test_contract_check_publishes_over_tls_and_is_told_when_it_lacks_the_ca(tls_server, pki, tmp_path):
    repo = tmp_path / "repo"
    (repo / "contracts").mkdir(parents=True)
    for path in CONTRACT.parent.iterdir():
        (repo / "contracts" / path.name).write_bytes(path.read_bytes())
    (repo / "meshgate.yaml").write_text("default_branch: main\ncontracts:\n  - contracts/**/*.yaml\n")
    for args in (("init", "-q", "-b", "main"), ("add", "-A")):
        subprocess.run(["git", *args], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false",
         "commit", "-q", "-m", "contract"], cwd=repo, check=True,
    )  # fmt: skip

    refused = _run("contract-check", "publish", "--all", "--registry", tls_server, cwd=repo)
    published = _run(
        "contract-check", "publish", "--all", "--registry", tls_server, "--ca-cert", pki.ca, cwd=repo
    )

    assert refused.returncode == 3 and CA_HINT in refused.stderr, refused.stderr
    assert published.returncode == 0, published.stderr
    assert SUBJECT in published.stdout


def test_the_gate_reads_its_contract_over_tls(tls_server, pki, tmp_path):
    with RegistryClient(tls_server, ca_cert=pki.ca) as client:
        schema_id = client.register(load_contract(CONTRACT)).schema_id
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(RECORD) + "\n")
    data = ("--subject", SUBJECT, "--registry", tls_server, "--data-dir", tmp_path / "d")

    refused = _run("meshgate", "ingest", batch, *data)
    landed = _run("meshgate", "ingest", batch, *data, "--ca-cert", pki.ca)

    assert refused.returncode != 0 and CA_HINT in refused.stderr, refused.stderr
    assert landed.returncode == 0, landed.stderr
    table = open_catalog(tmp_path / "d").load_table(bronze_identifier(SUBJECT))
    assert table.current_snapshot().summary["meshgate.schema-id"] == str(schema_id)


def test_the_dagster_resource_reads_its_contract_over_tls(tls_server, pki, monkeypatch):
    with RegistryClient(tls_server, ca_cert=pki.ca) as client:
        client.register(load_contract(CONTRACT))
    monkeypatch.setenv("MESHGATE_REGISTRY", tls_server)
    monkeypatch.setenv("MESHGATE_CA_CERT", str(pki.ca))
    resource = LakehouseResource.from_env()

    resolved = resource.contract(load_contract(CONTRACT))

    assert resource.ca_cert == str(pki.ca)
    assert resolved.contract.subject == SUBJECT and resolved.schema_id > 0
    with pytest.raises(UntrustedServer, match="serves TLS"):
        LakehouseResource(registry=tls_server).contract(load_contract(CONTRACT))


def test_mutual_tls_accepts_a_client_certificate_of_the_trusted_ca(mtls_server, pki):
    with_cert = ("--ca-cert", pki.ca, "--client-cert", pki.client_cert, "--client-key", pki.client_key)

    registered = _run("meshgate", "register", CONTRACT, "--registry", mtls_server, *with_cert)
    listed = _run("meshgate", "subjects", "--registry", mtls_server, *with_cert)

    assert registered.returncode == 0, registered.stderr
    assert SUBJECT in listed.stdout.split()


def test_mutual_tls_refuses_a_client_without_a_certificate_or_with_a_stranger_one(mtls_server, pki):
    without = _run("meshgate", "subjects", "--registry", mtls_server, "--ca-cert", pki.ca)
    stranger = _run(
        "meshgate", "subjects", "--registry", mtls_server, "--ca-cert", pki.ca,
        "--client-cert", pki.stranger_cert, "--client-key", pki.stranger_key,
    )  # fmt: skip

    for result in (without, stranger):
        assert result.returncode == 1
        assert "requires a client certificate" in result.stderr and CLIENT_HINT in result.stderr, (
            result.stderr
        )
    tls = TlsConfig(str(pki.ca))
    with RegistryClient(mtls_server, tls=tls, timeout=5) as client, pytest.raises(ClientCertificateRequired):
        client.list_subjects()


def test_a_client_certificate_without_its_key_is_a_usage_error(tls_server, pki):
    result = _run(
        "meshgate",
        "subjects",
        "--registry",
        tls_server,
        "--ca-cert",
        pki.ca,
        "--client-cert",
        pki.client_cert,
    )

    assert result.returncode == 2 and "--client-cert and --client-key go together" in result.stderr
    with pytest.raises(InvalidArgument, match="client certificate and client key go together"):
        RegistryClient(tls_server, tls=TlsConfig(str(pki.ca), client_cert=str(pki.client_cert)))


def test_serve_refuses_client_certificates_without_tls(tmp_path, pki):
    result = _run("meshgate", "serve", "--no-auth", "--data-dir", tmp_path, "--tls-client-ca", pki.ca)

    assert result.returncode == 1 and "--tls-client-ca requires client certificates over TLS" in result.stderr


def test_the_async_client_diagnoses_a_tls_mismatch_off_its_event_loop(tls_server, monkeypatch):
    """The TLS probe blocks on a socket; under ``grpc.aio`` it runs in a worker thread, so the
    caller's event loop keeps serving its other tasks meanwhile."""
    import asyncio
    import threading

    import registry.client as client_module
    from registry.client import AsyncRegistryClient

    probed_on = []
    probe = client_module._tls_mismatch

    def recording(address, tls, timeout=2.0):
        probed_on.append(threading.current_thread())
        return probe(address, tls, timeout)

    monkeypatch.setattr(client_module, "_tls_mismatch", recording)

    async def subjects():
        async with AsyncRegistryClient(tls_server) as client:
            return await client.list_subjects()

    with pytest.raises(UntrustedServer, match="serves TLS; this client talks plaintext"):
        asyncio.run(subjects())
    assert probed_on and threading.main_thread() not in probed_on
