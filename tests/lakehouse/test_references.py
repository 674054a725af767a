"""Contracts that import other subjects' schemas, ingested end to end through ``meshgate ingest``.

Avro: billing.InvoiceIssued uses the record common.Money, which uses the enum common.Currency (a
reference of a reference). Protobuf: billing.PaymentTaken imports ``common/money.proto`` of subject
common.ProtoMoney. Contracts come from a real registry server or from contract YAMLs in one folder.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from click.testing import CliRunner

from lakehouse.catalog import open_catalog
from lakehouse.naming import bronze_identifier
from lakehouse.references import file_references, registry_references
from lakehouse.schema_mapping import message_class, parsed_schema
from meshgate.cli import main
from registry.contract import Reference, load_contract
from registry.errors import InvalidArgument

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
MONEY_PROTO = (
    'syntax = "proto3";\npackage common;\nmessage Money { double amount = 1; string currency = 2; }\n'
)
PAYMENT_PROTO = (
    'syntax = "proto3";\npackage billing;\nimport "common/money.proto";\n'
    "message PaymentTaken { string payment_id = 1; common.Money amount = 2; }\n"
)
INVOICE_SUBJECT, PAYMENT_SUBJECT = "billing.InvoiceIssued", "billing.PaymentTaken"
INVOICES = [
    {"invoice_id": "i1", "total": {"amount": 12.5, "currency": "EUR"}},
    {"invoice_id": "i2", "total": {"amount": 3.0, "currency": "USD"}},
]
PAYMENTS = [
    {"payment_id": "p1", "amount": {"amount": 9.5, "currency": "EUR"}},
    {"payment_id": "p2", "amount": {"amount": 1.25, "currency": "USD"}},
]


def _contract(folder: Path, stem: str, subject: str, fmt: str, schema_name: str, schema: str, refs=()):
    (folder / schema_name).parent.mkdir(parents=True, exist_ok=True)
    (folder / schema_name).write_text(schema)
    lines = [f"subject: {subject}", f"format: {fmt}", f"schema: {schema_name}"]
    if refs:
        lines.append("references:")
        lines += [f"  - {{name: {name!r}, subject: {ref_subject}, version: 1}}" for name, ref_subject in refs]
    path = folder / f"{stem}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def contracts(tmp_path) -> Path:
    """The five contract YAMLs in one folder, dependencies named by subject."""
    folder = tmp_path / "contracts"
    folder.mkdir()
    _contract(folder, "currency", "common.Currency", "AVRO", "currency.avsc", json.dumps(CURRENCY))
    _contract(
        folder,
        "money",
        "common.Money",
        "AVRO",
        "money.avsc",
        json.dumps(MONEY),
        [("common.Currency", "common.Currency")],
    )
    _contract(
        folder, "invoice", INVOICE_SUBJECT, "AVRO", "invoice.avsc", json.dumps(INVOICE), [("common.Money", "common.Money")]
    )  # fmt: skip
    _contract(folder, "proto_money", "common.ProtoMoney", "PROTOBUF", "common/money.proto", MONEY_PROTO)
    _contract(
        folder, "payment", PAYMENT_SUBJECT, "PROTOBUF", "payment.proto", PAYMENT_PROTO,
        [("common/money.proto", "common.ProtoMoney")],
    )  # fmt: skip
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write_inputs(folder: Path, tmp_path: Path) -> dict[str, Path]:
    """The invoices as JSON Lines and as an Avro container file, the payments as length-delimited Protobuf."""
    invoice = load_contract(folder / "invoice.yaml")
    payment = load_contract(folder / "payment.yaml")
    jsonl = tmp_path / "invoices.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in INVOICES))
    avro = tmp_path / "invoices.avro"
    with avro.open("wb") as out:
        fastavro.writer(out, parsed_schema(invoice, file_references(invoice)), INVOICES)
    cls = message_class(payment, references=file_references(payment))
    pb = tmp_path / "payments.pb"
    with pb.open("wb") as out:
        for record in PAYMENTS:
            data = cls(payment_id=record["payment_id"], amount=record["amount"]).SerializeToString()
            out.write(_varint(len(data)) + data)
    return {"jsonl": jsonl, "avro": avro, "pb": pb}


def write_confluent(folder: Path, tmp_path: Path, schema_id: int) -> Path:
    """The invoices as Confluent wire-format records (4-byte length, magic 0, schema id, Avro body)."""
    invoice = load_contract(folder / "invoice.yaml")
    schema = parsed_schema(invoice, file_references(invoice))
    path = tmp_path / "invoices.confluent"
    with path.open("wb") as out:
        for record in INVOICES:
            body = io.BytesIO()
            fastavro.schemaless_writer(body, schema, record)
            frame = b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()
            out.write(len(frame).to_bytes(4, "big") + frame)
    return path


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def bronze_rows(data_dir: Path, subject: str, column: str, key: str) -> list:
    table = open_catalog(data_dir).load_table(bronze_identifier(subject)).scan().to_arrow()
    return sorted(table.select([key, column]).to_pylist(), key=lambda r: r[key])


def test_file_references_follow_references_of_references_dependencies_first(contracts):
    texts = file_references(load_contract(contracts / "invoice.yaml"))
    assert list(texts) == ["common.Currency", "common.Money"]
    assert json.loads(texts["common.Money"]) == MONEY


def test_yaml_contracts_with_references_ingest_offline(contracts, tmp_path):
    inputs = write_inputs(contracts, tmp_path)
    data = tmp_path / "d"
    ingest = ["--data-dir", data, "--contract"]
    from_jsonl = run(
        "ingest", inputs["jsonl"], "--subject", INVOICE_SUBJECT, *ingest, contracts / "invoice.yaml"
    )
    from_avro = run(
        "ingest", inputs["avro"], "--subject", INVOICE_SUBJECT, *ingest, contracts / "invoice.yaml"
    )
    from_pb = run("ingest", inputs["pb"], "--subject", PAYMENT_SUBJECT, *ingest, contracts / "payment.yaml")
    for result in (from_jsonl, from_avro, from_pb):
        assert result.exit_code == 0, result.output
        assert "ACCEPTED" in result.output
    expected_invoices = sorted(INVOICES * 2, key=lambda r: r["invoice_id"])
    assert bronze_rows(data, INVOICE_SUBJECT, "total", "invoice_id") == expected_invoices
    assert bronze_rows(data, PAYMENT_SUBJECT, "amount", "payment_id") == PAYMENTS


def test_registered_contracts_with_references_ingest_through_the_registry(contracts, tmp_path):
    from registry.client import RegistryClient
    from registry.server import RegistryServer, ThreadedServer

    inputs = write_inputs(contracts, tmp_path)
    server = ThreadedServer(RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1"))
    server.start()
    try:
        target = server.server.grpc_target
        with RegistryClient(target) as client:
            ids = {
                stem: client.register(load_contract(contracts / f"{stem}.yaml")).schema_id
                for stem in ("currency", "money", "invoice", "proto_money", "payment")
            }
            with pytest.raises(InvalidArgument, match=r"reference 'x' \(subject 'nobody.Here' version 1\)"):
                registry_references(client, [Reference("x", "nobody.Here", 1)], "billing.Refund")
        confluent = write_confluent(contracts, tmp_path, ids["invoice"])
        data = tmp_path / "d"
        options = ["--registry", target, "--data-dir", data]
        results = [
            run("ingest", inputs["jsonl"], "--subject", INVOICE_SUBJECT, *options),
            run("ingest", inputs["avro"], "--subject", INVOICE_SUBJECT, *options),
            run("ingest", confluent, "--subject", INVOICE_SUBJECT, *options),
            run("ingest", inputs["pb"], "--subject", PAYMENT_SUBJECT, *options),
        ]
    finally:
        server.stop()
    for result in results:
        assert result.exit_code == 0, result.output
        assert "ACCEPTED" in result.output
    assert bronze_rows(data, INVOICE_SUBJECT, "total", "invoice_id") == sorted(
        INVOICES * 3, key=lambda r: r["invoice_id"]
    )
    assert bronze_rows(data, PAYMENT_SUBJECT, "amount", "payment_id") == PAYMENTS


def test_an_invalid_enum_symbol_from_a_referenced_type_is_a_violation(contracts, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"invoice_id": "i9", "total": {"amount": 1.0, "currency": "GBP"}}) + "\n")
    result = run(
        "ingest", bad, "--subject", INVOICE_SUBJECT, "--data-dir", tmp_path / "d", "--contract", contracts / "invoice.yaml"
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "total.currency" in result.output and "GBP" in result.output


@pytest.mark.parametrize("removed", ["money.yaml", "currency.yaml"])
def test_a_missing_reference_fails_before_anything_is_written(contracts, tmp_path, removed):
    inputs = write_inputs(contracts, tmp_path)
    (contracts / removed).unlink()
    data = tmp_path / "d"
    result = run(
        "ingest", inputs["jsonl"], "--subject", INVOICE_SUBJECT, "--data-dir", data, "--contract", contracts / "invoice.yaml"
    )  # fmt: skip
    assert result.exit_code == 2
    subject = removed.removesuffix(".yaml").capitalize()
    assert f"reference 'common.{subject}'" in result.output
    assert f"no contract YAML with subject 'common.{subject}'" in result.output
    assert not (data / "catalog.db").exists()


def test_the_gate_refuses_a_contract_whose_reference_texts_are_not_given(contracts, tmp_path, sqlite_catalog):
    from lakehouse.gate import ingest

    inputs = write_inputs(contracts, tmp_path)
    with pytest.raises(
        InvalidArgument, match=r"reference 'common/money.proto' \(subject 'common.ProtoMoney'"
    ):
        ingest(
            [inputs["pb"]],
            load_contract(contracts / "payment.yaml"),
            sqlite_catalog,
            schema_id=0,
            schema_version=0,
        )
    assert sqlite_catalog.list_tables("bronze") == []


def test_a_confluent_writer_importing_what_the_contract_does_not_is_an_invalid_batch(contracts, tmp_path):
    """The schema lookup is a plain function here: the refusal happens before any registry would matter."""
    from lakehouse.decode import read_batch
    from lakehouse.errors import InvalidBatch

    invoice = load_contract(contracts / "invoice.yaml")
    writer = load_contract(contracts / "invoice.yaml")
    writer.references = [*writer.references, Reference("common.Tax", "common.Tax", 1)]
    path = write_confluent(contracts, tmp_path, 5)
    chunks = read_batch(
        [path], invoice, schema_lookup=lambda schema_id: writer, references=file_references(invoice)
    )
    with pytest.raises(InvalidBatch, match=r"schema id 5 imports 'common.Tax', which the contract does not"):
        list(chunks)


def test_a_recursive_named_type_has_no_arrow_mapping():
    from lakehouse.schema_mapping import arrow_schema
    from registry.contract import Contract
    from registry.errors import InvalidSchema

    node = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}
    contract = Contract(subject="graph.Walked", format="AVRO", schema=json.dumps(node))
    with pytest.raises(InvalidSchema, match=r"Node\.next: recursive Avro type 'Node' has no Arrow mapping"):
        arrow_schema(contract)
