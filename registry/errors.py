"""Error types of the registry.

Each error is a type, mapped once to a gRPC status code (``grpc_status``) and to an HTTP answer
(``http_status`` plus Confluent's ``error_code``) by the servers; nothing compares message strings.
"""

from __future__ import annotations

from dataclasses import dataclass

UNEXPECTED = "meshgate_unexpected_error"
"""Log-record attribute set (to the request id) when a server logs an exception no handler expected:
that is a bug, and the tests fail on any such record (tests/registry/conftest.py)."""


class MeshgateError(Exception):
    """Base of every error meshgate raises on purpose (never a bug)."""

    grpc_status = "INTERNAL"
    http_status = 500
    error_code = 50001

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceLocation:
    """Where in a schema source an error sits (1-based line and column, when known)."""

    file: str = "schema"
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class InvalidSchema(MeshgateError):
    """The schema text does not parse or is not a valid schema of its format."""

    grpc_status = "INVALID_ARGUMENT"
    http_status = 422
    error_code = 42201

    def __init__(self, message: str, location: SourceLocation | None = None):
        self.location = location or SourceLocation()
        super().__init__(f"{self.location}: {message}")
        self.reason = message


class InvalidArgument(MeshgateError):
    """A request field is missing or malformed (names the field)."""

    grpc_status = "INVALID_ARGUMENT"
    http_status = 422
    error_code = 42202


class LimitExceeded(InvalidArgument):
    """A request breaks one of the limits of ``registry.limits`` (the message names it and where)."""

    error_code = 42209

    def __init__(self, limit: str, where: str, detail: str):
        super().__init__(f"{where}: {detail} (limit {limit!r}, see docs/registry.md)")
        self.limit = limit
        self.where = where
        self.detail = detail


class HeadersTooLarge(LimitExceeded):
    grpc_status = "RESOURCE_EXHAUSTED"
    http_status = 431
    error_code = 43101


class MalformedText(InvalidArgument):
    """Text that is not well-formed Unicode (a lone surrogate, bytes that are not UTF-8)."""

    error_code = 42208


class InvalidCompatibilityLevel(InvalidArgument):
    error_code = 42203


class InvalidMode(InvalidArgument):
    error_code = 42204


class InvalidRuleset(InvalidArgument):
    """A compatibility rule set the subject's schema format does not have (the message names the
    format and the rule sets it has)."""

    error_code = 42203


class IncompatibleSchema(MeshgateError):
    """The schema breaks the subject's compatibility level or a registered consumer."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 409
    error_code = 409

    def __init__(
        self,
        message: str,
        violations: list | None = None,
        consumers: list[str] | None = None,
        broken_consumers: list | None = None,
    ):
        """``violations``: ``registry.compat.Violation``s; ``broken_consumers``: the registered
        consumers it breaks, as ``registry.model.BrokenConsumer``s (errors sit below the model)."""
        super().__init__(message)
        self.violations = list(violations or [])
        self.consumers = list(consumers or [])
        self.broken_consumers = list(broken_consumers or [])


class SubjectNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40401


class VersionNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40402


class SubjectConfigNotFound(MeshgateError):
    """The subject has no compatibility level of its own (Confluent answers this unless asked to fall back)."""

    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40408


class SubjectModeNotFound(MeshgateError):
    """The subject has no mode of its own (Confluent's 40409)."""

    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40409


class SchemaNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40403


class ConsumerNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40410


class SubjectSoftDeleted(MeshgateError):
    """Every version of the subject is already soft-deleted (a permanent delete may follow)."""

    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40404


class VersionSoftDeleted(MeshgateError):
    """The version is already soft-deleted (a permanent delete may follow)."""

    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40406


class VersionNotSoftDeleted(MeshgateError):
    """Confluent requires a soft delete of a version before its permanent delete."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 404
    error_code = 40407


class SubjectNotSoftDeleted(MeshgateError):
    """Confluent requires a soft delete before a hard (permanent) delete."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 404
    error_code = 40405


class ReferenceExists(MeshgateError):
    """A version cannot be deleted while another subject's schema references it."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 422
    error_code = 42206


class OperationNotPermitted(MeshgateError):
    """The subject's mode forbids the call (Confluent's 42205): a write in READONLY mode, a schema id
    given outside IMPORT mode, a register without one in IMPORT mode, IMPORT over existing schemas."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 422
    error_code = 42205


class ReadOnlyMode(OperationNotPermitted):
    pass


class IdDoesNotMatch(MeshgateError):
    """An imported schema id already names another schema (Confluent's 42207)."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 422
    error_code = 42207


class InvalidDataContract(InvalidArgument):
    """Malformed Confluent data-contract ``metadata`` or ``ruleSet`` (Confluent answers 42201)."""

    error_code = 42201


class PayloadTooLarge(MeshgateError):
    grpc_status = "RESOURCE_EXHAUSTED"
    http_status = 413
    error_code = 41301


class Unauthenticated(MeshgateError):
    grpc_status = "UNAUTHENTICATED"
    http_status = 401
    error_code = 40101


class PermissionDenied(MeshgateError):
    grpc_status = "PERMISSION_DENIED"
    http_status = 403
    error_code = 40301


class Unavailable(MeshgateError):
    """The registry (or its store) cannot be reached."""

    grpc_status = "UNAVAILABLE"
    http_status = 503
    error_code = 50301


class UntrustedServer(Unavailable):
    """The registry serves TLS and this client talks plaintext or does not trust its certificate
    (raised by the client only)."""


class ClientCertificateRequired(Unavailable):
    """The registry requires mutual TLS and refused this client's certificate, or its lack of one
    (raised by the client only)."""


class SequenceCompacted(MeshgateError):
    """A watcher asked to resume from a sequence whose successors retention has removed."""

    grpc_status = "OUT_OF_RANGE"
    http_status = 416
    error_code = 41601


class SubscriberTooSlow(MeshgateError):
    """A watcher fell too far behind the live stream; it may resume from its last sequence."""

    grpc_status = "RESOURCE_EXHAUSTED"
    http_status = 429
    error_code = 42901


class TokenNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40411


class WebhookNotFound(MeshgateError):
    grpc_status = "NOT_FOUND"
    http_status = 404
    error_code = 40412
