"""Python SDK of the registry over gRPC: ``RegistryClient`` (sync) and ``AsyncRegistryClient``.

Both have the service's methods and return its types (``RegisteredSchema``, ``SchemaRecord``,
``CheckResult``, ``SubjectConfig``, ``Consumer``); failures raise the same ``registry.errors`` types
the server raised (``registry.grpc_errors`` maps them back). Schemas by id never change, so
``get_by_id`` answers repeated ids from a per-client cache. ``token`` is sent as
``authorization: Bearer <token>``. ``ca_cert`` (or env ``MESHGATE_CA_CERT``): talk TLS, trusting that
certificate.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc

from registry import grpc_errors, wire
from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.compat import Level
from registry.contract import Contract, ContractMetadata, Reference
from registry.errors import InvalidArgument
from registry.model import (
    ApiToken,
    AuditEntry,
    CheckResult,
    Consumer,
    Delivery,
    Event,
    RegisteredSchema,
    SchemaRecord,
    SubjectConfig,
    Webhook,
    as_references,
)

DEFAULT_TARGET = "localhost:50051"
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    # Reconnect to a restarted registry within seconds (gRPC's default backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 3_000),
]

# A prepared call: RPC name, request message, and how to turn the response into our types.
Call = tuple[str, Any, Callable[[Any], Any]]


class _Requests:
    """Builds every call once, for both clients."""

    @staticmethod
    def register(subject, schema, format, references, metadata, normalize) -> Call:
        fields = _schema_fields(subject, schema, format, references)
        request = pb.RegisterRequest(**fields, normalize=normalize)
        if isinstance(subject, Contract):
            metadata = subject.metadata
        if metadata is not None:
            request.metadata.CopyFrom(wire.metadata_to_pb(metadata))
        return "Register", request, wire.schema_version_from_pb

    @staticmethod
    def check(subject, schema, format, references, version) -> Call:
        fields = _schema_fields(subject, schema, format, references)
        request = pb.CheckCompatibilityRequest(**fields, version=str(version))
        return "CheckCompatibility", request, wire.check_result_from_pb

    @staticmethod
    def lookup(subject, schema, format, references, include_deleted) -> Call:
        fields = _schema_fields(subject, schema, format, references)
        request = pb.LookupSchemaRequest(**fields, include_deleted=include_deleted)
        return "LookupSchema", request, wire.schema_version_from_pb

    @staticmethod
    def get_by_id(schema_id) -> Call:
        return "GetSchemaById", pb.GetSchemaByIdRequest(id=schema_id), wire.schema_from_pb

    @staticmethod
    def get_version(subject, version, include_deleted) -> Call:
        request = pb.GetSchemaByVersionRequest(
            subject=subject, version=_version(version), include_deleted=include_deleted
        )
        return "GetSchemaByVersion", request, wire.schema_version_from_pb

    @staticmethod
    def list_subjects(prefix, include_deleted) -> Call:
        request = pb.ListSubjectsRequest(prefix=prefix, include_deleted=include_deleted)
        return "ListSubjects", request, lambda response: list(response.subjects)

    @staticmethod
    def list_versions(subject, include_deleted) -> Call:
        request = pb.ListVersionsRequest(subject=subject, include_deleted=include_deleted)
        return "ListVersions", request, lambda response: list(response.versions)

    @staticmethod
    def delete_subject(subject, permanent) -> Call:
        request = pb.DeleteSubjectRequest(subject=subject, permanent=permanent)
        return "DeleteSubject", request, lambda response: list(response.versions)

    @staticmethod
    def delete_version(subject, version, permanent) -> Call:
        request = pb.DeleteVersionRequest(subject=subject, version=_version(version), permanent=permanent)
        return "DeleteVersion", request, lambda response: response.version

    @staticmethod
    def get_config(subject) -> Call:
        return "GetConfig", pb.GetConfigRequest(subject=subject or ""), wire.config_from_pb

    @staticmethod
    def set_config(subject, level, ruleset) -> Call:
        level = level.value if isinstance(level, Level) else str(level)
        request = pb.SetConfigRequest(subject=subject or "", level=level, ruleset=ruleset or "")
        return "SetConfig", request, wire.config_from_pb

    @staticmethod
    def delete_config(subject) -> Call:
        return "DeleteConfig", pb.DeleteConfigRequest(subject=subject or ""), wire.config_from_pb

    @staticmethod
    def get_mode(subject) -> Call:
        return "GetMode", pb.GetModeRequest(subject=subject or ""), lambda response: response.mode

    @staticmethod
    def set_mode(subject, mode) -> Call:
        return "SetMode", pb.SetModeRequest(subject=subject or "", mode=mode), lambda response: response.mode

    @staticmethod
    def register_consumer(name, subject, version, reader_schema, fields, format) -> Call:
        request = pb.RegisterConsumerRequest(
            name=name,
            subject=subject,
            version=version or 0,
            reader_schema=reader_schema or "",
            fields=list(fields),
            format=format or "",
        )
        return "RegisterConsumer", request, wire.consumer_from_pb

    @staticmethod
    def list_consumers(subject) -> Call:
        request = pb.ListConsumersRequest(subject=subject or "")
        return (
            "ListConsumers",
            request,
            lambda response: [wire.consumer_from_pb(c) for c in response.consumers],
        )

    @staticmethod
    def remove_consumer(name, subject) -> Call:
        request = pb.RemoveConsumerRequest(name=name, subject=subject)
        return "RemoveConsumer", request, lambda response: None

    @staticmethod
    def create_token(name, role, domains, expires_in) -> Call:
        request = pb.CreateTokenRequest(
            name=name,
            role=role,
            domains=list(domains),
            expires_in_seconds=int(expires_in.total_seconds()) if expires_in else 0,
        )
        return (
            "CreateToken",
            request,
            lambda response: (wire.api_token_from_pb(response.token), response.secret),
        )

    @staticmethod
    def list_tokens(include_revoked) -> Call:
        request = pb.ListTokensRequest(include_revoked=include_revoked)
        return "ListTokens", request, lambda response: [wire.api_token_from_pb(t) for t in response.tokens]

    @staticmethod
    def revoke_token(token_id) -> Call:
        return "RevokeToken", pb.RevokeTokenRequest(id=token_id), wire.api_token_from_pb

    @staticmethod
    def audit(limit) -> Call:
        request = pb.ListAuditRequest(limit=limit)
        return "ListAudit", request, lambda response: [wire.audit_entry_from_pb(e) for e in response.entries]

    @staticmethod
    def add_webhook(url, secret, subject_prefix, event_types, after_sequence) -> Call:
        request = pb.AddWebhookRequest(
            url=url, secret=secret or "", subject_prefix=subject_prefix, event_types=list(event_types)
        )
        if after_sequence is not None:
            request.after_sequence = after_sequence
        return (
            "AddWebhook",
            request,
            lambda response: (wire.webhook_from_pb(response.webhook), response.secret),
        )

    @staticmethod
    def list_webhooks() -> Call:
        return (
            "ListWebhooks",
            pb.ListWebhooksRequest(),
            lambda response: [wire.webhook_from_pb(w) for w in response.webhooks],
        )

    @staticmethod
    def remove_webhook(webhook_id) -> Call:
        return "RemoveWebhook", pb.RemoveWebhookRequest(id=webhook_id), lambda response: None

    @staticmethod
    def deliveries(webhook_id, limit) -> Call:
        request = pb.ListDeliveriesRequest(webhook_id=webhook_id or 0, limit=limit)
        return (
            "ListDeliveries",
            request,
            lambda response: [wire.delivery_from_pb(d) for d in response.deliveries],
        )


class _Connection:
    """What both clients hold: target, timeout, token, a channel with its stub, and the id cache."""

    _channels: Any = grpc  # the module that opens channels: ``grpc`` or ``grpc.aio``

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        token: str | None = None,
        timeout: float = 10.0,
        ca_cert: str | Path | None = None,
    ):
        self.target = target
        self.timeout = timeout
        self._metadata = _auth(token)
        credentials = _tls(ca_cert)
        self._channel = (
            self._channels.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
            if credentials
            else self._channels.insecure_channel(target, options=_CHANNEL_OPTIONS)
        )
        self._stub = pb_grpc.ContractRegistryStub(self._channel)
        self._ids: dict[int, SchemaRecord] = {}


class RegistryClient(_Connection):
    """Synchronous client; use as a context manager or call ``close``."""

    def _call(self, call: Call) -> Any:
        method, request, convert = call
        try:
            response = getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _error(exc, self.target) from None
        return convert(response)

    def register(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        metadata: ContractMetadata | None = None,
        normalize: bool = False,
    ) -> RegisteredSchema:
        """Register a ``Contract`` (its schema, references and metadata) or the given fields."""
        return self._call(_Requests.register(subject, schema, format, references, metadata, normalize))

    def check(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        version: int | str = "latest",
    ) -> CheckResult:
        return self._call(_Requests.check(subject, schema, format, references, version))

    def lookup(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        include_deleted: bool = False,
    ) -> RegisteredSchema:
        return self._call(_Requests.lookup(subject, schema, format, references, include_deleted))

    def get_by_id(self, schema_id: int) -> SchemaRecord:
        if schema_id not in self._ids:
            self._ids[schema_id] = self._call(_Requests.get_by_id(schema_id))
        return self._ids[schema_id]

    def get_version(
        self, subject: str, version: int | str = "latest", include_deleted: bool = False
    ) -> RegisteredSchema:
        return self._call(_Requests.get_version(subject, version, include_deleted))

    def latest(self, subject: str) -> RegisteredSchema:
        return self.get_version(subject, "latest")

    def list_subjects(self, prefix: str = "", include_deleted: bool = False) -> list[str]:
        return self._call(_Requests.list_subjects(prefix, include_deleted))

    def list_versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        return self._call(_Requests.list_versions(subject, include_deleted))

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        return self._call(_Requests.delete_subject(subject, permanent))

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        return self._call(_Requests.delete_version(subject, version, permanent))

    def get_config(self, subject: str | None = None) -> SubjectConfig:
        return self._call(_Requests.get_config(subject))

    def set_config(
        self, subject: str | None, level: Level | str, ruleset: str | None = None
    ) -> SubjectConfig:
        return self._call(_Requests.set_config(subject, level, ruleset))

    def delete_config(self, subject: str | None) -> SubjectConfig:
        return self._call(_Requests.delete_config(subject))

    def get_mode(self, subject: str | None = None) -> str:
        return self._call(_Requests.get_mode(subject))

    def set_mode(self, subject: str | None, mode: str) -> str:
        return self._call(_Requests.set_mode(subject, mode))

    def register_consumer(
        self,
        name: str,
        subject: str,
        version: int | None = None,
        reader_schema: str | None = None,
        fields: Iterable[str] = (),
        format: str | None = None,
    ) -> Consumer:
        return self._call(_Requests.register_consumer(name, subject, version, reader_schema, fields, format))

    def list_consumers(self, subject: str | None = None) -> list[Consumer]:
        return self._call(_Requests.list_consumers(subject))

    def remove_consumer(self, name: str, subject: str) -> None:
        return self._call(_Requests.remove_consumer(name, subject))

    def create_token(
        self, name: str, role: str, domains: Iterable[str] = (), expires_in: timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token and its secret (admin only; the secret is never shown again)."""
        return self._call(_Requests.create_token(name, role, domains, expires_in))

    def list_tokens(self, include_revoked: bool = False) -> list[ApiToken]:
        return self._call(_Requests.list_tokens(include_revoked))

    def revoke_token(self, token_id: int) -> ApiToken:
        return self._call(_Requests.revoke_token(token_id))

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first (admin only)."""
        return self._call(_Requests.audit(limit))

    def add_webhook(
        self,
        url: str,
        secret: str | None = None,
        subject_prefix: str = "",
        event_types: Iterable[str] = (),
        after_sequence: int | None = None,
    ) -> tuple[Webhook, str]:
        """Subscribe ``url`` to change events (admin); returns it and its signing secret."""
        return self._call(_Requests.add_webhook(url, secret, subject_prefix, event_types, after_sequence))

    def list_webhooks(self) -> list[Webhook]:
        return self._call(_Requests.list_webhooks())

    def remove_webhook(self, webhook_id: int) -> None:
        return self._call(_Requests.remove_webhook(webhook_id))

    def deliveries(self, webhook_id: int | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        return self._call(_Requests.deliveries(webhook_id, limit))

    def watch(
        self,
        after_sequence: int = 0,
        subject_prefix: str = "",
        event_types: Iterable[str] = (),
        reconnect: bool = True,
        domain: str = "",
    ) -> EventStream:
        """Change events after ``after_sequence``: the missed ones first, then live ones as they come.

        With ``reconnect`` a broken stream (server restart, too slow a reader) is resumed from the
        last sequence received, so every event arrives once, in order. ``close()`` ends it (also
        from another thread).
        """
        request = _watch_request(after_sequence, subject_prefix, domain, event_types)
        return EventStream(self._stub, request, self._metadata, self.target, reconnect)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class AsyncRegistryClient(_Connection):
    """The same calls over ``grpc.aio``; use as an async context manager or await ``close``."""

    _channels = grpc.aio

    async def _call(self, call: Call) -> Any:
        method, request, convert = call
        try:
            response = await getattr(self._stub, method)(
                request, timeout=self.timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, self.target) from None
        return convert(response)

    async def register(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        metadata: ContractMetadata | None = None,
        normalize: bool = False,
    ) -> RegisteredSchema:
        return await self._call(_Requests.register(subject, schema, format, references, metadata, normalize))

    async def check(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        version: int | str = "latest",
    ) -> CheckResult:
        return await self._call(_Requests.check(subject, schema, format, references, version))

    async def lookup(
        self,
        subject: str | Contract,
        schema: str | None = None,
        format: str = "AVRO",
        references: Iterable[Reference] = (),
        include_deleted: bool = False,
    ) -> RegisteredSchema:
        return await self._call(_Requests.lookup(subject, schema, format, references, include_deleted))

    async def get_by_id(self, schema_id: int) -> SchemaRecord:
        if schema_id not in self._ids:
            self._ids[schema_id] = await self._call(_Requests.get_by_id(schema_id))
        return self._ids[schema_id]

    async def get_version(
        self, subject: str, version: int | str = "latest", include_deleted: bool = False
    ) -> RegisteredSchema:
        return await self._call(_Requests.get_version(subject, version, include_deleted))

    async def latest(self, subject: str) -> RegisteredSchema:
        return await self.get_version(subject, "latest")

    async def list_subjects(self, prefix: str = "", include_deleted: bool = False) -> list[str]:
        return await self._call(_Requests.list_subjects(prefix, include_deleted))

    async def list_versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        return await self._call(_Requests.list_versions(subject, include_deleted))

    async def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        return await self._call(_Requests.delete_subject(subject, permanent))

    async def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        return await self._call(_Requests.delete_version(subject, version, permanent))

    async def get_config(self, subject: str | None = None) -> SubjectConfig:
        return await self._call(_Requests.get_config(subject))

    async def set_config(
        self, subject: str | None, level: Level | str, ruleset: str | None = None
    ) -> SubjectConfig:
        return await self._call(_Requests.set_config(subject, level, ruleset))

    async def delete_config(self, subject: str | None) -> SubjectConfig:
        return await self._call(_Requests.delete_config(subject))

    async def get_mode(self, subject: str | None = None) -> str:
        return await self._call(_Requests.get_mode(subject))

    async def set_mode(self, subject: str | None, mode: str) -> str:
        return await self._call(_Requests.set_mode(subject, mode))

    async def register_consumer(
        self,
        name: str,
        subject: str,
        version: int | None = None,
        reader_schema: str | None = None,
        fields: Iterable[str] = (),
        format: str | None = None,
    ) -> Consumer:
        return await self._call(
            _Requests.register_consumer(name, subject, version, reader_schema, fields, format)
        )

    async def list_consumers(self, subject: str | None = None) -> list[Consumer]:
        return await self._call(_Requests.list_consumers(subject))

    async def remove_consumer(self, name: str, subject: str) -> None:
        return await self._call(_Requests.remove_consumer(name, subject))

    async def create_token(
        self, name: str, role: str, domains: Iterable[str] = (), expires_in: timedelta | None = None
    ) -> tuple[ApiToken, str]:
        return await self._call(_Requests.create_token(name, role, domains, expires_in))

    async def list_tokens(self, include_revoked: bool = False) -> list[ApiToken]:
        return await self._call(_Requests.list_tokens(include_revoked))

    async def revoke_token(self, token_id: int) -> ApiToken:
        return await self._call(_Requests.revoke_token(token_id))

    async def audit(self, limit: int = 100) -> list[AuditEntry]:
        return await self._call(_Requests.audit(limit))

    async def watch(
        self,
        after_sequence: int = 0,
        subject_prefix: str = "",
        event_types: Iterable[str] = (),
        reconnect: bool = True,
        domain: str = "",
    ) -> AsyncIterator[Event]:
        """The async form of ``RegistryClient.watch``: ``async for event in client.watch(): …``."""
        request = _watch_request(after_sequence, subject_prefix, domain, event_types)
        backoff = _Backoff()
        while True:
            call = self._stub.Watch(request, metadata=self._metadata)
            try:
                async for response in call:
                    event = _new_event(response, request, backoff)
                    if event is not None:
                        yield event
            except grpc.aio.AioRpcError as exc:
                if not (reconnect and exc.code() in _RESUMABLE):
                    raise _error(exc, self.target) from None
            finally:
                call.cancel()
            if not reconnect:
                return
            await asyncio.sleep(backoff.next())

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()


class EventStream:
    """An iterator of ``Event``s over a Watch stream that resumes after failures by itself."""

    def __init__(self, stub, request: pb.WatchRequest, metadata, target: str, reconnect: bool):
        self._stub = stub
        self._request = request
        self._metadata = metadata
        self._target = target
        self._reconnect = reconnect
        self._call = None
        self._closed = threading.Event()
        self._backoff = _Backoff()

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event delivered (where a resume starts)."""
        return self._request.after_sequence

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        while not self._closed.is_set():
            if self._call is None:
                self._call = self._stub.Watch(self._request, metadata=self._metadata)
            try:
                for response in self._call:
                    event = _new_event(response, self._request, self._backoff)
                    if event is not None:
                        return event
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    break
                if not (self._reconnect and exc.code() in _RESUMABLE):
                    self._call = None
                    raise _error(exc, self._target) from None
            self._call = None
            if not self._reconnect:
                break
            self._closed.wait(self._backoff.next())
        raise StopIteration

    def close(self) -> None:
        """End the stream; an iteration blocked in another thread stops."""
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()


