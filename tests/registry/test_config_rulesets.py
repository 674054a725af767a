"""Compatibility rule sets come from the format objects: a config naming a rule set the subject's
format lacks is refused (gRPC INVALID_ARGUMENT, REST 422 / 42203), against a real server."""

from __future__ import annotations

import grpc
import httpx
import pytest

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.compat import Level
from registry.errors import InvalidRuleset
from registry.model import SubjectConfig
from tests.registry.registry_harness import V1, V2, unique_subject

PROTO_V1 = 'syntax = "proto3";\npackage t;\nmessage Event {\n  string id = 1;\n  double amount = 2;\n}\n'


@pytest.fixture
def stub(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield pb_grpc.ContractRegistryStub(channel)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.http_url) as http:
        yield http


def test_set_config_refuses_a_protobuf_ruleset_on_an_avro_subject_over_grpc(client, stub):
    subject = unique_subject()
    client.register(subject, V1)
    with pytest.raises(grpc.RpcError) as refused:
        stub.SetConfig(pb.SetConfigRequest(subject=subject, level="BACKWARD", ruleset="WIRE"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    message = refused.value.details()
    assert "'WIRE'" in message and "AVRO has RESOLUTION, LOGICAL" in message
    with pytest.raises(InvalidRuleset, match="AVRO has RESOLUTION, LOGICAL"):
        client.set_config(subject, "BACKWARD", "WIRE")
    assert client.get_config(subject).inherited  # nothing was stored
    assert client.register(subject, V2).version == 2  # so registrations keep working


def test_set_config_accepts_the_subjects_own_rulesets(client):
    avro_subject, proto_subject = unique_subject(), unique_subject()
    client.register(avro_subject, V1)
    client.register(proto_subject, PROTO_V1, format="PROTOBUF")
    assert client.set_config(avro_subject, "BACKWARD", "RESOLUTION") == SubjectConfig(
        Level.BACKWARD, "RESOLUTION"
    )
    assert client.register(avro_subject, V2).version == 2
    assert client.set_config(proto_subject, "FULL", "WIRE_JSON").ruleset == "WIRE_JSON"
    with pytest.raises(InvalidRuleset, match="PROTOBUF has WIRE, WIRE_JSON"):
        client.set_config(proto_subject, "FULL", "LOGICAL")


def test_set_config_refuses_a_protobuf_ruleset_on_an_avro_subject_over_rest(client, http):
    subject = unique_subject()
    client.register(subject, V1)
    refused = http.put(
        f"/config/{subject}", json={"compatibility": "BACKWARD", "compatibilityRuleset": "WIRE"}
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["error_code"] == 42203
    assert "'WIRE'" in body["message"] and "AVRO has RESOLUTION, LOGICAL" in body["message"]
    assert http.get(f"/config/{subject}").json()["error_code"] == 40408  # nothing was stored
    accepted = http.put(
        f"/config/{subject}", json={"compatibility": "BACKWARD", "compatibilityRuleset": "LOGICAL"}
    )
    assert accepted.json() == {"compatibility": "BACKWARD", "compatibilityRuleset": "LOGICAL"}
    assert http.get(f"/config/{subject}").json() == {
        "compatibilityLevel": "BACKWARD",
        "compatibilityRuleset": "LOGICAL",
    }


def test_a_ruleset_no_format_has_is_refused_before_a_subject_has_versions(client, http):
    subject = unique_subject()
    with pytest.raises(InvalidRuleset, match="not a rule set of any format") as refused:
        client.set_config(subject, "BACKWARD", "LOOSE")
    assert "AVRO has RESOLUTION, LOGICAL" in refused.value.message
    assert "PROTOBUF has WIRE, WIRE_JSON" in refused.value.message
    rest = http.put("/config", json={"compatibility": "BACKWARD", "compatibilityRuleset": "LOOSE"})
    assert (rest.status_code, rest.json()["error_code"]) == (422, 42203)


def test_registering_under_a_ruleset_the_format_lacks_names_the_subjects_config(client, http):
    subject = unique_subject()
    client.set_config(subject, "BACKWARD", "WIRE")  # no versions yet: a rule set of some format
    with pytest.raises(InvalidRuleset) as refused:
        client.register(subject, V1)
    message = refused.value.message
    assert (
        "'WIRE'" in message
        and "the subject's own config" in message
        and "AVRO has RESOLUTION, LOGICAL" in message
    )
    rest = http.post(f"/subjects/{subject}/versions", json={"schema": V1})
    assert (rest.status_code, rest.json()["error_code"]) == (422, 42203)
    assert client.register(subject, PROTO_V1, format="PROTOBUF").version == 1  # Protobuf has WIRE


def test_registering_under_a_global_ruleset_the_format_lacks_names_the_global_config(client):
    subject = unique_subject()
    client.set_config(None, "BACKWARD", "WIRE")
    try:
        with pytest.raises(InvalidRuleset, match="inherited from the global config"):
            client.register(subject, V1)
        with pytest.raises(InvalidRuleset, match="inherited from the global config"):
            client.check(subject, V1)
    finally:
        client.set_config(None, "BACKWARD")
    assert client.register(subject, V1).version == 1
