"""Authentication and authorisation of gRPC calls: a grpc.aio server interceptor.

A grpc.aio interceptor sees the method and the metadata but not the request, and the rules need the
request's subject (and consumer name). So the interceptor wraps the method's handler: the wrapper
reads ``authorization: Bearer …``, finds the token, checks the rule of the method against the request,
then runs the method with the caller in ``current_principal`` (the token RPCs read it). Writes and
every refusal go to the audit log with the caller's peer address; a write's row commits in the
write's own transaction (``Tokens.auditing``). With auth on, an allowed read's row (a stream's once, at
its opening) is queued and written later in a batch (``Tokens.record_read``). Health checking and reflection
stay open (load balancers and ``grpcurl list`` carry no token).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

import grpc

from registry import grpc_errors
from registry.auth import ANONYMOUS, Access, Principal, Tokens, authorize, secret_from_header
from registry.errors import MeshgateError, PermissionDenied, Unauthenticated
from registry.grpc_edge import WrappingInterceptor

log = logging.getLogger(__name__)

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "current_principal", default=ANONYMOUS
)

# What each ContractRegistry method needs, and which request fields name its subject / consumer.
RULES: dict[str, Access] = {
    "Register": Access.WRITE_SUBJECT,
    "DeleteSubject": Access.WRITE_SUBJECT,
    "DeleteVersion": Access.WRITE_SUBJECT,
    "SetConfig": Access.WRITE_SUBJECT,
    "DeleteConfig": Access.WRITE_SUBJECT,
    "SetMode": Access.WRITE_SUBJECT,
    "DeleteMode": Access.WRITE_SUBJECT,
    "RegisterConsumer": Access.CONSUMER,
    "RemoveConsumer": Access.CONSUMER,
    "CreateToken": Access.ADMIN,
    "RevokeToken": Access.ADMIN,
    "ListTokens": Access.ADMIN,
    "ListAudit": Access.ADMIN,
    "AddWebhook": Access.ADMIN,
    "ListWebhooks": Access.ADMIN,
    "RemoveWebhook": Access.ADMIN,
    "ListDeliveries": Access.ADMIN,
}  # every other method: READ
_AUDITED = {name for name, access in RULES.items() if access is not Access.ADMIN} | {
    "CreateToken",
    "RevokeToken",
    "AddWebhook",
    "RemoveWebhook",
}


class AuthInterceptor(WrappingInterceptor):
    """``required=False`` (auth off): every caller is ``ANONYMOUS`` (an admin); writes are still audited."""

    def __init__(self, tokens: Tokens, service_name: str, required: bool = True):
        super().__init__()
        self.tokens = tokens
        self.service_name = service_name
        self.required = required

    def wrap(self, path: str, handler) -> Any:
        service, _, method = path.lstrip("/").partition("/")
        if handler is None or service != self.service_name:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._guard_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._guard_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _guard_unary(self, method: str, inner: Callable) -> Callable:
        async def guarded(request, context):
            principal = await self._admit(method, request, context)
            current_principal.set(principal)
            if method not in _AUDITED:
                if self.required:
                    return await self._read(method, inner, request, context, principal)
                return await inner(request, context)
            with self.tokens.auditing(principal, method, _target(method, request), context.peer()) as pending:
                try:
                    response = await inner(request, context)
                except BaseException as exc:  # an abort: the servicer set the status
                    outcome, error = _outcome(context), exc
                else:
                    outcome, error = "ok", None
            if not pending.written:  # else the row committed with the change
                await self._audit(method, request, context, principal, outcome)
            if error is not None:
                raise error
            return response

        return guarded

    def _guard_stream(self, method: str, inner: Callable) -> Callable:
        async def guarded(request, context):
            principal = await self._admit(method, request, context)
            current_principal.set(principal)
            if self.required:
                self.tokens.record_read(principal, method, _target(method, request), context.peer(), "ok")
            result = inner(request, context)
            if inspect.isasyncgen(result):
                async for response in result:
                    await context.write(response)
            else:
                await result  # a handler that writes to the context itself (Watch)

        return guarded

    async def _read(self, method: str, inner: Callable, request, context, principal: Principal) -> Any:
        """Run an allowed read; queue its audit line with the outcome (never waits on the store)."""
        outcome = "ok"
        try:
            return await inner(request, context)
        except BaseException:
            outcome = _outcome(context)
            raise
        finally:
            self.tokens.record_read(principal, method, _target(method, request), context.peer(), outcome)

    async def _admit(self, method: str, request, context) -> Principal:
        """The caller, allowed to make this call; else the call ends UNAUTHENTICATED / PERMISSION_DENIED."""
        access = RULES.get(method, Access.READ)
        principal = None
        try:
            if self.required:
                header = dict(context.invocation_metadata() or ()).get("authorization")
                principal = await asyncio.to_thread(self.tokens.authenticate, secret_from_header(header))
            else:
                principal = ANONYMOUS
            authorize(principal, access, _subject(request), getattr(request, "name", ""))
            return principal
        except (Unauthenticated, PermissionDenied) as exc:
            await self._audit(method, request, context, principal, type(exc).__name__)
            context.set_trailing_metadata(((grpc_errors.ERROR_KEY, grpc_errors.encode(exc)),))
            await context.abort(grpc_errors.status_code(exc), exc.message)
        except MeshgateError as exc:  # the store is down
            context.set_trailing_metadata(((grpc_errors.ERROR_KEY, grpc_errors.encode(exc)),))
            await context.abort(grpc_errors.status_code(exc), exc.message)

    async def refused_at_edge(self, method: str, request, context, exc: MeshgateError) -> None:
        """Audit a call the edge refused (``request`` None: it did not decode) as its caller when a
        valid token came with it, as REST audits a malformed path: a write always, a read with auth
        on (queued like an allowed read's row when the token is valid)."""
        if method not in _AUDITED and not self.required:
            return
        principal = ANONYMOUS if not self.required else None
        if self.required:
            header = dict(context.invocation_metadata() or ()).get("authorization")
            with contextlib.suppress(MeshgateError):
                principal = await asyncio.to_thread(self.tokens.authenticate, secret_from_header(header))
        if method not in _AUDITED and principal is not None:
            target = _target(method, request)
            self.tokens.record_read(principal, method, target, context.peer(), type(exc).__name__)
            return
        await self._audit(method, request, context, principal, type(exc).__name__)

    async def _audit(self, method: str, request, context, principal: Principal | None, outcome: str) -> None:
        try:
            target = _target(method, request)
            await asyncio.to_thread(self.tokens.record, principal, method, target, context.peer(), outcome)
        except Exception as exc:  # an audit failure must not hide the call's own outcome
            log.error("audit log write failed for %s: %s", method, exc)


def _target(method: str, request) -> str:
    """What an audit line names as the call's target."""
    if request is None:
        return "(malformed request)"
    if method == "CreateToken":
        return f"token {request.name}"
    if method == "RevokeToken":
        return f"token id {request.id}"
    if method == "AddWebhook":
        return f"webhook {request.url}"
    if method == "RemoveWebhook":
        return f"webhook id {request.id}"
    target = _subject(request) or "(global)"
    if getattr(request, "name", ""):
        target = f"{target} consumer {request.name}"
    return target


def _subject(request) -> str:
    return getattr(request, "subject", "") or ""


def _outcome(context) -> str:
    """The error type the servicer sent (``meshgate-error-bin``), as REST audits it; else the code."""
    for key, value in context.trailing_metadata() or ():
        if key == grpc_errors.ERROR_KEY:
            with contextlib.suppress(ValueError, AttributeError):
                return json.loads(value)["type"]
    code = context.code() if hasattr(context, "code") else None
    return code.name if isinstance(code, grpc.StatusCode) else "error"
