"""The registry's gRPC side: a grpc.aio servicer thin over ``RegistryService``.

Every RPC runs the service in a worker thread and maps errors in one place (``_call``): a
``MeshgateError`` becomes its status code, its message and its trailing metadata
(``meshgate-error-bin``, and ``meshgate-broken-consumers-bin`` for a schema consumers refuse:
``registry.grpc_errors``); anything else is logged and answered INTERNAL with a generic
message, so no traceback reaches a client. Health checking (``grpc.health.v1``) and server reflection
(``grpc.reflection.v1`` and ``v1alpha``) are on. Limits: a request message may be at most
``MAX_RECEIVE_BYTES`` (4 MiB); a schema text at most ``registry.compat.MAX_SCHEMA_BYTES`` (1 MiB,
RESOURCE_EXHAUSTED beyond).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from registry import grpc_errors, wire
from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.auth import Tokens
from registry.errors import UNEXPECTED, IncompatibleSchema, InvalidArgument, MeshgateError
from registry.events import Event, EventFilter
from registry.grpc_auth import current_principal
from registry.grpc_edge import REQUEST_ID_KEY
from registry.limits import MAX_HEADER_BYTES
from registry.metrics import OK, Metrics
from registry.model import DataContractConfig, RegisteredSchema
from registry.service import RegistryService
from registry.versions import LATEST
from registry.watch import EventHub
from registry.webhooks import Webhooks

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ContractRegistry"].full_name
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
MAX_RECEIVE_BYTES = 4 * 1024 * 1024
MAX_TOKEN_LIFETIME_SECONDS = 100 * 365 * 86_400  # longer is clamped: a timedelta holds ~2.7 million years
MESSAGE_CACHE_SIZE = 4_096  # version messages kept by GetSchemaByVersion
WATCH_MESSAGE_CACHE_SIZE = 1_024  # live Watch messages kept, shared by every stream that sends one
WATCH_SHARED_BATCH = 16  # batches up to this many events are built once for all streams


class RegistryServicer(pb_grpc.ContractRegistryServicer):
    def __init__(
        self, service: RegistryService, metrics: Metrics, hub: EventHub, tokens: Tokens, webhooks: Webhooks
    ):
        self.service = service
        self.metrics = metrics
        self.hub = hub
        self.tokens = tokens
        self.webhooks = webhooks
        self._messages: dict[int, tuple[RegisteredSchema, pb.SchemaVersion]] = {}
        self._watch_messages: dict[tuple[bool, tuple[int, ...]], pb.WatchResponse] = {}

    def _version_message(self, registered: RegisteredSchema) -> pb.SchemaVersion:
        """The message of a version, built once per cached ``RegisteredSchema`` object.

        The service hands out the same object until the subject changes, so the entry is keyed by
        the object's identity (and keeps the object, so the identity cannot be reused meanwhile).
        """
        entry = self._messages.get(id(registered))
        if entry is not None and entry[0] is registered:
            return entry[1]
        message = wire.schema_version_to_pb(registered)
        if len(self._messages) >= MESSAGE_CACHE_SIZE:
            self._messages.clear()
        self._messages[id(registered)] = (registered, message)
        return message

    def _watch_message(self, events: Sequence[Event], batched: bool) -> pb.WatchResponse:
        """The message of a live batch (or one event), built once for every stream that sends it.

        A live event reaches every subscriber in the same few-event batches, so the hub's fan-out
        to N streams builds (and JSON-encodes) each event once, not N times. Events are immutable
        and keyed by sequence; a replay page (more than ``WATCH_SHARED_BATCH``) is built per stream.
        """
        shared = len(events) <= WATCH_SHARED_BATCH
        key = (batched, tuple(event.sequence for event in events)) if shared else None
        message = self._watch_messages.get(key) if shared else None
        if message is None:
            if batched:
                message = pb.WatchResponse(events=[wire.event_to_pb(event) for event in events])
            else:
                message = pb.WatchResponse(event=wire.event_to_pb(events[0]))
            if shared:
                if len(self._watch_messages) >= WATCH_MESSAGE_CACHE_SIZE:
                    self._watch_messages.clear()
                self._watch_messages[key] = message
        return message

    async def Register(self, request: pb.RegisterRequest, context) -> pb.SchemaVersion:
        registered = await self._call(context, "Register", self._register, request)
        return wire.schema_version_to_pb(registered)

    def _register(self, request: pb.RegisterRequest):
        metadata = wire.metadata_from_pb(request.metadata) if request.HasField("metadata") else None
        return self.service.register(
            request.subject,
            request.schema,
            format=request.format or "AVRO",
            references=wire.references_from_pb(request.references),
            metadata=metadata,
            normalize=request.normalize,
            data_metadata=wire.metadata_from_json(request.data_metadata_json, "data_metadata_json"),
            rule_set=wire.rule_set_from_json(request.rule_set_json, "rule_set_json"),
            schema_id=request.id if request.HasField("id") else None,
            version=request.version if request.HasField("version") else None,
        )

    async def CheckCompatibility(self, request, context) -> pb.CheckCompatibilityResponse:
        result = await self._call(context, "CheckCompatibility", self._check, request)
        return wire.check_result_to_pb(result)

    def _check(self, request: pb.CheckCompatibilityRequest):
        return self.service.check(
            request.subject,
            request.schema,
            format=request.format or "AVRO",
            references=wire.references_from_pb(request.references),
            version=request.version or LATEST,
            data_metadata=wire.metadata_from_json(request.data_metadata_json, "data_metadata_json"),
        )

    async def LookupSchema(self, request, context) -> pb.SchemaVersion:
        registered = await self._call(
            context,
            "LookupSchema",
            self.service.lookup,
            request.subject,
            request.schema,
            format=request.format or "AVRO",
            references=wire.references_from_pb(request.references),
            include_deleted=request.include_deleted,
        )
        return wire.schema_version_to_pb(registered)

    async def GetSchemaById(self, request, context) -> pb.Schema:
        record = await self._call(
            context,
            "GetSchemaById",
            self.service.get_by_id,
            request.id,
            cached=lambda: self.service.cached_schema(request.id),  # ids are immutable
        )
        return wire.schema_to_pb(record)

    async def GetSchemaByGuid(self, request, context) -> pb.Schema:
        record = await self._call(context, "GetSchemaByGuid", self.service.get_by_guid, request.guid)
        return wire.schema_to_pb(record)

    async def ListSchemaVersions(self, request, context) -> pb.ListSchemaVersionsResponse:
        pairs = await self._call(context, "ListSchemaVersions", self.service.versions_for_id, request.id)
        return pb.ListSchemaVersionsResponse(
            versions=[
                pb.SubjectVersion(subject=subject, version=version)
                for subject, version in pairs
                if not request.subject or subject == request.subject
            ]
        )

    async def GetSchemaByVersion(self, request, context) -> pb.SchemaVersion:
        version = request.version or LATEST  # 0 on the wire is the latest (as is -1)
        cached = None
        if not request.include_deleted:
            cached = lambda: self.service.cached_version(request.subject, version)  # noqa: E731
        registered = await self._call(
            context,
            "GetSchemaByVersion",
            self.service.get_version,
            request.subject,
            version,
            include_deleted=request.include_deleted,
            cached=cached,
        )
        return self._version_message(registered)

    async def GetLatestWithMetadata(self, request, context) -> pb.SchemaVersion:
        registered = await self._call(
            context,
            "GetLatestWithMetadata",
            self.service.latest_with_metadata,
            request.subject,
            dict(request.properties),
            include_deleted=request.include_deleted,
        )
        return self._version_message(registered)

    async def ListSubjects(self, request, context) -> pb.ListSubjectsResponse:
        subjects = await self._call(
            context, "ListSubjects", self.service.list_subjects, request.prefix, request.include_deleted
        )
        return pb.ListSubjectsResponse(subjects=subjects)

    async def ListVersions(self, request, context) -> pb.ListVersionsResponse:
        versions = await self._call(
            context, "ListVersions", self.service.list_versions, request.subject, request.include_deleted
        )
        return pb.ListVersionsResponse(versions=versions)

    async def GetReferencedBy(self, request, context) -> pb.GetReferencedByResponse:
        ids = await self._call(
            context,
            "GetReferencedBy",
            self.service.referenced_by,
            request.subject,
            request.version or LATEST,
        )
        return pb.GetReferencedByResponse(ids=ids)

    async def DeleteSubject(self, request, context) -> pb.DeleteSubjectResponse:
        versions = await self._call(
            context, "DeleteSubject", self.service.delete_subject, request.subject, request.permanent
        )
        return pb.DeleteSubjectResponse(versions=versions)

    async def DeleteVersion(self, request, context) -> pb.DeleteVersionResponse:
        version = request.version or LATEST
        deleted = await self._call(
            context, "DeleteVersion", self.service.delete_version, request.subject, version, request.permanent
        )
        return pb.DeleteVersionResponse(version=deleted)

    async def GetConfig(self, request, context) -> pb.Config:
        config = await self._call(context, "GetConfig", self.service.get_config, request.subject or None)
        return wire.config_to_pb(request.subject, config)

    async def SetConfig(self, request, context) -> pb.Config:
        config = await self._call(context, "SetConfig", self._set_config, request)
        return wire.config_to_pb(request.subject, config)

    def _set_config(self, request: pb.SetConfigRequest):
        """An empty level keeps the one in force only beside data-contract settings."""
        data_contract = wire.data_contract_config_from_pb(request)
        changes_contract = data_contract != DataContractConfig()
        return self.service.set_config(
            request.subject or None,
            request.level or (None if changes_contract else request.level),
            request.ruleset or None,
            data_contract if changes_contract else None,
        )

    async def DeleteConfig(self, request, context) -> pb.Config:
        config = await self._call(
            context, "DeleteConfig", self.service.delete_config, request.subject or None
        )
        return wire.config_to_pb(request.subject, config)

    async def GetMode(self, request, context) -> pb.Mode:
        mode = await self._call(context, "GetMode", self.service.get_mode, request.subject or None)
        return pb.Mode(subject=request.subject, mode=mode)

    async def SetMode(self, request, context) -> pb.Mode:
        mode = await self._call(
            context,
            "SetMode",
            self.service.set_mode,
            request.subject or None,
            request.mode,
            force=request.force,
        )
        return pb.Mode(subject=request.subject, mode=mode)

    async def DeleteMode(self, request, context) -> pb.Mode:
        """Answers the removed mode, as Confluent's DELETE /mode/{subject} does."""
        removed = await self._call(context, "DeleteMode", self.service.delete_mode, request.subject)
        return pb.Mode(subject=request.subject, mode=removed)

    async def RegisterConsumer(self, request, context) -> pb.Consumer:
        consumer = await self._call(
            context,
            "RegisterConsumer",
            self.service.register_consumer,
            request.name,
            request.subject,
            version=request.version or None,
            reader_schema=request.reader_schema or None,
            fields=tuple(request.fields),
            format=request.format or None,
        )
        return wire.consumer_to_pb(consumer)

    async def ListConsumers(self, request, context) -> pb.ListConsumersResponse:
        consumers = await self._call(
            context, "ListConsumers", self.service.list_consumers, request.subject or None
        )
        return pb.ListConsumersResponse(consumers=[wire.consumer_to_pb(c) for c in consumers])

    async def RemoveConsumer(self, request, context) -> pb.RemoveConsumerResponse:
        await self._call(
            context, "RemoveConsumer", self.service.remove_consumer, request.name, request.subject
        )
        return pb.RemoveConsumerResponse()

    async def Watch(self, request: pb.WatchRequest, context):
        """Replay, then live events (in batches when the request asks for them); a heartbeat when
        nothing happened for a while. The caller's token is re-checked while the stream is open:
        revoked or expired ends it UNAUTHENTICATED."""
        principal = current_principal.get()

        async def token_still_valid() -> None:
            await asyncio.to_thread(self.tokens.revalidate, principal)

        try:
            if request.after_sequence < 0:
                raise InvalidArgument("after_sequence: must be 0 or more")
            where = EventFilter.of(request.subject_prefix, request.domain, tuple(request.event_types))
            recheck = token_still_valid if principal.token_id is not None else None
            async for batch in self.hub.batches(where, request.after_sequence, recheck):
                if not batch:
                    heartbeat = pb.Heartbeat(latest_sequence=self.hub.position, time=_now_text())
                    await context.write(pb.WatchResponse(heartbeat=heartbeat))
                elif request.batch:  # each write waits for the stream's flow control
                    await context.write(self._watch_message(batch, batched=True))
                else:  # a client that did not ask for batches: one event a message
                    for event in batch:
                        await context.write(self._watch_message((event,), batched=False))
        except MeshgateError as exc:
            context.set_trailing_metadata(grpc_errors.trailing_metadata(exc))
            await context.abort(grpc_errors.status_code(exc), exc.message)

    async def CreateToken(self, request: pb.CreateTokenRequest, context) -> pb.CreateTokenResponse:
        token, secret = await self._call(
            context,
            "CreateToken",
            self.tokens.create,
            request.name,
            request.role,
            tuple(request.domains),
            _lifetime(request.expires_in_seconds),
            current_principal.get().name,
        )
        return pb.CreateTokenResponse(token=wire.api_token_to_pb(token), secret=secret)

    async def ListTokens(self, request: pb.ListTokensRequest, context) -> pb.ListTokensResponse:
        tokens = await self._call(context, "ListTokens", self.tokens.list, request.include_revoked)
        return pb.ListTokensResponse(tokens=[wire.api_token_to_pb(t) for t in tokens])

    async def RevokeToken(self, request: pb.RevokeTokenRequest, context) -> pb.ApiToken:
        token = await self._call(context, "RevokeToken", self.tokens.revoke, request.id)
        return wire.api_token_to_pb(token)

    async def ListAudit(self, request: pb.ListAuditRequest, context) -> pb.ListAuditResponse:
        entries = await self._call(context, "ListAudit", self.tokens.audit, request.limit or 100)
        return pb.ListAuditResponse(entries=[wire.audit_entry_to_pb(e) for e in entries])

    async def AddWebhook(self, request: pb.AddWebhookRequest, context) -> pb.AddWebhookResponse:
        webhook, secret = await self._call(
            context,
            "AddWebhook",
            self.webhooks.add,
            request.url,
            request.secret or None,
            request.subject_prefix,
            tuple(request.event_types),
            request.after_sequence if request.HasField("after_sequence") else None,
            current_principal.get().name,
        )
        return pb.AddWebhookResponse(webhook=wire.webhook_to_pb(webhook), secret=secret)

    async def ListWebhooks(self, request, context) -> pb.ListWebhooksResponse:
        webhooks = await self._call(context, "ListWebhooks", self.webhooks.list)
        return pb.ListWebhooksResponse(webhooks=[wire.webhook_to_pb(w) for w in webhooks])

    async def RemoveWebhook(self, request, context) -> pb.RemoveWebhookResponse:
        await self._call(context, "RemoveWebhook", self.webhooks.remove, request.id)
        return pb.RemoveWebhookResponse()

    async def ListDeliveries(self, request, context) -> pb.ListDeliveriesResponse:
        deliveries = await self._call(
            context,
            "ListDeliveries",
            self.webhooks.deliveries,
            request.webhook_id or None,
            request.limit or 100,
        )
        return pb.ListDeliveriesResponse(deliveries=[wire.delivery_to_pb(d) for d in deliveries])

    async def _call(
        self,
        context,
        method: str,
        fn: Callable[..., Any],
        *args: Any,
        cached: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn`` in a worker thread; the one place where errors become gRPC statuses.

        ``cached`` answers without the thread when it can (a non-blocking cache lookup that returns
        None on a miss): hot reads then stay on the event loop.
        """
        start = time.perf_counter()
        try:
            result = cached() if cached is not None else None
            if cached is not None:
                self.metrics.lookup("grpc", method, hit=result is not None)
            if result is None:
                result = await asyncio.to_thread(fn, *args, **kwargs)
        except MeshgateError as exc:
            self.metrics.observe("grpc", method, time.perf_counter() - start, type(exc).__name__)
            if isinstance(exc, IncompatibleSchema) and method == "Register":
                self.metrics.rejection(args[0].subject)
            context.set_trailing_metadata(grpc_errors.trailing_metadata(exc))
            await self._audit_failure(method, type(exc).__name__)
            await context.abort(grpc_errors.status_code(exc), exc.message)
        except Exception:
            self.metrics.observe("grpc", method, time.perf_counter() - start, "internal")
            request_id = uuid.uuid4().hex[:16]
            log.exception(
                "unexpected error in gRPC %s (request id %s)",
                method,
                request_id,
                extra={UNEXPECTED: request_id},
            )
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            await self._audit_failure(method, grpc.StatusCode.INTERNAL.name)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
        self.metrics.observe("grpc", method, time.perf_counter() - start, OK)
        return result

    async def _audit_failure(self, method: str, outcome: str) -> None:
        """An audited call's failure is recorded before ``abort`` sends its status (see ``record_failure``)."""
        try:
            await asyncio.to_thread(self.tokens.record_failure, outcome)
        except Exception as exc:  # an audit failure must not hide the call's own outcome
            log.error("audit log write failed for %s: %s", method, exc)


def create_grpc_server(
    service: RegistryService,
    metrics: Metrics,
    hub: EventHub,
    tokens: Tokens,
    webhooks: Webhooks,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    max_receive_bytes: int = MAX_RECEIVE_BYTES,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """The gRPC server with the registry, health checking and reflection; the caller binds ports.

    ``interceptors`` run before every RPC, in order (authentication plugs in here).
    """
    server = grpc.aio.server(
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_metadata_size", MAX_HEADER_BYTES),
            # Keep-alive: ping idle Watch clients so a dead peer is noticed; let clients ping us.
            ("grpc.keepalive_time_ms", 20_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ],
    )
    pb_grpc.add_ContractRegistryServicer_to_server(
        RegistryServicer(service, metrics, hub, tokens, webhooks), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services = (
        SERVICE_NAME,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
        REFLECTION_V1,
    )
    reflection.enable_server_reflection(services, server)
    server.add_generic_rpc_handlers((_reflection_v1(services),))
    return server, health_servicer


def _reflection_v1(services: Sequence[str]) -> grpc.GenericRpcHandler:
    """``grpc.reflection.v1``, which current tools (grpcurl, Postman) try first.

    grpcio-reflection serves only v1alpha; v1's messages are v1alpha's under a new package name
    (same fields and numbers, so the same bytes), so v1alpha's servicer answers v1 too.
    """
    servicer = reflection.aio.ReflectionServicer(services)
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": method})


def _lifetime(seconds: int) -> timedelta | None:
    """A token's ``expires_in_seconds`` (0: never expires); ``Tokens.create`` refuses the rest."""
    if not seconds:
        return None
    return timedelta(seconds=max(-1, min(seconds, MAX_TOKEN_LIFETIME_SECONDS)))


def _now_text() -> str:
    return datetime.now(UTC).isoformat()
