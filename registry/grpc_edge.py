"""The edge of the gRPC server: every ContractRegistry request is checked here before any handler.

The interceptor takes the request's raw bytes and decodes them itself, so a message that does not
parse (invalid UTF-8 in a string field, truncated bytes) is INVALID_ARGUMENT naming the message,
not gRPC's UNKNOWN "Unexpected DecodeError". Then every string field must be well-formed and within
the string limit, every repeated field within the list limit, and every ``subject`` (and
``references[].subject``) must follow the subject grammar (``registry.limits``). An exception no
handler expected is logged with a request id (``meshgate-request-id`` in the trailing metadata) and
answered INTERNAL "internal server error".
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from registry import grpc_errors
from registry.errors import UNEXPECTED, MalformedText, MeshgateError
from registry.limits import check_list, check_string_field, check_subject, check_text

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "meshgate-request-id"
Refused = Callable[[str, "Message | None", Any, MeshgateError], Awaitable[None]]
"""``(method, request or None when it did not decode, context, error)``."""
_SCHEMA_FIELDS = {"schema", "reader_schema"}  # limited by ``MAX_SCHEMA_BYTES``, in the service


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """An interceptor that wraps each method's handler once (``wrap``), not on every call."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # method path -> (its handler, wrapped)

    async def intercept_service(self, continuation, details) -> Any:
        handler = await continuation(details)
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None and wrapped[0] is handler:
            return wrapped[1]  # the method's handler is one object
        result = self.wrap(details.method, handler)
        if handler is not None:  # a known method: the table stays as small as the service
            self._wrapped[details.method] = (handler, result)
        return result

    def wrap(self, path: str, handler) -> Any:
        raise NotImplementedError


class EdgeInterceptor(WrappingInterceptor):
    """Decode and check the requests of ``service_name``; must be the first interceptor."""

    def __init__(self, service_name: str, on_refused: Refused | None = None):
        super().__init__()
        self.service_name = service_name
        self.on_refused = on_refused
        """Told of every request refused here (before it is aborted): the audit of the refusal."""

    def wrap(self, path: str, handler) -> Any:
        service, _, method = path.lstrip("/").partition("/")
        if handler is None or service != self.service_name:
            return handler
        decode = handler.request_deserializer
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(method, decode, handler.unary_unary, self.on_refused),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _stream(method, decode, handler.unary_stream, self.on_refused),
                response_serializer=handler.response_serializer,
            )
        return handler


def _unary(
    method: str, decode: Callable[[bytes], Message], inner: Callable, refused: Refused | None
) -> Callable:
    async def checked(raw: bytes, context):
        request = await _request(method, decode, raw, context, refused)
        try:
            return await inner(request, context)
        except Exception as exc:
            await _unexpected(method, exc, context)

    return checked


def _stream(
    method: str, decode: Callable[[bytes], Message], inner: Callable, refused: Refused | None
) -> Callable:
    async def checked(raw: bytes, context):
        request = await _request(method, decode, raw, context, refused)
        try:
            result = inner(request, context)
            if inspect.isasyncgen(result):
                async for response in result:
                    await context.write(response)
            else:
                await result
        except Exception as exc:
            await _unexpected(method, exc, context)

    return checked


async def _request(
    method: str, decode: Callable[[bytes], Message], raw: bytes, context, refused: Refused | None
) -> Message:
    request = None
    try:
        try:
            request = decode(raw)
        except DecodeError:
            raise MalformedText(
                f"{method} request: not a valid message (truncated, nested too deep, or a string field "
                "that is not UTF-8)"
            ) from None
        check_message(request, "")
        return request
    except MeshgateError as exc:
        if refused is not None:
            await refused(method, request, context, exc)
        context.set_trailing_metadata(grpc_errors.trailing_metadata(exc))
        await context.abort(grpc_errors.status_code(exc), exc.message)


def check_message(message: Message, prefix: str) -> None:
    """Every string field of ``message`` (and of the messages in it) within the limits."""
    for field, value in message.ListFields():
        where = f"{prefix}{field.name}"
        repeated = field.is_repeated
        values = value if repeated else (value,)
        if repeated:
            check_list(values, where)
        for i, item in enumerate(values):
            here = f"{where}[{i}]" if repeated else where
            if field.type == FieldDescriptor.TYPE_STRING:
                if field.name in _SCHEMA_FIELDS:
                    check_text(item, here)  # its size is the service's (PayloadTooLarge)
                else:
                    check_string_field(item, here)
                if field.name == "subject" and item:
                    check_subject(item, here)
            elif field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry:
                check_message(item, f"{here}.")


async def _unexpected(method: str, exc: Exception, context) -> None:
    """Log a bug with a request id; answer INTERNAL without internals. Aborts pass through."""
    if isinstance(exc, grpc.aio.AbortError) or getattr(exc, "__module__", "").startswith("grpc"):
        raise exc
    request_id = uuid.uuid4().hex[:16]
    log.error(
        "unexpected error in gRPC %s (request id %s)",
        method,
        request_id,
        exc_info=exc,
        extra={UNEXPECTED: request_id},
    )
    context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
    await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
