"""Sequences of calls (Hypothesis stateful testing): registers, deletes, config changes and lookups on
one subject, each sent over REST or gRPC at random. After every step both transports must show the
same versions and the same latest schema id, and no call may end in a 500 / INTERNAL."""

from __future__ import annotations

import json
import time
import uuid

import grpc
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from tests.registry.fuzz import harness
from tests.registry.registry_harness import avro

SCHEMAS = [
    avro({"id": "string"}),
    avro({"id": "string", "note": ["null", "string"]}, defaults={"note": None}),
    avro({"id": "long"}),
    avro({"id": "string", "n": "int"}, defaults={"n": 0}),
]
LEVELS = ["NONE", "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE"]
transports = st.sampled_from(["rest", "grpc"])
ACCEPTED_GRPC = {
    grpc.StatusCode.OK,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.INVALID_ARGUMENT,
}


def test_call_sequences_keep_both_transports_consistent_and_never_fail_internally(targets):
    stub = pb_grpc.ContractRegistryStub(targets.channel)

    class Calls(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.subject = f"fuzz.S{uuid.uuid4().hex[:8]}"

        def _grpc(self, call, request):
            harness.tried["stateful"] += 1
            try:
                return call(request, timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() in ACCEPTED_GRPC, (exc.code(), exc.details())
                return None

        def _rest(self, method, path, body=None):
            harness.tried["stateful"] += 1
            return targets.rest(method, path, None if body is None else json.dumps(body).encode())

        @rule(schema=st.sampled_from(SCHEMAS), transport=transports)
        def register(self, schema, transport):
            if transport == "rest":
                self._rest("POST", f"/subjects/{self.subject}/versions", {"schema": schema})
            else:
                self._grpc(stub.Register, pb.RegisterRequest(subject=self.subject, schema=schema))

        @rule(version=st.integers(-1, 4), permanent=st.booleans(), transport=transports)
        def delete_version(self, version, permanent, transport):
            if transport == "rest":
                flag = "?permanent=true" if permanent else ""
                self._rest("DELETE", f"/subjects/{self.subject}/versions/{version}{flag}")
            else:
                request = pb.DeleteVersionRequest(subject=self.subject, version=version, permanent=permanent)
                self._grpc(stub.DeleteVersion, request)

        @rule(permanent=st.booleans(), transport=transports)
        def delete_subject(self, permanent, transport):
            if transport == "rest":
                self._rest("DELETE", f"/subjects/{self.subject}" + ("?permanent=true" if permanent else ""))
            else:
                self._grpc(
                    stub.DeleteSubject, pb.DeleteSubjectRequest(subject=self.subject, permanent=permanent)
                )

        @rule(level=st.sampled_from(LEVELS), transport=transports)
        def set_config(self, level, transport):
            if transport == "rest":
                self._rest("PUT", f"/config/{self.subject}", {"compatibility": level})
            else:
                self._grpc(stub.SetConfig, pb.SetConfigRequest(subject=self.subject, level=level))

        @rule(schema=st.sampled_from(SCHEMAS), transport=transports)
        def check(self, schema, transport):
            if transport == "rest":
                self._rest(
                    "POST", f"/compatibility/subjects/{self.subject}/versions/latest", {"schema": schema}
                )
            else:
                self._grpc(
                    stub.CheckCompatibility, pb.CheckCompatibilityRequest(subject=self.subject, schema=schema)
                )

        @invariant()
        def both_transports_show_the_same_versions(self):
            for deleted in (False, True):
                answer = self._rest(
                    "GET", f"/subjects/{self.subject}/versions" + ("?deleted=true" if deleted else "")
                )
                rest = answer.json() if answer.status_code == 200 else []
                listed = self._grpc(
                    stub.ListVersions, pb.ListVersionsRequest(subject=self.subject, include_deleted=deleted)
                )
                assert rest == (list(listed.versions) if listed is not None else [])
            answer = self._rest("GET", f"/subjects/{self.subject}/versions/latest")
            latest = self._grpc(stub.GetSchemaByVersion, pb.GetSchemaByVersionRequest(subject=self.subject))
            if answer.status_code == 200:
                assert latest is not None and (latest.schema_id, latest.version) == (
                    answer.json()["id"],
                    answer.json()["version"],
                )
            else:
                assert latest is None

    deadline = time.monotonic() + harness.budget()
    while time.monotonic() < deadline:
        run_state_machine_as_test(
            Calls,
            settings=settings(
                max_examples=2,
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
