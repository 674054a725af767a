"""A schema refused because of registered consumers says, as data, which consumers break, which of
their fields and why: over gRPC (the BrokenConsumers trailing metadata, the check response) and REST
(the 409 body, the compatibility answer), against a real server."""

from __future__ import annotations

import grpc
import httpx
import pytest

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.errors import IncompatibleSchema
from registry.grpc_errors import BROKEN_CONSUMERS_KEY
from tests.registry.registry_harness import V1, avro, unique_subject

WITHOUT_ID = avro({"amount": "double"})


@pytest.fixture
def subject(client):
    """A subject at level NONE with version 1 and two consumers: ``billing`` reads ``id``,
    ``totals`` reads ``amount``."""
    subject = unique_subject()
    client.set_config(subject, "NONE")
    client.register(subject, V1)
    client.register_consumer("billing", subject, version=1, fields=["id", "amount"])
    client.register_consumer("totals", subject, version=1, fields=["amount"])
    return subject


def test_a_refused_register_carries_the_broken_consumers_and_fields_over_grpc(client, subject):
    with pytest.raises(IncompatibleSchema) as refused:
        client.register(subject, WITHOUT_ID)
    (broken,) = refused.value.broken_consumers
    assert (broken.name, broken.fields) == ("billing", ("id",))
    assert [(v.rule, v.path) for v in broken.violations] == [("FIELD_MISSING_DEFAULT", "Event.id")]
    assert list(broken.violations) == refused.value.violations  # the same values as the flat list


def test_the_broken_consumers_travel_as_a_binary_proto_in_trailing_metadata(server, subject):
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Register(pb.RegisterRequest(subject=subject, format="AVRO", schema=WITHOUT_ID))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = pb.BrokenConsumers.FromString(dict(refused.value.trailing_metadata())[BROKEN_CONSUMERS_KEY])
    assert [(c.name, list(c.fields)) for c in details.consumers] == [("billing", ["id"])]
    assert details.consumers[0].violations[0].path == "Event.id"


def test_check_answers_the_broken_consumers_over_grpc(client, subject):
    result = client.check(subject, WITHOUT_ID)
    assert not result.compatible
    assert [(c.name, c.fields) for c in result.broken_consumers] == [("billing", ("id",))]
    assert result.broken_consumers[0].violations[0].path == "Event.id"


def test_a_consumer_without_fields_is_broken_with_no_fields_named(client, subject):
    client.register_consumer("audit", subject, version=1)
    verdict = {c.name: c.fields for c in client.check(subject, WITHOUT_ID).broken_consumers}
    assert verdict == {"audit": (), "billing": ("id",)}


def test_a_refused_register_carries_the_broken_consumers_in_the_rest_409_body(server, subject):
    with httpx.Client(base_url=server.http_url) as http:
        refused = http.post(f"/subjects/{subject}/versions", json={"schema": WITHOUT_ID})
        checked = http.post(f"/compatibility/subjects/{subject}/versions/latest", json={"schema": WITHOUT_ID})
    assert refused.status_code == 409
    body = refused.json()
    assert body["error_code"] == 409 and "billing" in body["message"]
    (broken,) = body["brokenConsumers"]
    assert (broken["name"], broken["fields"]) == ("billing", ["id"])
    assert [(v["rule"], v["path"]) for v in broken["violations"]] == [("FIELD_MISSING_DEFAULT", "Event.id")]
    assert broken["violations"] == [v for v in body["violations"] if v["path"] == "Event.id"]
    assert checked.json()["is_compatible"] is False
    assert checked.json()["brokenConsumers"] == body["brokenConsumers"]
