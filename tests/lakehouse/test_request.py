"""``lakehouse.ingest(IngestRequest(...))``, the one entry point, and contract resolution in the library
(``resolve_contract`` from a YAML file or a real registry server, ``unregistered``)."""

from __future__ import annotations

import json

import pytest

import lakehouse
from lakehouse import IngestRequest, ingest, resolve_contract, unregistered
from lakehouse.catalog import open_catalog
from lakehouse.naming import bronze_identifier
from registry.contract import load_contract
from registry.errors import InvalidArgument

SUBJECT = "checkout.CheckoutCompleted"
RECORD = {"event_id": "e1", "order_id": "o1", "user_id": "u", "email": "a@b.io", "amount": 2.0,
          "currency": "USD", "completed_at": "2026-11-25T10:00:00Z", "items": []}  # fmt: skip


@pytest.fixture
def contract_file(examples_dir):
    return examples_dir / "contracts/checkout/checkout_completed.yaml"


@pytest.fixture
def batch(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps(RECORD) + "\n" + json.dumps({**RECORD, "event_id": "e2"}) + "\n")
    return path


def test_the_package_exports_the_entry_points_only():
    assert sorted(lakehouse.__all__) == sorted(
        ["IngestRequest", "IngestResult", "ResolvedContract", "ingest", "resolve_contract", "unregistered"]
    )


def test_ingest_gates_the_request_into_the_data_dirs_bronze_table(tmp_path, contract_file, batch):
    request = IngestRequest([batch], resolve_contract(SUBJECT, contract_file=contract_file),
                            batch_id="b-1", data_dir=tmp_path / "data")  # fmt: skip
    result = ingest(request)
    assert (result.status, result.batch_id, result.rows_accepted) == ("accepted", "b-1", 2)
    table = open_catalog(tmp_path / "data").load_table(bronze_identifier(SUBJECT))
    assert table.current_snapshot().summary["meshgate.batch-id"] == "b-1"
    assert ingest(request).status == "duplicate"


def test_a_contract_file_of_another_subject_is_refused(contract_file):
    with pytest.raises(
        InvalidArgument, match="is the contract of 'checkout.CheckoutCompleted', not of 'x.Y'"
    ):
        resolve_contract("x.Y", contract_file=contract_file)


def test_a_contract_is_resolved_from_a_file_or_a_registry_and_nothing_else():
    with pytest.raises(InvalidArgument, match="name a contract file or a registry"):
        resolve_contract(SUBJECT)


def test_an_unregistered_contract_has_id_and_version_zero_and_its_folders_references(tmp_path):
    (tmp_path / "money.avsc").write_text(
        json.dumps({"type": "fixed", "name": "Cents", "namespace": "common", "size": 8})
    )
    (tmp_path / "money.yaml").write_text("subject: common.Cents\nformat: AVRO\nschema: money.avsc\n")
    record = {
        "type": "record",
        "name": "Paid",
        "namespace": "shop",
        "fields": [{"name": "cents", "type": "common.Cents"}],
    }
    (tmp_path / "paid.avsc").write_text(json.dumps(record))
    (tmp_path / "paid.yaml").write_text(
        "subject: shop.Paid\nformat: AVRO\nschema: paid.avsc\n"
        "references:\n  - {name: common.Cents, subject: common.Cents, version: 1}\n"
    )  # fmt: skip
    resolved = unregistered(load_contract(tmp_path / "paid.yaml"))
    assert (resolved.subject, resolved.schema_id, resolved.version) == ("shop.Paid", 0, 0)
    assert list(resolved.references) == ["common.Cents"]


def test_a_registered_contract_carries_its_registry_identity(tmp_path, contract_file, batch):
    from registry.client import RegistryClient
    from registry.server import RegistryServer, ThreadedServer

    server = ThreadedServer(RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1"))
    server.start()
    try:
        target = server.server.grpc_target
        with RegistryClient(target) as client:
            registered = client.register(load_contract(contract_file))
        resolved = resolve_contract(SUBJECT, registry=target)
        result = ingest(IngestRequest([batch], resolved, data_dir=tmp_path / "data"))
    finally:
        server.stop()
    assert (resolved.schema_id, resolved.version) == (registered.schema_id, registered.version)
    assert result.status == "accepted"
    table = open_catalog(tmp_path / "data").load_table(bronze_identifier(SUBJECT))
    assert table.scan().to_arrow().column("_schema_id").to_pylist() == [registered.schema_id] * 2
