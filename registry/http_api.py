"""The registry's HTTP side: ``/healthz``, ``/metrics`` and the Confluent Schema Registry REST API.

The REST routes are the ones ``confluent_kafka.schema_registry.SchemaRegistryClient`` and the Kafka
serializers call, with Confluent's paths, query parameters, JSON shapes and error codes, so existing
clients work unchanged. Every route is a thin translation onto ``RegistryService``; the service's calls
are synchronous and run in the thread pool. Errors are the types of ``registry.errors``, turned into
``{"error_code": N, "message": "..."}`` in one place (``_endpoint``; a refused schema adds its
``violations`` and ``brokenConsumers``); anything unexpected becomes a 500
with a generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from registry.auth import ANONYMOUS, Access, Principal, Tokens, authorize, secret_from_header
from registry.compat import DEFAULT_FORMAT, FORMATS, Level, SchemaFormat, get_format
from registry.contract import Reference
from registry.data_contracts import parse_metadata, parse_rule_set, served
from registry.errors import (
    UNEXPECTED,
    IncompatibleSchema,
    InvalidArgument,
    InvalidCompatibilityLevel,
    InvalidRuleset,
    InvalidSchema,
    MeshgateError,
    PayloadTooLarge,
    PermissionDenied,
    SchemaNotFound,
    SubjectConfigNotFound,
    Unauthenticated,
)
from registry.limits import check_headers, check_json_text, check_subject, decode_utf8
from registry.metrics import OK, Metrics
from registry.model import DataContractConfig
from registry.versions import LATEST, parse_version

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""Largest request body accepted (4 MiB): room for a 1 MiB schema even when JSON escaping grows it."""

RULESET_KEY = "compatibilityRuleset"
"""meshgate's extension of the config body: the format's named rule set (Protobuf ``WIRE``, …)."""
_MAX_ID = 2**31 - 1

Handler = Callable[[Request], Awaitable[Any]]
REQUEST_ID_HEADER = "X-Request-Id"
_REFUSALS = {Unauthenticated.__name__, PermissionDenied.__name__}


class RegistryJSONResponse(JSONResponse):
    media_type = CONTENT_TYPE


