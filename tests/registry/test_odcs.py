"""ODCS v3 data contracts: ``meshgate export SUBJECT --format odcs`` and ``meshgate register`` of an
ODCS file round-trip a contract; what does not map is named in a warning; datacontract-cli (in its
own virtualenv, made by ``make install``) lints the export, and its ``test`` of a JSON Lines file
agrees with ``meshgate ingest`` of the same file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from meshgate.cli import main
from registry.client import RegistryClient
from registry.contract import ContractMetadata, QualityRule, Reference
from registry.odcs import from_odcs
from tests.conftest import ROOT
from tests.registry.registry_harness import running_server

DATACONTRACT = ROOT / ".venv-datacontract" / "bin" / "datacontract"
SUBJECT = "payments.PaymentCaptured"
PAYMENT = json.dumps(
    {
        "type": "record",
        "name": "PaymentCaptured",
        "namespace": "payments",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "amount", "type": "double"},
            {"name": "currency", "type": "string"},
            {"name": "email", "type": ["null", "string"], "default": None},
        ],
    }
)
CONTRACT = ContractMetadata(
    owner_domain="payments",
    description="Payments captured at checkout",
    primary_key=["id"],
    pii_fields=["email"],
    freshness_sla="1h",
    quality_rules=[
        QualityRule("amount", "min", value=0),
        QualityRule("amount", "max", value=1000),
        QualityRule("currency", "accepted_values", values=("EUR", "USD")),
        QualityRule("id", "regex", value="^pay-[0-9]+$"),
        QualityRule("id", "unique"),
        QualityRule("email", "not_null"),
    ],
    mask_pii_at="bronze",
)
# The same contract in the other formats: the export lists their fields from the neutral field tree.
REFUND_PROTO = """syntax = "proto3";
package payments;

