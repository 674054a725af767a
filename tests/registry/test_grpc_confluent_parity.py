"""The gRPC calls that match the Confluent REST endpoints added for migrating users: referencedby,
DELETE /mode/{subject}, schemas by GUID, the versions of a schema id, IMPORT mode with the caller's
ids and ``force`` on mode changes; each through the SDK on a real server, each error path with its
status code and Confluent's error code in ``meshgate-error-bin``, and all of them listed by
``grpc.reflection.v1``."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import AsyncRegistryClient
from registry.contract import Reference
from registry.errors import (
    IdDoesNotMatch,
    InvalidArgument,
    OperationNotPermitted,
    SchemaNotFound,
    SubjectModeNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from registry.grpc_errors import ERROR_KEY
from registry.model import DataContractConfig
from tests.conftest import ROOT
from tests.registry.http_schemas import MONEY_PROTO, SHOP_ORDER_PROTO
from tests.registry.registry_harness import BREAKING, V1, V2, avro, unique_subject
from tests.registry.test_grpc_reflection import REGISTRY, ToReflectionV1

NEW_RPCS = {"GetSchemaByGuid", "ListSchemaVersions", "GetReferencedBy", "DeleteMode"}


@pytest.fixture
def stub(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield pb_grpc.ContractRegistryStub(channel)


def own_schemas(subject: str) -> tuple[str, str]:
    """A v1 and a compatible v2 no other test registers (ids are global: an import needs fresh ones)."""
    name = subject.partition(".")[0]
    return avro({"id": "string"}, name=name), avro(
        {"id": "string", "note": ["null", "string"]}, name=name, defaults={"note": None}
    )


def refused(call, request) -> tuple[grpc.StatusCode, str, int]:
    """The status code, error type and Confluent error code of a refused call."""
    with pytest.raises(grpc.RpcError) as failed:
        call(request)
    body = json.loads(dict(failed.value.trailing_metadata())[ERROR_KEY])
    return failed.value.code(), body["type"], body["code"]


def test_referenced_by_lists_the_ids_of_the_schemas_that_import_a_version(client):
    money, order = unique_subject(), unique_subject()
    client.register(money, MONEY_PROTO, format="PROTOBUF")
    importer = client.register(
        order, SHOP_ORDER_PROTO, format="PROTOBUF", references=[Reference("common/money.proto", money, 1)]
    )
    assert client.referenced_by(money, 1) == [importer.schema_id]
    assert client.referenced_by(money) == [importer.schema_id]  # latest
    assert client.referenced_by(order, 1) == []
    with pytest.raises(VersionNotFound):
        client.referenced_by(money, 7)
    with pytest.raises(SubjectNotFound):
        client.referenced_by(unique_subject(), 1)


def test_referenced_by_errors_carry_confluents_codes(stub):
    subject = unique_subject()
    stub.Register(pb.RegisterRequest(subject=subject, schema=V1))
    missing_version = pb.GetReferencedByRequest(subject=subject, version=7)
    assert refused(stub.GetReferencedBy, missing_version) == (
        grpc.StatusCode.NOT_FOUND,
        "VersionNotFound",
        40402,
    )
    missing_subject = pb.GetReferencedByRequest(subject=unique_subject(), version=1)
    assert refused(stub.GetReferencedBy, missing_subject) == (
        grpc.StatusCode.NOT_FOUND,
        "SubjectNotFound",
        40401,
    )


def test_delete_mode_removes_the_subjects_own_mode_and_answers_it(client, stub):
    subject = unique_subject()
    client.register(subject, V1)
    client.set_mode(subject, "READONLY")
    assert client.delete_mode(subject) == "READONLY"
    assert client.get_mode(subject) == "READWRITE"  # the global mode again
    assert client.register(subject, V2).version == 2
    with pytest.raises(SubjectModeNotFound):
        client.delete_mode(subject)
    assert refused(stub.DeleteMode, pb.DeleteModeRequest(subject=subject)) == (
        grpc.StatusCode.NOT_FOUND,
        "SubjectModeNotFound",
        40409,
    )


def test_delete_mode_needs_a_subject_the_global_mode_is_only_set(stub):
    code, error_type, _ = refused(stub.DeleteMode, pb.DeleteModeRequest())
    assert (code, error_type) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument")


def test_every_schema_has_a_guid_that_finds_it(client, stub):
    registered = client.register(unique_subject(), V1)
    assert len(registered.guid) == 36
    assert client.get_by_id(registered.schema_id).guid == registered.guid
    found = client.get_by_guid(registered.guid)
    assert (found.id, found.schema, found.guid) == (registered.schema_id, registered.schema, registered.guid)
    unknown = pb.GetSchemaByGuidRequest(guid="00000000-0000-0000-0000-000000000000")
    assert refused(stub.GetSchemaByGuid, unknown) == (grpc.StatusCode.NOT_FOUND, "SchemaNotFound", 40403)
    with pytest.raises(InvalidArgument, match="guid: required"):
        client.get_by_guid("")


def test_versions_for_id_lists_every_subject_version_holding_the_schema(client, stub):
    first, second = unique_subject(), unique_subject()
    schema, _ = own_schemas(first)  # held by these two subjects only
    schema_id = client.register(first, schema).schema_id
    client.register(second, schema)
    assert sorted(client.versions_for_id(schema_id)) == sorted([(first, 1), (second, 1)])
    assert client.versions_for_id(schema_id, subject=second) == [(second, 1)]
    missing = pb.ListSchemaVersionsRequest(id=424_242)
    assert refused(stub.ListSchemaVersions, missing) == (grpc.StatusCode.NOT_FOUND, "SchemaNotFound", 40403)
    with pytest.raises(SchemaNotFound):
        client.versions_for_id(424_242)


def test_import_mode_keeps_the_given_id_and_version(client):
    subject = unique_subject()
    v1, v2 = own_schemas(subject)
    assert client.set_mode(subject, "IMPORT") == "IMPORT"
    imported = client.register(subject, v1, schema_id=700_001, version=3)
    assert (imported.schema_id, imported.version) == (700_001, 3)
    assert client.get_version(subject, 3).schema_id == 700_001
    # Back in READWRITE, new versions follow the imported one under new ids.
    client.set_mode(subject, "READWRITE")
    following = client.register(subject, v2)
    assert following.version == 4 and following.schema_id != 700_001


def test_import_mode_refusals_carry_confluents_codes(client, stub):
    subject = unique_subject()
    v1, v2 = own_schemas(subject)
    client.set_mode(subject, "IMPORT")
    client.register(subject, v1, schema_id=700_101, version=1)
    without_id = pb.RegisterRequest(subject=subject, schema=v2)
    assert refused(stub.Register, without_id) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "OperationNotPermitted",
        42205,
    )
    clash = pb.RegisterRequest(subject=subject, schema=v2, id=700_101)
    assert refused(stub.Register, clash) == (grpc.StatusCode.FAILED_PRECONDITION, "IdDoesNotMatch", 42207)
    taken_version = pb.RegisterRequest(subject=subject, schema=v2, id=700_102, version=1)
    assert refused(stub.Register, taken_version)[2] == 42205
    with pytest.raises(IdDoesNotMatch):
        client.register(subject, v2, schema_id=700_101)
    not_positive = pb.RegisterRequest(subject=subject, schema=v2, id=0)
    assert refused(stub.Register, not_positive)[:2] == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument")


def test_an_id_outside_import_mode_is_refused(client):
    subject = unique_subject()
    with pytest.raises(OperationNotPermitted, match="not in IMPORT mode"):
        client.register(subject, V1, schema_id=700_201)


def test_import_mode_over_existing_schemas_needs_force(client, stub):
    subject = unique_subject()
    client.register(subject, V1)
    without_force = pb.SetModeRequest(subject=subject, mode="IMPORT")
    assert refused(stub.SetMode, without_force) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "OperationNotPermitted",
        42205,
    )
    assert client.set_mode(subject, "IMPORT", force=True) == "IMPORT"
    assert client.get_mode(subject) == "IMPORT"


def test_check_compatibility_reads_the_candidates_compatibility_group(client, stub):
    subject = unique_subject()
    client.set_config(subject, None, data_contract=DataContractConfig(compatibility_group="major"))
    client.register(subject, V1, data_metadata={"properties": {"major": "1"}})
    assert not client.check(subject, BREAKING).compatible  # the latest version's group: 1
    assert not client.check(subject, BREAKING, data_metadata={"properties": {"major": "1"}}).compatible
    assert client.check(subject, BREAKING, data_metadata={"properties": {"major": "2"}}).compatible
    not_json = pb.CheckCompatibilityRequest(subject=subject, schema=BREAKING, data_metadata_json="{")
    assert refused(stub.CheckCompatibility, not_json)[:2] == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidArgument",
    )


def test_reflection_v1_lists_the_new_calls_with_their_messages(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        database = ProtoReflectionDescriptorDatabase(grpc.intercept_channel(channel, ToReflectionV1()))
        service = DescriptorPool(database).FindServiceByName(REGISTRY)
    methods = service.methods_by_name
    assert set(methods) >= NEW_RPCS
    assert methods["GetReferencedBy"].output_type.fields_by_name["ids"].number == 1
    assert {"id", "version"} <= set(methods["Register"].input_type.fields_by_name)
    assert "force" in methods["SetMode"].input_type.fields_by_name


def test_the_grpc_doc_lists_every_rpc_of_the_service():
    doc = (ROOT / "docs" / "grpc.md").read_text(encoding="utf-8")
    methods = pb.DESCRIPTOR.services_by_name["ContractRegistry"].methods_by_name
    assert [name for name in methods if f"`{name}`" not in doc] == []


def test_the_async_client_makes_the_same_calls(server):
    subject = unique_subject()

    async def calls() -> tuple:
        async with AsyncRegistryClient(server.grpc_target) as registry:
            registered = await registry.register(subject, V1)
            await registry.set_mode(subject, "READONLY")
            removed = await registry.delete_mode(subject)
            found = await registry.get_by_guid(registered.guid)
            return removed, found.id == registered.schema_id, await registry.referenced_by(subject)

    assert asyncio.run(calls()) == ("READONLY", True, [])