def create_app(
    service: Any,
    *,
    metrics: Metrics | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    tokens: Tokens | None = None,
    auth: bool = False,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The HTTP application over ``service`` (a ``registry.service.RegistryService``).

    ``metrics`` is the server's ``Metrics`` shared with its gRPC side; one is made when not given.
    Request bodies over ``max_request_bytes`` are refused with 413 before they are parsed.
    With ``auth`` every route but /healthz and /metrics needs a token of ``tokens``
    (``Authorization: Bearer <token>``, or Basic with the token as the password); writes and refusals
    are audited in ``tokens`` whenever it is given (a write's row in the write's own transaction),
    allowed reads with ``auth`` (queued, written in batches by ``tokens.reads``).
    ``extra_routes`` are served beside the API (e.g. a ``Mount`` of the web console) and check their
    callers themselves.
    """
    if auth and tokens is None:
        raise ValueError("auth needs the token store")
    api = _ConfluentApi(service, metrics or Metrics(), max_request_bytes, tokens, auth)
    write = Access.WRITE_SUBJECT
    routes = [
        api.route("GET", "/healthz", api.healthz, Access.OPEN),
        api.route("GET", "/metrics", api.metrics_text, Access.OPEN),
        api.route("GET", "/schemas/types", api.schema_types),
        api.route("GET", "/schemas/ids/{schema_id:int}", api.schema_by_id),
        api.route("GET", "/schemas/ids/{schema_id:int}/schema", api.schema_text_by_id),
        api.route("GET", "/schemas/ids/{schema_id:int}/subjects", api.subjects_by_id),
        api.route("GET", "/schemas/ids/{schema_id:int}/versions", api.versions_by_id),
        api.route("GET", "/schemas/guids/{guid}", api.schema_by_guid),
        api.route("GET", "/contexts", api.contexts),
        api.route("GET", "/subjects", api.list_subjects),
        # Subjects may hold "/" (sent as %2F, decoded before routing): longest suffixes first.
        api.route("GET", "/subjects/{subject:path}/versions/{version}/schema", api.get_version_text),
        api.route("GET", "/subjects/{subject:path}/versions/{version}/referencedby", api.referenced_by),
        api.route("GET", "/subjects/{subject:path}/versions/{version}", api.get_version),
        api.route("DELETE", "/subjects/{subject:path}/versions/{version}", api.delete_version, write),
        api.route("GET", "/subjects/{subject:path}/versions", api.list_versions),
        api.route("POST", "/subjects/{subject:path}/versions", api.register, write),
        api.route("GET", "/subjects/{subject:path}/metadata", api.latest_with_metadata),
        api.route("POST", "/subjects/{subject:path}", api.lookup),
        api.route("DELETE", "/subjects/{subject:path}", api.delete_subject, write),
        api.route("POST", "/compatibility/subjects/{subject:path}/versions/{version}", api.check_version),
        api.route("POST", "/compatibility/subjects/{subject:path}/versions", api.check_all),
        api.route("GET", "/config", api.get_config),
        api.route("PUT", "/config", api.set_config, write),
        api.route("DELETE", "/config", api.delete_config, write),
        api.route("GET", "/config/{subject:path}", api.get_config),
        api.route("PUT", "/config/{subject:path}", api.set_config, write),
        api.route("DELETE", "/config/{subject:path}", api.delete_config, write),
        api.route("GET", "/mode", api.get_mode),
        api.route("PUT", "/mode", api.set_mode, write),
        api.route("GET", "/mode/{subject:path}", api.get_mode),
        api.route("PUT", "/mode/{subject:path}", api.set_mode, write),
        api.route("DELETE", "/mode/{subject:path}", api.delete_mode, write),
        *extra_routes,
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})


class _ConfluentApi:
    """The route handlers; each returns a JSON-able value or a ``Response``, or raises an error type."""

    def __init__(
        self, service: Any, metrics: Metrics, max_request_bytes: int, tokens: Tokens | None, auth: bool
    ):
        self.service = service
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.tokens = tokens
        self.auth = auth

    def route(self, method: str, path: str, handler: Handler, access: Access = Access.READ) -> Route:
        audit_name = f"{method} {path.replace(':path', '').replace(':int', '')}"
        return Route(
            path, self._endpoint(handler, access, audit_name), methods=[method], name=f"{method} {path}"
        )

    def _endpoint(
        self, handler: Handler, access: Access, name: str
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: check the request's text and the caller, map errors to Confluent error
        bodies once, record the request (and audit a write or a refusal; with auth on, queue a read's row)."""
        method = handler.__name__

        audited = access is Access.WRITE_SUBJECT and self.tokens is not None

        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            outcome = OK
            principal = None
            pending = None
            try:
                check_headers(request.scope.get("headers") or [])
                principal = await self._authenticate(request, access)  # a refusal names its caller
                _check_target(request)
                self._authorize(request, access, principal)
                if audited:
                    with self.tokens.auditing(principal, name, _target(request), _peer(request)) as pending:
                        result = await handler(request)
                else:
                    result = await handler(request)
                response = result if isinstance(result, Response) else RegistryJSONResponse(result)
            except MeshgateError as exc:
                outcome = type(exc).__name__
                response = _error_response(exc)
                if isinstance(exc, Unauthenticated):
                    response.headers["WWW-Authenticate"] = 'Basic realm="meshgate", charset="UTF-8"'
            except Exception:
                outcome = "internal"
                request_id = uuid.uuid4().hex[:16]
                log.exception(
                    "unexpected error in HTTP %s %s (request id %s)",
                    request.method,
                    request.url.path,
                    request_id,
                    extra={UNEXPECTED: request_id},
                )
                response = _error(500, 50001, "internal server error")
                response.headers[REQUEST_ID_HEADER] = request_id
            self.metrics.observe("http", method, time.perf_counter() - start, outcome)
            if self.tokens is not None and (audited or outcome in _REFUSALS):
                if pending is None or not pending.written:  # else it committed with the change
                    await self._audit(request, name, principal, outcome)
            elif self.auth and principal is not None:  # an allowed read: queued, written in a batch
                self.tokens.record_read(principal, name, _target(request), _peer(request), outcome)
            return response

        return endpoint

    async def _authenticate(self, request: Request, access: Access) -> Principal | None:
        """The caller (None for open routes); ``Unauthenticated`` without a valid token."""
        if access is Access.OPEN:
            return None
        if not self.auth:
            return ANONYMOUS
        secret = secret_from_header(request.headers.get("authorization"))
        return await run_in_threadpool(self.tokens.authenticate, secret)

    def _authorize(self, request: Request, access: Access, principal: Principal | None) -> None:
        if principal is not None:
            authorize(principal, access, request.path_params.get("subject", ""))

    async def _audit(self, request: Request, name: str, principal: Principal | None, outcome: str) -> None:
        try:
            await run_in_threadpool(
                self.tokens.record, principal, name, _target(request), _peer(request), outcome
            )
        except Exception as exc:  # an audit failure must not hide the call's own outcome
            log.error("audit log write failed for %s: %s", name, exc)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def _body(self, request: Request) -> dict:
        """The request's JSON object, refused with 413 past ``max_request_bytes`` (before parsing)."""
        declared = request.headers.get("content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_request_bytes
        ):
            raise _too_large(int(declared), self.max_request_bytes)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_request_bytes:
                raise _too_large(size, self.max_request_bytes)
            chunks.append(chunk)
        text = decode_utf8(b"".join(chunks), "request body")
        check_json_text(text, "request body")
        try:
            body = json.loads(text or "null")
        except ValueError as exc:
            raise InvalidArgument(f"request body: not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidArgument("request body: expected a JSON object")
        return body

    # -- health and metrics

    async def healthz(self, request: Request) -> Response:
        try:
            await self._call(self.service.ping)
        except Exception as exc:
            log.warning("health check failed: %s", exc)
            return RegistryJSONResponse({"status": "unavailable"}, status_code=503)
        return RegistryJSONResponse({"status": "ok"})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    # -- schemas by id

    async def schema_types(self, request: Request) -> list[str]:
        return list(FORMATS)

    async def schema_by_id(self, request: Request) -> dict:
        record = await self._record(request)
        text = await self._schema_text(request, record.format, record.schema, record.references)
        return {**_schema_body(record.format, text, record.references), "guid": record.guid}

    async def schema_by_guid(self, request: Request) -> dict:
        record = await self._call(self.service.get_by_guid, request.path_params["guid"])
        text = await self._schema_text(request, record.format, record.schema, record.references)
        return {**_schema_body(record.format, text, record.references), "id": record.id, "guid": record.guid}

    async def contexts(self, request: Request) -> list[str]:
        """meshgate has one schema context, Confluent's default one, "."."""
        return _page(request, ["."])

    async def schema_text_by_id(self, request: Request) -> Response:
        record = await self._record(request)
        return Response(record.schema, media_type=CONTENT_TYPE)

    async def _record(self, request: Request) -> Any:
        """The schema of the path's id: a cache hit is answered here, a miss in the thread pool."""
        schema_id = _schema_id(request)
        cached = self.service.cached_schema(schema_id)
        self.metrics.lookup("http", "schema_by_id", hit=cached is not None)
        return cached or await self._call(self.service.get_by_id, schema_id)

    async def subjects_by_id(self, request: Request) -> list[str]:
        subjects = await self._call(self.service.subjects_for_id, _schema_id(request))
        wanted = request.query_params.get("subject")
        return _page(request, [s for s in subjects if wanted is None or s == wanted])

    async def versions_by_id(self, request: Request) -> list[dict]:
        pairs = await self._call(self.service.versions_for_id, _schema_id(request))
        wanted = request.query_params.get("subject")
        found = [{"subject": s, "version": v} for s, v in pairs if wanted is None or s == wanted]
        return _page(request, found)

    # -- subjects and versions

    async def list_subjects(self, request: Request) -> list[str]:
        prefix = request.query_params.get("subjectPrefix", "")
        deleted = _flag(request, "deleted")
        if _flag(request, "deleted_only"):
            everything = await self._call(self.service.list_subjects, prefix, include_deleted=True)
            live = set(await self._call(self.service.list_subjects, prefix))
            return _page(request, [s for s in everything if s not in live])
        return _page(request, await self._call(self.service.list_subjects, prefix, include_deleted=deleted))

    async def list_versions(self, request: Request) -> list[int]:
        subject = request.path_params["subject"]
        if _flag(request, "deleted_only"):
            everything = await self._call(self.service.list_versions, subject, include_deleted=True)
            live = set(await self._call(self.service.list_versions, subject))
            return _page(request, [v for v in everything if v not in live])
        deleted = _flag(request, "deleted")
        return _page(request, await self._call(self.service.list_versions, subject, include_deleted=deleted))

    async def register(self, request: Request) -> dict:
        subject = request.path_params["subject"]
        body = await self._body(request)
        schema = _schema_request(body)
        try:
            registered = await self._call(
                self.service.register,
                subject,
                schema["schema"],
                format=schema["format"],
                references=schema["references"],
                normalize=_flag(request, "normalize"),
                data_metadata=schema["metadata"],
                rule_set=schema["ruleSet"],
                schema_id=_optional_number(body, "id"),
                version=_optional_number(body, "version"),
            )
        except IncompatibleSchema:
            self.metrics.rejection(subject)
            raise
        # Like Confluent: no schema text in the answer, so a client caches the schema it sent.
        return {
            "id": registered.schema_id,
            "version": registered.version,
            "subject": registered.subject,
            "guid": registered.guid,
        }

    async def lookup(self, request: Request) -> dict:
        subject = request.path_params["subject"]
        schema = _schema_request(await self._body(request))
        found = await self._call(
            self.service.lookup,
            subject,
            schema["schema"],
            format=schema["format"],
            references=schema["references"],
            include_deleted=_flag(request, "deleted"),
        )
        return _registered_body(found)

    async def get_version(self, request: Request) -> dict:
        found = await self._version(request)
        text = await self._schema_text(request, found.format, found.schema, found.references)
        return {**_registered_body(found), "schema": text}

    async def latest_with_metadata(self, request: Request) -> dict:
        """Confluent's ``use.latest.with.metadata``: ``?key=k1&value=v1&key=k2&value=v2``."""
        keys, values = request.query_params.getlist("key"), request.query_params.getlist("value")
        if len(keys) != len(values):
            raise InvalidArgument("query parameters key and value: give one value for each key")
        found = await self._call(
            self.service.latest_with_metadata,
            request.path_params["subject"],
            dict(zip(keys, values, strict=True)),
            include_deleted=_flag(request, "deleted"),
        )
        text = await self._schema_text(request, found.format, found.schema, found.references)
        return {**_registered_body(found), "schema": text}

    async def referenced_by(self, request: Request) -> list[int]:
        subject = request.path_params["subject"]
        version = _version(request.path_params["version"])
        return _page(request, await self._call(self.service.referenced_by, subject, version))

    async def get_version_text(self, request: Request) -> Response:
        found = await self._version(request)
        return Response(found.schema, media_type=CONTENT_TYPE)

    async def _schema_text(self, request: Request, format_name: str, text: str, references: Any) -> str:
        """The stored text, or for ``format=serialized`` the serialized form of a format that has one
        (a Protobuf schema's base64 descriptor: what Confluent's Protobuf deserializers ask for)."""
        schema_format = get_format(format_name)
        if not schema_format.serialized_form or request.query_params.get("format") != "serialized":
            return text
        imports = await self._imports(references)
        return await self._call(schema_format.to_serialized, text, imports)

    async def _imports(self, references: Any) -> dict[str, str]:
        """Reference name -> text of every schema ``references`` name, transitively."""
        imports: dict[str, str] = {}
        pending = list(references)
        while pending:
            reference = pending.pop()
            if reference.name not in imports:
                found = await self._call(
                    self.service.get_version, reference.subject, reference.version, include_deleted=True
                )
                imports[reference.name] = found.schema
                pending.extend(found.references)
        return imports

    async def _version(self, request: Request) -> Any:
        """The path's version; a live one in the cache is answered without the thread pool."""
        subject = request.path_params["subject"]
        version = _version(request.path_params["version"])
        deleted = _flag(request, "deleted")
        if not deleted:
            cached = self.service.cached_version(subject, version)
            self.metrics.lookup("http", "get_version", hit=cached is not None)
            if cached is not None:
                return cached
        return await self._call(self.service.get_version, subject, version, include_deleted=deleted)

    async def delete_subject(self, request: Request) -> list[int]:
        subject = request.path_params["subject"]
        return await self._call(self.service.delete_subject, subject, permanent=_flag(request, "permanent"))

    async def delete_version(self, request: Request) -> int:
        subject = request.path_params["subject"]
        version = _version(request.path_params["version"])
        permanent = _flag(request, "permanent")
        return await self._call(self.service.delete_version, subject, version, permanent=permanent)

    # -- compatibility

    async def check_version(self, request: Request) -> dict:
        return await self._check(request, _version(request.path_params["version"]))

    async def check_all(self, request: Request) -> dict:
        return await self._check(request, "all")

    async def _check(self, request: Request, version: int | str) -> dict:
        subject = request.path_params["subject"]
        schema = _schema_request(await self._body(request))
        result = await self._call(
            self.service.check,
            subject,
            schema["schema"],
            format=schema["format"],
            references=schema["references"],
            version=version,
            data_metadata=schema["metadata"],
        )
        body: dict[str, Any] = {"is_compatible": result.compatible}
        if _flag(request, "verbose"):
            body["messages"] = [_violation_text(v) for v in result.violations]
        if result.broken_consumers:
            body["brokenConsumers"] = [_broken_consumer_body(c) for c in result.broken_consumers]
        return body

    # -- config and mode

    async def get_config(self, request: Request) -> dict:
        """As Confluent: a subject without a level of its own is 40408 unless ``defaultToGlobal=true``."""
        subject = request.path_params.get("subject")
        default_to_global = subject is None or _flag(request, "defaultToGlobal")
        config = await self._call(self.service.get_config, subject)
        if config.inherited and not default_to_global:
            raise SubjectConfigNotFound(
                f"subject {subject!r} has no compatibility level of its own: the global one applies "
                "(GET /config, or defaultToGlobal=true)"
            )
        return _config_body("compatibilityLevel", config)

    async def set_config(self, request: Request) -> dict:
        """Confluent's PUT /config: the fields given replace the scope's own, the others stay; a body
        with data-contract settings may leave the level out (the one in force stays)."""
        subject = request.path_params.get("subject")
        body = await self._body(request)
        data_contract = _data_contract_config(body)
        text = body.get("compatibility", body.get("compatibilityLevel"))
        if text is None and data_contract == DataContractConfig():
            raise InvalidCompatibilityLevel(
                "request body: 'compatibility' (a compatibility level) is required"
            )
        level = None
        if text is not None:
            if not isinstance(text, str):
                raise InvalidCompatibilityLevel("request body: 'compatibility' must be a level name")
            try:
                level = Level.parse(text)
            except ValueError as exc:
                raise InvalidCompatibilityLevel(f"compatibility: {exc}") from None
        ruleset = body.get(RULESET_KEY)
        if ruleset is not None and (not isinstance(ruleset, str) or not ruleset):
            raise InvalidRuleset(f"request body: {RULESET_KEY!r} must be a rule set name or null")
        config = await self._call(self.service.set_config, subject, level, ruleset, data_contract)
        return _config_body("compatibility", config)

    async def delete_config(self, request: Request) -> dict:
        removed = await self._call(self.service.delete_config, request.path_params.get("subject"))
        return {"compatibilityLevel": removed.level.value}

    async def get_mode(self, request: Request) -> dict:
        mode = await self._call(self.service.get_mode, request.path_params.get("subject"))
        return {"mode": mode}

    async def set_mode(self, request: Request) -> dict:
        body = await self._body(request)
        mode = body.get("mode")
        if not isinstance(mode, str):
            raise InvalidArgument("request body: 'mode' (READWRITE, READONLY or IMPORT) is required")
        mode = await self._call(
            self.service.set_mode,
            request.path_params.get("subject"),
            mode.upper(),
            force=_flag(request, "force"),
        )
        return {"mode": mode}

    async def delete_mode(self, request: Request) -> dict:
        """Confluent's DELETE /mode/{subject}: answers the removed mode (40409 when none was set)."""
        return {"mode": await self._call(self.service.delete_mode, request.path_params["subject"])}


def _schema_request(body: dict) -> dict:
    """The schema, format and references of a register / lookup / compatibility request body."""
    text = body.get("schema")
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchema("request body: 'schema' (the schema text) is required")
    schema_format = _schema_type(body.get("schemaType") or DEFAULT_FORMAT)
    return {
        "schema": schema_format.source_text(text),  # Confluent's Protobuf serializers send descriptors
        "format": schema_format.name,
        "references": _references(body.get("references")),
        "metadata": parse_metadata(body.get("metadata"), "request body: metadata"),
        "ruleSet": parse_rule_set(body.get("ruleSet"), "request body: ruleSet"),
    }


def _optional_number(body: dict, key: str) -> int | None:
    """``id`` / ``version`` of a register body (IMPORT mode); Confluent sends -1 or 0 for none."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"request body: {key!r} must be an integer")
    return value if value > 0 else None


_DATA_CONTRACT_KEYS = {
    "compatibilityGroup": "compatibility_group",
    "defaultMetadata": "default_metadata",
    "overrideMetadata": "override_metadata",
    "defaultRuleSet": "default_rule_set",
    "overrideRuleSet": "override_rule_set",
}


def _data_contract_config(body: dict) -> DataContractConfig:
    group = body.get("compatibilityGroup")
    if group is not None and (not isinstance(group, str) or not group):
        raise InvalidArgument("request body: 'compatibilityGroup' must be a metadata property name")
    where = "request body: "
    return DataContractConfig(
        compatibility_group=group,
        default_metadata=parse_metadata(body.get("defaultMetadata"), where + "defaultMetadata"),
        override_metadata=parse_metadata(body.get("overrideMetadata"), where + "overrideMetadata"),
        default_rule_set=parse_rule_set(body.get("defaultRuleSet"), where + "defaultRuleSet"),
        override_rule_set=parse_rule_set(body.get("overrideRuleSet"), where + "overrideRuleSet"),
    )


def _schema_type(schema_type: Any) -> SchemaFormat:
    """The format a request's ``schemaType`` names; one meshgate does not store is 42201."""
    try:
        return get_format(schema_type if isinstance(schema_type, str) else "")
    except ValueError:
        raise InvalidSchema(
            f"request body: schemaType {schema_type!r} is not supported; meshgate stores "
            f"{', '.join(FORMATS)} schemas"
        ) from None


def _references(raw: Any) -> list[Reference]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidArgument("request body: 'references' must be a list")
    references = []
    for i, item in enumerate(raw):
        where = f"request body: references[{i}]"
        if not isinstance(item, dict):
            raise InvalidArgument(f"{where}: expected an object with name, subject and version")
        name, subject, version = item.get("name"), item.get("subject"), item.get("version")
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"{where}.name: a non-empty string is required")
        if not isinstance(subject, str) or not subject:
            raise InvalidArgument(f"{where}.subject: a non-empty string is required")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidArgument(f"{where}.version: a positive integer is required")
        references.append(Reference(name=name, subject=subject, version=version))
    return references


def _target(request: Request) -> str:
    """What an audit line names as the call's target: the path's subject, or ``(global)``; a path
    whose subject is not one (``bad.%FF``, which Starlette reads as ``bad.\ufffd``) as it was sent."""
    subject = request.path_params.get("subject", "")
    if not subject:
        return "(global)"
    try:
        return check_subject(subject)
    except MeshgateError:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        return f"path {raw.decode('ascii', 'backslashreplace')}"


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else ""


def _check_target(request: Request) -> None:
    """The raw path and query decode as UTF-8 (``%FF`` is refused, not read as U+FFFD) and the
    path's subject follows the subject grammar."""
    decode_utf8(unquote_to_bytes(request.scope.get("raw_path") or b""), "request path")
    decode_utf8(unquote_to_bytes(request.scope.get("query_string", b"").replace(b"+", b" ")), "query string")
    subject = request.path_params.get("subject")
    if subject is not None:
        check_subject(subject, "path: subject")


def _schema_id(request: Request) -> int:
    """The path's schema id; ids are 32-bit, so a larger number names no schema."""
    schema_id = request.path_params["schema_id"]
    if schema_id > _MAX_ID:
        raise SchemaNotFound(f"schema id {schema_id} not found")
    return schema_id


def _version(text: str) -> int | str:
    """A path's version: a number in [1, 2^31-1], or ``latest`` (also spelt ``-1``, as Confluent does)."""
    return parse_version(text) or LATEST


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter; clients send ``true``/``false`` in any case."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise InvalidArgument(f"query parameter {name}: {value!r} is not true or false")
    return lowered == "true"


def _page(request: Request, items: list) -> list:
    """Apply Confluent's ``offset`` / ``limit`` query parameters (a negative limit means all)."""
    offset = _int_param(request, "offset", 0)
    limit = _int_param(request, "limit", -1)
    if offset < 0:
        raise InvalidArgument(f"query parameter offset: {offset} is negative")
    items = items[offset:]
    return items if limit < 0 else items[:limit]


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"query parameter {name}: {value!r} is not an integer") from None


