"""The gate enforces the CEL rules a Confluent client registered with a schema (``CEL`` over the
record, ``CEL_FIELD`` over the fields of a metadata tag), refusing a batch and naming the rule, as
it does for its own quality rules."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from meshgate.cli import main
from tests.registry.registry_harness import running_server

SUBJECT = "shipping.ParcelSent"
PARCEL = json.dumps(
    {
        "type": "record",
        "name": "ParcelSent",
        "namespace": "shipping",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "weight", "type": "double"},
            {"name": "postcode", "type": "string"},
        ],
    }
)
RULES = {
    "domainRules": [
        {
            "name": "lightEnough",
            "kind": "CONDITION",
            "mode": "WRITE",
            "type": "CEL",
            "expr": "message.weight < 30.0",
        },
        {
            "name": "postcodeShape",
            "kind": "CONDITION",
            "mode": "WRITE",
            "type": "CEL_FIELD",
            "tags": ["POSTCODE"],
            "expr": "size(value) == 5",
        },
        {"name": "readOnly", "kind": "CONDITION", "mode": "READ", "type": "CEL", "expr": "false"},
    ]
}
GOOD = {"id": "p-1", "weight": 2.5, "postcode": "75011"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.db'}") as running:
        client = SchemaRegistryClient({"url": running.http_url})
        body = {"schema": PARCEL, "metadata": {"tags": {"postcode": ["POSTCODE"]}}, "ruleSet": RULES}
        client.register_schema(SUBJECT, Schema.from_dict(body))
        yield running


def ingest(server, tmp_path, records: list[dict]):
    data = tmp_path / "parcels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    env = {"MESHGATE_REGISTRY": server.grpc_target}
    args = ["ingest", str(data), "--subject", SUBJECT, "--data-dir", str(tmp_path / "lake")]
    return CliRunner().invoke(main, args, env=env)


def test_a_batch_keeping_every_write_rule_is_accepted(server, tmp_path):
    result = ingest(server, tmp_path, [GOOD])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "bad, rule",
    [({"weight": 31.0}, "lightEnough"), ({"postcode": "7501"}, "postcodeShape")],
    ids=["cel", "cel-field"],
)
def test_a_batch_breaking_a_registered_cel_rule_is_refused_naming_it(server, tmp_path, bad, rule):
    result = ingest(server, tmp_path, [GOOD, {**GOOD, **bad}])
    assert result.exit_code != 0
    assert rule in result.output
    assert "readOnly" not in result.output  # a READ rule is the consumers' to run