class _Backoff:
    """Reconnect delays: 0.1 s doubling to 5 s, with jitter; reset by every event received."""

    def __init__(self):
        self.delay = 0.1

    def next(self) -> float:
        delay = self.delay * random.uniform(0.8, 1.2)
        self.delay = min(self.delay * 2, 5.0)
        return delay

    def reset(self) -> None:
        self.delay = 0.1


# A stream that ends with one of these is resumed (the server went away, or we were too slow).
_RESUMABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
)


def _watch_request(after_sequence, subject_prefix, domain, event_types) -> pb.WatchRequest:
    if after_sequence < 0:
        raise InvalidArgument("after_sequence: must be 0 or more")
    return pb.WatchRequest(
        after_sequence=after_sequence,
        subject_prefix=subject_prefix,
        domain=domain,
        event_types=list(event_types),
    )


def _new_event(response: pb.WatchResponse, request: pb.WatchRequest, backoff: _Backoff) -> Event | None:
    """The event a Watch response carries, if it is past the last one received; moves the resume point.

    A response may be a heartbeat (no event), and a resumed stream may repeat events already delivered.
    """
    if not response.HasField("event"):
        return None
    event = wire.event_from_pb(response.event)
    if event.sequence <= request.after_sequence:
        return None
    request.after_sequence = event.sequence
    backoff.reset()
    return event