def _schema_body(schema_format: str, text: str, references: Any) -> dict:
    """Confluent's schema object: ``schemaType`` is omitted for the default (Avro), as Confluent does."""
    body: dict[str, Any] = {"schema": text}
    if schema_format != DEFAULT_FORMAT:
        body["schemaType"] = schema_format
    if references:
        body["references"] = [
            {"name": r.name, "subject": r.subject, "version": r.version} for r in references
        ]
    return body


def _registered_body(registered: Any) -> dict:
    """A version as Confluent answers it, with its data contract (``registry.data_contracts.served``)."""
    body = {"subject": registered.subject, "version": registered.version, "id": registered.schema_id}
    body.update(_schema_body(registered.format, registered.schema, registered.references))
    metadata, rule_set = served(
        registered.subject, registered.metadata, registered.data_metadata, registered.rule_set
    )
    if metadata is not None:
        body["metadata"] = metadata
    if rule_set is not None:
        body["ruleSet"] = rule_set
    if registered.guid:
        body["guid"] = registered.guid
    return body


def _violation_text(violation: Any) -> str:
    line = f" (line {violation.line})" if violation.line is not None else ""
    return f"{violation.rule} at {violation.path}{line}: {violation.message}"


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body of {size} bytes exceeds the limit of {limit} bytes")


