"""Registry errors on the gRPC wire, mapped once in each direction.

The server sends the status code of the error type (``MeshgateError.grpc_status``), the message as
status details, and the trailing metadata key ``meshgate-error-bin``: UTF-8 JSON
``{"type", "code", "message", "violations", "consumers"}``. A schema refused by registered consumers
also carries ``meshgate-broken-consumers-bin``: a serialized ``BrokenConsumers`` message (which
consumers, which of their fields, their violations). The client turns that back into the same
``registry.errors`` type; without the key (a proxy, a non-meshgate server) it falls back on the code.
"""

from __future__ import annotations

import json

import grpc
from google.protobuf.message import DecodeError

from registry import errors, wire
from registry.api import registry_pb2 as pb
from registry.compat import Violation

ERROR_KEY = "meshgate-error-bin"
BROKEN_CONSUMERS_KEY = "meshgate-broken-consumers-bin"

# The error types a client can get back, by class name.
_TYPES: dict[str, type[errors.MeshgateError]] = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.MeshgateError)
}

# Fallback when the trailing metadata is missing: status code -> error type.
_BY_CODE: dict[grpc.StatusCode, type[errors.MeshgateError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.MeshgateError,
    grpc.StatusCode.FAILED_PRECONDITION: errors.IncompatibleSchema,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.PayloadTooLarge,
    grpc.StatusCode.OUT_OF_RANGE: errors.SequenceCompacted,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
}


def status_code(error: errors.MeshgateError) -> grpc.StatusCode:
    return grpc.StatusCode[error.grpc_status]


def trailing_metadata(error: errors.MeshgateError) -> tuple[tuple[str, bytes], ...]:
    """Every trailing-metadata entry the server sends with ``error``."""
    entries = [(ERROR_KEY, encode(error))]
    if isinstance(error, errors.IncompatibleSchema) and error.broken_consumers:
        details = pb.BrokenConsumers(
            consumers=[wire.broken_consumer_to_pb(c) for c in error.broken_consumers]
        )
        entries.append((BROKEN_CONSUMERS_KEY, details.SerializeToString()))
    return tuple(entries)


def encode(error: errors.MeshgateError) -> bytes:
    """The trailing-metadata value describing ``error``."""
    body = {"type": type(error).__name__, "code": error.error_code, "message": error.message}
    if isinstance(error, errors.IncompatibleSchema):
        body["violations"] = [v.to_dict() for v in error.violations]
        body["consumers"] = list(error.consumers)
    return json.dumps(body).encode("utf-8")


def decode(code: grpc.StatusCode, details: str | None, trailing_metadata) -> errors.MeshgateError:
    """The ``registry.errors`` instance a failed call stands for."""
    body, broken = {}, []
    for key, value in trailing_metadata or ():
        if key == ERROR_KEY:
            try:
                body = json.loads(value.decode("utf-8") if isinstance(value, bytes) else value)
            except ValueError:
                body = {}
        elif key == BROKEN_CONSUMERS_KEY and isinstance(value, bytes):
            try:
                broken = [
                    wire.broken_consumer_from_pb(c) for c in pb.BrokenConsumers.FromString(value).consumers
                ]
            except DecodeError:
                broken = []
    message = body.get("message") or details or code.name
    cls = _TYPES.get(body.get("type", ""), _BY_CODE.get(code, errors.MeshgateError))
    if cls is errors.IncompatibleSchema:
        violations = [
            Violation(v["rule"], v["path"], v["message"], v.get("line")) for v in body.get("violations", [])
        ]
        return errors.IncompatibleSchema(message, violations, body.get("consumers", []), broken)
    error = cls.__new__(cls)
    errors.MeshgateError.__init__(error, message)  # the text is final: no location prefix again
    if cls is errors.InvalidSchema:
        error.location, error.reason = errors.SourceLocation(), message
    return error