message RefundIssued {
  string id = 1;
  double amount = 2;
  optional string email = 3;
  Card card = 4;
  repeated string tags = 5;

  message Card {
    string last4 = 1;
  }
}
"""
REFUND_JSON = json.dumps(
    {
        "title": "RefundIssued",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "amount": {"type": "number"},
            "email": {"type": ["string", "null"]},
            "card": {"type": "object", "properties": {"last4": {"type": "string"}}, "required": ["last4"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["id", "amount", "card"],
    }
)
REFUND = ContractMetadata(
    owner_domain="payments",
    primary_key=["id"],
    pii_fields=["email", "card.last4"],
    quality_rules=[
        QualityRule("amount", "min", value=0),
        QualityRule("card.last4", "regex", value="^[0-9]{4}$"),
        QualityRule("email", "not_null"),
        QualityRule("id", "unique"),
    ],
)
OTHER_FORMATS = {
    "PROTOBUF": ("payments.RefundIssuedProto", REFUND_PROTO),
    "JSON": ("payments.RefundIssuedJson", REFUND_JSON),
}
# Logical types: ODCS 3.1's date, timestamp and time, and a decimal's precision in its physicalType.
SETTLED = json.dumps(
    {
        "type": "record",
        "name": "Settled",
        "fields": [
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "cutoff", "type": {"type": "int", "logicalType": "time-millis"}},
            {
                "name": "total",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
            },
        ],
    }
)
GOOD = [
    {"id": "pay-1", "amount": 12.5, "currency": "EUR", "email": "a@example.com"},
    {"id": "pay-2", "amount": 1000.0, "currency": "USD", "email": "b@example.com"},
]
BAD = {
    "below-min": {"amount": -1.0},
    "above-max": {"amount": 1000.5},
    "not-accepted": {"currency": "GBP"},
    "regex": {"id": "order-2"},
    "not-null": {"email": None},
    "duplicate": {"id": "pay-1"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.db'}") as running:
        with RegistryClient(running.grpc_target) as client:
            client.register(SUBJECT, PAYMENT, metadata=CONTRACT)
            for schema_format, (subject, schema) in OTHER_FORMATS.items():
                client.register(subject, schema, format=schema_format, metadata=REFUND)
            client.register("payments.Settled", SETTLED)
        yield running


def meshgate(server, *args: str):
    env = {"MESHGATE_REGISTRY": server.grpc_target, "MESHGATE_PII_KEY": "test-secret"}  # PII masked at bronze
    return CliRunner().invoke(main, list(args), env=env)


def exported(server, tmp_path: Path, subject: str = SUBJECT) -> Path:
    path = tmp_path / f"{subject}.odcs.yaml"
    result = meshgate(server, "export", subject, "--format", "odcs", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == "", result.stderr  # everything of these contracts maps
    return path


def rules(meta: ContractMetadata) -> set:
    return set(meta.quality_rules)


def test_export_then_import_gives_back_the_same_contract(server, tmp_path):
    document = yaml.safe_load(exported(server, tmp_path).read_text())
    assert (document["apiVersion"], document["kind"], document["id"]) == ("v3.1.0", "DataContract", SUBJECT)
    contract, warnings = from_odcs(document)
    assert warnings == []
    assert (contract.subject, contract.format, contract.schema) == (SUBJECT, "AVRO", PAYMENT)
    assert rules(contract.metadata) == rules(CONTRACT)
    assert {**contract.metadata.to_dict(), "quality_rules": []} == {**CONTRACT.to_dict(), "quality_rules": []}


@pytest.mark.parametrize("schema_format", list(OTHER_FORMATS))
def test_protobuf_and_json_schema_contracts_round_trip_through_their_neutral_fields(
    server, tmp_path, schema_format
):
    subject, schema = OTHER_FORMATS[schema_format]
    document = yaml.safe_load(exported(server, tmp_path, subject).read_text())
    properties = {p["name"]: p for p in document["schema"][0]["properties"]}
    assert list(properties) == ["id", "amount", "email", "card", "tags"]
    assert [properties[n]["logicalType"] for n in properties] == [
        "string",
        "number",
        "string",
        "object",
        "array",
    ]
    assert properties["id"]["primaryKey"] and properties["id"]["unique"]
    assert properties["email"]["classification"] == "pii" and properties["email"]["required"]  # not_null
    card = properties["card"]["properties"][0]
    assert (card["name"], card["classification"]) == ("last4", "pii")
    assert card["logicalTypeOptions"] == {"pattern": "^[0-9]{4}$"}
    contract, warnings = from_odcs(document)
    assert warnings == []
    assert (contract.subject, contract.format, contract.schema) == (subject, schema_format, schema)
    assert rules(contract.metadata) == rules(REFUND)
    assert {**contract.metadata.to_dict(), "quality_rules": []} == {**REFUND.to_dict(), "quality_rules": []}


def test_logical_types_export_as_odcs_logical_types(server, tmp_path):
    document = yaml.safe_load(exported(server, tmp_path, "payments.Settled").read_text())
    types = {p["name"]: (p["logicalType"], p["physicalType"]) for p in document["schema"][0]["properties"]}
    assert types == {
        "day": ("date", "date"),
        "at": ("timestamp", "timestamp"),
        "cutoff": ("time", "time"),
        "total": ("number", "decimal(10,2)"),
    }


def test_a_field_without_an_odcs_type_is_named_in_a_warning(server, tmp_path):
    union = {"name": "amount", "type": ["null", "string", "double"], "default": None}
    schema = json.dumps(
        {"type": "record", "name": "Fee", "fields": [{"name": "id", "type": "string"}, union]}
    )
    with RegistryClient(server.grpc_target) as client:
        client.register("payments.Fee", schema)
    result = meshgate(server, "export", "payments.Fee", "--format", "odcs")
    assert result.exit_code == 0, result.output
    assert "amount: a union value has no ODCS logical type; exported as logicalType string" in result.stderr
    amount = yaml.safe_load(result.stdout)["schema"][0]["properties"][1]
    assert (amount["logicalType"], amount["physicalType"]) == ("string", "union")


def test_a_schema_that_imports_others_names_its_unlisted_fields(server, tmp_path):
    money = 'syntax = "proto3";\npackage common;\n\nmessage Money {\n  int64 cents = 1;\n}\n'
    order = (
        'syntax = "proto3";\npackage shop;\nimport "common/money.proto";\n\n'
        "message Order {\n  string id = 1;\n  common.Money total = 2;\n}\n"
    )
    with RegistryClient(server.grpc_target) as client:
        client.register("common.Money", money, format="PROTOBUF")
        client.register(
            "shop.Order",
            order,
            format="PROTOBUF",
            references=[Reference("common/money.proto", "common.Money", 1)],
        )
    result = meshgate(server, "export", "shop.Order", "--format", "odcs")
    assert result.exit_code == 0, result.output
    assert "the fields of this PROTOBUF schema are not listed" in result.stderr
    assert "references (common.Money version 1): ODCS has no schema references" in result.stderr


def test_registering_the_export_is_the_same_version(server, tmp_path):
    path = exported(server, tmp_path)
    result = meshgate(server, "register", str(path))
    assert result.exit_code == 0, result.output
    assert f"{SUBJECT}: version 1" in result.output


def test_an_odcs_file_of_another_tool_registers_with_its_unmapped_parts_named(server, tmp_path):
    document = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "shipping.ParcelSent",
        "name": "parcels",
        "version": "1.0.0",
        "status": "active",
        "domain": "shipping",
        "team": [{"username": "ops"}],
        "schema": [
            {
                "name": "parcels",
                "properties": [
                    {"name": "parcel_id", "logicalType": "string", "required": True, "unique": True},
                    {"name": "weight", "logicalType": "number", "logicalTypeOptions": {"minimum": 0}},
                    {"name": "note", "logicalType": "string", "examples": ["fragile"]},
                    {
                        "name": "carrier",
                        "logicalType": "string",
                        "quality": [{"type": "sql", "query": "SELECT 1"}],
                    },
                ],
            }
        ],
        "slaProperties": [{"property": "retention", "value": 3, "unit": "y"}],
    }
    path = tmp_path / "parcels.odcs.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["register", str(path)], env={"MESHGATE_REGISTRY": server.grpc_target})
    assert result.exit_code == 0, result.output + result.stderr
    for unmapped in ("team", "note.examples", "carrier.quality[0]", "retention"):
        assert unmapped in result.stderr
    with RegistryClient(server.grpc_target) as client:
        found = client.latest("shipping.ParcelSent")
    fields = {f["name"]: f["type"] for f in json.loads(found.schema)["fields"]}
    assert fields == {
        "parcel_id": "string",
        "weight": ["null", "double"],
        "note": ["null", "string"],
        "carrier": ["null", "string"],
    }
    assert set(found.metadata.quality_rules) == {
        QualityRule("parcel_id", "unique"),
        QualityRule("weight", "min", value=0),
    }


def test_export_names_what_odcs_cannot_carry(server, tmp_path):
    with RegistryClient(server.grpc_target) as client:
        client.register(
            "payments.Refund",
            json.dumps({"type": "record", "name": "Refund", "fields": [{"name": "id", "type": "string"}]}),
            metadata=ContractMetadata(quality_rules=[QualityRule("missing", "not_null")]),
        )
    result = CliRunner().invoke(
        main, ["export", "payments.Refund", "--format", "odcs"], env={"MESHGATE_REGISTRY": server.grpc_target}
    )
    assert result.exit_code == 0
    assert "quality rule not_null on missing: no field missing in the schema" in result.stderr
    assert yaml.safe_load(result.stdout)["id"] == "payments.Refund"


needs_datacontract = pytest.mark.skipif(
    not DATACONTRACT.exists(), reason="datacontract-cli's virtualenv is made by make install"
)


def datacontract(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DATACONTRACT), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@needs_datacontract
@pytest.mark.parametrize(
    "subject", [SUBJECT, "payments.Settled", *(subject for subject, _ in OTHER_FORMATS.values())]
)
def test_datacontract_lint_accepts_the_export(server, tmp_path, subject):
    linted = datacontract("lint", str(exported(server, tmp_path, subject)), cwd=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "valid" in linted.stdout


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def both_verdicts(server, tmp_path: Path, records: list[dict]) -> tuple[bool, bool]:
    """(datacontract test passed, meshgate ingest accepted) for one JSON Lines file."""
    data = write_jsonl(tmp_path / "payments.jsonl", records)
    document = yaml.safe_load(exported(server, tmp_path).read_text())
    document["servers"] = [
        {"server": "local", "type": "local", "path": str(data), "format": "json", "delimiter": "new_line"}
    ]
    contract = tmp_path / "with-server.odcs.yaml"
    contract.write_text(yaml.safe_dump(document, sort_keys=False))
    tested = datacontract("test", str(contract), cwd=tmp_path)
    assert "not installed" not in tested.stdout, tested.stdout
    ingested = meshgate(
        server, "ingest", str(data), "--subject", SUBJECT, "--data-dir", str(tmp_path / "lake")
    )
    return tested.returncode == 0, ingested.exit_code == 0


@needs_datacontract
def test_datacontract_test_and_meshgate_ingest_both_accept_a_good_file(server, tmp_path):
    assert both_verdicts(server, tmp_path, GOOD) == (True, True)


@needs_datacontract
@pytest.mark.parametrize("broken", list(BAD))
def test_datacontract_test_and_meshgate_ingest_both_refuse_a_bad_file(server, tmp_path, broken):
    records = [GOOD[0], {**GOOD[1], **BAD[broken]}]
    assert both_verdicts(server, tmp_path, records) == (False, False)