def _config_body(level_key: str, config: Any) -> dict:
    """Confluent's config object; meshgate's compatibility rule set, when one is set, under ``RULESET_KEY``."""
    body = {level_key: config.level.value}
    if config.ruleset is not None:
        body[RULESET_KEY] = config.ruleset
    for key, name in _DATA_CONTRACT_KEYS.items():
        value = getattr(config.data_contract, name)
        if value is not None:
            body[key] = value
    return body


def _broken_consumer_body(consumer: Any) -> dict:
    return {
        "name": consumer.name,
        "fields": list(consumer.fields),
        "violations": [v.to_dict() for v in consumer.violations],
    }


def _error_response(exc: MeshgateError) -> Response:
    """Confluent's error body; a refused schema adds its violations and the consumers it breaks."""
    body: dict[str, Any] = {"error_code": exc.error_code, "message": exc.message}
    if isinstance(exc, IncompatibleSchema):
        body["violations"] = [v.to_dict() for v in exc.violations]
        body["brokenConsumers"] = [_broken_consumer_body(c) for c in exc.broken_consumers]
    return RegistryJSONResponse(body, status_code=exc.http_status)


def _error(status: int, code: int, message: str) -> Response:
    return RegistryJSONResponse({"error_code": code, "message": message}, status_code=status)


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    """Unknown routes and methods answer in Confluent's error shape too."""
    return _error(exc.status_code, exc.status_code, f"HTTP {exc.status_code} {exc.detail}")
