"""The gRPC side on the wire: status codes, error metadata, health, reflection, interceptors, limits."""

from __future__ import annotations

import asyncio
import json

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import AsyncRegistryClient, RegistryClient
from registry.errors import UNEXPECTED, IncompatibleSchema, SubjectNotFound, Unavailable, VersionNotFound
from registry.grpc_errors import ERROR_KEY
from tests.conftest import free_port
from tests.registry.registry_harness import (
    BACKENDS,
    BREAKING,
    V1,
    V2,
    database_url,
    running_server,
    unique_subject,
)


@pytest.fixture
def stub(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield pb_grpc.ContractRegistryStub(channel)


def _error_body(error: grpc.RpcError) -> dict:
    return json.loads(dict(error.trailing_metadata())[ERROR_KEY])


def test_rejected_register_is_failed_precondition_with_violations_in_trailing_metadata(stub):
    subject = unique_subject()
    stub.Register(pb.RegisterRequest(subject=subject, format="AVRO", schema=V1))
    with pytest.raises(grpc.RpcError) as failed:
        stub.Register(pb.RegisterRequest(subject=subject, format="AVRO", schema=BREAKING))
    error = failed.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "incompatible" in error.details() and "Event.amount" in error.details()
    body = _error_body(error)
    assert body["type"] == "IncompatibleSchema" and body["code"] == 409
    assert body["violations"][0]["path"] == "Event.amount" and body["violations"][0]["line"]


@pytest.mark.parametrize(
    ("request_message", "method", "code", "error_type"),
    [
        (
            pb.GetSchemaByVersionRequest(subject="no.Such"),
            "GetSchemaByVersion",
            "NOT_FOUND",
            "SubjectNotFound",
        ),
        (pb.GetSchemaByIdRequest(id=424242), "GetSchemaById", "NOT_FOUND", "SchemaNotFound"),
        (pb.GetSchemaByIdRequest(id=-1), "GetSchemaById", "INVALID_ARGUMENT", "InvalidArgument"),
        (pb.RegisterRequest(subject="a.B", schema="{"), "Register", "INVALID_ARGUMENT", "InvalidSchema"),
        (
            pb.SetConfigRequest(level="SOMETIMES"),
            "SetConfig",
            "INVALID_ARGUMENT",
            "InvalidCompatibilityLevel",
        ),
        (
            pb.RemoveConsumerRequest(name="x", subject="a.B"),
            "RemoveConsumer",
            "NOT_FOUND",
            "ConsumerNotFound",
        ),
        (
            pb.RegisterRequest(subject="a.B", schema="x" * (1024 * 1024 + 1)),
            "Register",
            "RESOURCE_EXHAUSTED",
            "PayloadTooLarge",
        ),
    ],
)
def test_each_error_type_has_its_status_code(stub, request_message, method, code, error_type):
    with pytest.raises(grpc.RpcError) as failed:
        getattr(stub, method)(request_message)
    assert failed.value.code() is grpc.StatusCode[code]
    assert _error_body(failed.value)["type"] == error_type


def test_version_zero_is_the_latest(stub):
    subject = unique_subject()
    stub.Register(pb.RegisterRequest(subject=subject, schema=V1))
    latest = stub.GetSchemaByVersion(pb.GetSchemaByVersionRequest(subject=subject, version=0))
    assert (latest.version, latest.metadata.owner_domain) == (1, subject.split(".")[0])


@pytest.mark.unexpected_error_expected
def test_unexpected_failure_is_internal_without_details(
    server, stub, monkeypatch, no_unexpected_server_errors
):
    # Fault injection: no real input makes the service fail unexpectedly, so one method is replaced.
    def broken(prefix, include_deleted):
        raise RuntimeError("secret stack detail")

    monkeypatch.setattr(server.service, "list_subjects", broken)
    with pytest.raises(grpc.RpcError) as failed:
        stub.ListSubjects(pb.ListSubjectsRequest())
    assert failed.value.code() is grpc.StatusCode.INTERNAL
    assert failed.value.details() == "internal server error"
    assert "secret" not in str(failed.value.trailing_metadata())
    request_id = dict(failed.value.trailing_metadata())["meshgate-request-id"]
    logged = no_unexpected_server_errors.records
    assert [getattr(r, UNEXPECTED) for r in logged] == [request_id]
    assert request_id in logged[0].getMessage()


def test_health_checking_reports_serving(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "meshgate.registry.v1.ContractRegistry"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_registry_service(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(reflection.ServerReflectionInfo(iter([request])))
    names = {service.name for service in answer.list_services_response.service}
    assert "meshgate.registry.v1.ContractRegistry" in names


def test_grpc_requests_and_rejections_show_in_metrics(tmp_path):
    subject = unique_subject()
    with running_server(f"sqlite:///{tmp_path / 'r.db'}") as server:
        with RegistryClient(server.grpc_target) as client:
            client.register(subject, V1)
            with pytest.raises(IncompatibleSchema):
                client.register(subject, BREAKING)
        text = httpx.get(f"{server.http_url}/metrics").text
    assert 'meshgate_requests_total{method="Register",outcome="ok",transport="grpc"} 1.0' in text
    assert (
        'meshgate_requests_total{method="Register",outcome="IncompatibleSchema",transport="grpc"} 1.0' in text
    )
    assert f'meshgate_compatibility_rejections_total{{subject="{subject}"}} 1.0' in text


def test_reads_by_id_count_a_miss_then_hits_in_metrics(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", auth=False) as server:
        with RegistryClient(server.grpc_target) as client:
            schema_id = client.register(unique_subject(), V1).schema_id
        with grpc.insecure_channel(server.grpc_target) as channel:  # the SDK would answer from its own cache
            stub = pb_grpc.ContractRegistryStub(channel)
            for _ in range(3):
                stub.GetSchemaById(pb.GetSchemaByIdRequest(id=schema_id))
        text = httpx.get(f"{server.http_url}/metrics").text
    hits = 'meshgate_cache_lookups_total{method="GetSchemaById",result="hit",transport="grpc"}'
    misses = 'meshgate_cache_lookups_total{method="GetSchemaById",result="miss",transport="grpc"}'
    counts = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if "{" in line
    }
    assert counts.get(hits, 0) + counts.get(misses, 0) == 3
    assert counts.get(hits, 0) >= 2  # the first read may load it, the others are answered from the cache


class _RecordAuthorization(grpc.aio.ServerInterceptor):
    def __init__(self):
        self.seen: list[str] = []

    async def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata or ())
        self.seen.append(metadata.get("authorization", ""))
        return await continuation(handler_call_details)


def test_interceptors_run_and_see_the_client_token(tmp_path):
    interceptor = _RecordAuthorization()
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", interceptors=[interceptor]) as server:
        with RegistryClient(server.grpc_target, token="s3cret") as client:
            client.list_subjects()
    assert "Bearer s3cret" in interceptor.seen


def test_async_client_calls_and_errors(server):
    subject = unique_subject()

    async def scenario():
        async with AsyncRegistryClient(server.grpc_target) as client:
            registered = await client.register(subject, V1)
            assert (await client.get_by_id(registered.schema_id)).schema == V1
            assert (await client.latest(subject)).version == 1
            assert not (await client.check(subject, BREAKING)).compatible
            with pytest.raises(IncompatibleSchema):
                await client.register(subject, BREAKING)
            with pytest.raises(SubjectNotFound):
                await client.list_versions(unique_subject())

    asyncio.run(scenario())


def test_unreachable_registry_is_unavailable():
    with RegistryClient(f"127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(Unavailable, match="unreachable"):
            client.list_subjects()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replica_never_serves_a_latest_another_replica_replaced(backend, tmp_path):
    subject = unique_subject()
    with database_url(backend, tmp_path) as url, running_server(url) as a, running_server(url) as b:
        with RegistryClient(a.grpc_target) as replica_a, RegistryClient(b.grpc_target) as replica_b:
            replica_a.register(subject, V1)
            assert replica_a.latest(subject).version == 1  # cached by replica A from here on
            assert replica_a.get_version(subject, 1).version == 1
            replica_b.register(subject, V2)
            assert replica_a.latest(subject).version == 2
            replica_b.delete_version(subject, 1)
            with pytest.raises(VersionNotFound):
                replica_a.get_version(subject, 1)
