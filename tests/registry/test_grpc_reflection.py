"""Server reflection over ``grpc.reflection.v1`` (what grpcurl and Postman try first) beside v1alpha.

The Python reflection client (grpcio-reflection's ``ProtoReflectionDescriptorDatabase``) speaks
v1alpha; a channel interceptor sends its calls to the v1 service instead, so the client lists the
services over v1 and finds the descriptors to call one with messages built from them alone.
"""

from __future__ import annotations

import collections

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from tests.registry.registry_harness import V1, unique_subject

V1ALPHA_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
REGISTRY = "meshgate.registry.v1.ContractRegistry"


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class ToReflectionV1(grpc.StreamStreamClientInterceptor):
    """Sends the v1alpha reflection calls to ``grpc.reflection.v1`` (same messages, same bytes)."""

    def __init__(self):
        self.v1_calls = 0

    def intercept_stream_stream(self, continuation, details, request_iterator):
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        if method == V1ALPHA_METHOD:
            self.v1_calls += 1
            details = _CallDetails(
                V1_METHOD,
                details.timeout,
                details.metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request_iterator)


def test_reflection_v1_lists_the_services_and_describes_one_well_enough_to_call_it(server):
    subject = unique_subject()
    with grpc.insecure_channel(server.grpc_target) as channel:
        pb_grpc.ContractRegistryStub(channel).Register(pb.RegisterRequest(subject=subject, schema=V1))
        to_v1 = ToReflectionV1()
        database = ProtoReflectionDescriptorDatabase(grpc.intercept_channel(channel, to_v1))

        services = set(database.get_services())
        assert {REGISTRY, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= services
        assert "grpc.reflection.v1alpha.ServerReflection" in services

        method = DescriptorPool(database).FindServiceByName(REGISTRY).methods_by_name["ListSubjects"]
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)
        list_subjects = channel.unary_unary(
            f"/{REGISTRY}/ListSubjects",
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )
        answer = list_subjects(request_type(prefix=subject))
    assert list(answer.subjects) == [subject]
    assert to_v1.v1_calls >= 1
