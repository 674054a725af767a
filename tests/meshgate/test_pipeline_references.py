"""A contract that imports another subject's schema (billing.InvoiceIssued uses common.Money, which uses
common.Currency) gated by a real Dagster run of its Bronze asset: contracts from the YAML files, and
from a real registry server. The asset builds one ``IngestRequest`` like ``meshgate ingest`` does, so
the references' texts reach the gate either way.
"""

from __future__ import annotations

import json

import pytest
from dagster import DagsterInstance, materialize

from lakehouse.catalog import open_catalog
from lakehouse.naming import bronze_identifier
from meshgate.pipeline.bronze import GATE_CHECK, bronze_asset
from meshgate.pipeline.resources import LakehouseResource
from registry.contract import load_contract

CURRENCY = {"type": "enum", "name": "Currency", "namespace": "common", "symbols": ["USD", "EUR"]}
MONEY = {
    "type": "record",
    "name": "Money",
    "namespace": "common",
    "fields": [{"name": "amount", "type": "double"}, {"name": "currency", "type": "Currency"}],
}
INVOICE = {
    "type": "record",
    "name": "InvoiceIssued",
    "namespace": "billing",
    "fields": [{"name": "invoice_id", "type": "string"}, {"name": "total", "type": "common.Money"}],
}
INVOICES = [
    {"invoice_id": "i1", "total": {"amount": 12.5, "currency": "EUR"}},
    {"invoice_id": "i2", "total": {"amount": 3.0, "currency": "USD"}},
]
CONTRACTS = {  # file stem -> (subject, schema, references as (import name, subject))
    "currency": ("common.Currency", CURRENCY, []),
    "money": ("common.Money", MONEY, [("common.Currency", "common.Currency")]),
    "invoice": ("billing.InvoiceIssued", INVOICE, [("common.Money", "common.Money")]),
}


@pytest.fixture
def contracts_dir(tmp_path):
    folder = tmp_path / "contracts"
    folder.mkdir()
    for stem, (subject, schema, references) in CONTRACTS.items():
        (folder / f"{stem}.avsc").write_text(json.dumps(schema))
        lines = [f"subject: {subject}", "format: AVRO", f"schema: {stem}.avsc"]
        if references:
            lines.append("references:")
            lines += [f"  - {{name: {name!r}, subject: {ref}, version: 1}}" for name, ref in references]
        (folder / f"{stem}.yaml").write_text("\n".join(lines) + "\n")
    return folder


def run_invoice_asset(lakehouse: LakehouseResource, contracts_dir):
    """Land one invoice file and materialise its Bronze partition in an ephemeral Dagster instance."""
    invoice = load_contract(contracts_dir / "invoice.yaml")
    folder = lakehouse.landing_folder(invoice.subject)
    folder.mkdir(parents=True)
    (folder / "invoices-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in INVOICES))
    asset_def = bronze_asset(invoice)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(asset_def.partitions_def.name, ["invoices-1.jsonl"])
    result = materialize(
        [asset_def], partition_key="invoices-1.jsonl", resources={"lakehouse": lakehouse}, instance=instance
    )
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == GATE_CHECK]
    return result, check


def bronze_invoices(data_dir) -> list[dict]:
    table = open_catalog(data_dir).load_table(bronze_identifier("billing.InvoiceIssued")).scan().to_arrow()
    return sorted(table.select(["invoice_id", "total"]).to_pylist(), key=lambda r: r["invoice_id"])


def test_a_dagster_run_lands_a_contract_with_references_from_the_contract_files(contracts_dir, tmp_path):
    data_dir = tmp_path / "data"
    lakehouse = LakehouseResource(data_dir=str(data_dir), contracts_dir=str(contracts_dir))
    result, check = run_invoice_asset(lakehouse, contracts_dir)
    assert result.success and check.passed, check.metadata
    assert check.metadata["status"].value == "accepted"
    assert bronze_invoices(data_dir) == INVOICES


def test_a_dagster_run_lands_a_contract_with_references_from_the_registry(contracts_dir, tmp_path):
    from registry.client import RegistryClient
    from registry.server import RegistryServer, ThreadedServer

    server = ThreadedServer(RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1"))
    server.start()
    try:
        target = server.server.grpc_target
        with RegistryClient(target) as client:
            for stem in CONTRACTS:  # dependencies first
                client.register(load_contract(contracts_dir / f"{stem}.yaml"))
        data_dir = tmp_path / "data"
        lakehouse = LakehouseResource(
            data_dir=str(data_dir), contracts_dir=str(contracts_dir), registry=target
        )
        result, check = run_invoice_asset(lakehouse, contracts_dir)
    finally:
        server.stop()
    assert result.success and check.passed, check.metadata
    assert check.metadata["status"].value == "accepted"
    assert bronze_invoices(data_dir) == INVOICES