def _schema_fields(subject, schema, format, references) -> dict[str, Any]:
    """The subject, schema, format and references of a request, from a ``Contract`` or the arguments."""
    if isinstance(subject, Contract):
        contract = subject
        subject, schema, format, references = (
            contract.subject,
            contract.schema,
            contract.format,
            contract.references,
        )
    elif schema is None:
        raise TypeError("schema is required when no Contract is given")
    return {
        "subject": subject,
        "schema": schema,
        "format": format,
        "references": wire.references_to_pb(as_references(references)),
    }


def _version(version: int | str) -> int:
    """The wire form: 0 is the latest version."""
    if version in ("latest", -1):
        return 0
    try:
        return int(version)
    except (TypeError, ValueError):
        raise InvalidArgument(f"version: {version!r} is not a version number or 'latest'") from None


def _tls(ca_cert: str | Path | None) -> grpc.ChannelCredentials | None:
    """TLS credentials trusting ``ca_cert`` (or env MESHGATE_CA_CERT); None: plaintext."""
    path = ca_cert or os.environ.get("MESHGATE_CA_CERT")
    if not path:
        return None
    try:
        return grpc.ssl_channel_credentials(root_certificates=Path(path).read_bytes())
    except OSError as exc:
        raise InvalidArgument(f"CA certificate {path}: {exc.strerror}") from None


def _auth(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def _error(exc: grpc.RpcError, target: str):
    error = grpc_errors.decode(exc.code(), exc.details(), exc.trailing_metadata())
    if (
        exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        and not exc.trailing_metadata()
    ):
        error.message = f"registry at {target} is unreachable: {exc.details()}"
        error.args = (error.message,)
    return error
