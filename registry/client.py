"""Python SDK of the registry over gRPC: ``RegistryClient`` (sync) and ``AsyncRegistryClient``.

Both offer the same calls with the same parameters, made from one description of each call in
``registry.client_calls``; the two classes here only send them, one blocking, one awaited. They return
the model's types (``RegisteredSchema``, ``SchemaRecord``, ``CheckResult``, ``SubjectConfig``,
``Consumer``, …); failures raise the same ``registry.errors`` types the server raised
(``registry.grpc_errors`` maps them back). Schemas by id never change, so ``get_by_id`` answers
repeated ids from a per-client cache. ``token`` is sent as ``authorization: Bearer <token>``.
``tls`` (a ``TlsConfig``; by default from env ``MESHGATE_CA_CERT``, ``MESHGATE_CLIENT_CERT``,
``MESHGATE_CLIENT_KEY``, ``MESHGATE_TLS``): talk TLS, trusting that CA certificate (else the system
trust store), presenting a client certificate for mutual TLS. A TLS handshake that fails raises
``UntrustedServer`` or ``ClientCertificateRequired`` saying which side is missing what. ``target`` may
name several replicas (``HOST:PORT,HOST:PORT``): calls and Watch streams fail over to the next one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, get_args

import grpc

from registry import client_calls as calls
from registry import grpc_errors, wire
from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client_calls import Call, Watch
from registry.errors import ClientCertificateRequired, InvalidArgument, MeshgateError, UntrustedServer
from registry.model import BridgedGap, Event

log = logging.getLogger(__name__)

DEFAULT_TARGET = "localhost:50051"
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    # Reconnect to a restarted registry within seconds (gRPC's default backoff grows to 120 s):
    # connection attempts back off from 0.1 s to at most MAX_BACKOFF.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    # Notice a peer that vanished without closing its connections (the server allows 10 s pings).
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]
MAX_BACKOFF = 2.0
"""Longest wait between two attempts to resume a Watch stream (and between connection attempts)."""


@dataclass(frozen=True)
class TlsConfig:
    """How a client talks TLS. Any of ``ca_cert`` (the CA that signed the registry's certificate),
    ``client_cert`` + ``client_key`` (mutual TLS) or ``system_trust`` (trust the system store) turns
    TLS on; none of them: plaintext."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    system_trust: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TlsConfig:
        """The configuration env MESHGATE_CA_CERT, MESHGATE_CLIENT_CERT, MESHGATE_CLIENT_KEY and
        MESHGATE_TLS (``1``/``true``: the system trust store) give."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("MESHGATE_CA_CERT") or None,
            env.get("MESHGATE_CLIENT_CERT") or None,
            env.get("MESHGATE_CLIENT_KEY") or None,
            env.get("MESHGATE_TLS", "").lower() in ("1", "true", "yes"),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.ca_cert or self.client_cert or self.system_trust)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """gRPC channel credentials; None: plaintext. Unreadable files raise ``InvalidArgument``."""
        if not self.enabled:
            return None
        if (self.client_cert is None) != (self.client_key is None):
            raise InvalidArgument(
                "client certificate and client key go together (--client-cert, --client-key)"
            )
        return grpc.ssl_channel_credentials(
            root_certificates=_read("CA certificate", self.ca_cert),
            private_key=_read("client key", self.client_key),
            certificate_chain=_read("client certificate", self.client_cert),
        )


def _read(what: str, path: str | Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"{what} {path}: {exc.strerror}") from None


P = ParamSpec("P")
R = TypeVar("R")


class _Connection:
    """What both clients hold: the addresses with a channel and stub each, the one calls go to now,
    timeout, token, and the answers kept.

    ``target`` is ``HOST:PORT`` or several, comma-separated (replicas): a call that finds its address
    unreachable is sent to the next one, and later calls and Watch streams stay there.
    """

    _grpc: Any = grpc  # the module that opens channels: ``grpc`` or ``grpc.aio``

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        token: str | None = None,
        timeout: float = 10.0,
        ca_cert: str | Path | None = None,
        tls: TlsConfig | None = None,
    ):
        """``tls`` None: from the environment (``TlsConfig.from_env``); ``ca_cert`` overrides its CA."""
        self.target = target
        self.timeout = timeout
        self._metadata = _auth(token)
        self.tls = tls if tls is not None else TlsConfig.from_env()
        if ca_cert:
            self.tls = replace(self.tls, ca_cert=str(ca_cert))
        credentials = self.tls.credentials()
        self._addresses = _addresses(target)
        self._channels = [
            self._grpc.secure_channel(address, credentials, options=_CHANNEL_OPTIONS)
            if credentials
            else self._grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
            for address in self._addresses
        ]
        self._stubs = [pb_grpc.ContractRegistryStub(channel) for channel in self._channels]
        self._current = 0  # index of the address calls go to
        self._kept: dict[tuple[str, bytes], Any] = {}  # answers of ``lasting`` calls

    @property
    def _stub(self) -> pb_grpc.ContractRegistryStub:
        return self._stubs[self._current]

    def _fail_over(self, exc: grpc.RpcError) -> bool:
        """Move on to the next address if ``exc`` says the current one is unreachable and there is
        another; True if it did."""
        if len(self._stubs) == 1 or not _unreachable(exc):
            return False
        self._next_address()
        return True

    def _next_address(self) -> None:
        self._current = (self._current + 1) % len(self._stubs)

    def _known(self, call: Call[R]) -> R | None:
        """The kept answer of a ``lasting`` call asked before, else None."""
        return self._kept.get(_kept_key(call)) if call.lasting else None

    def _answer(self, call: Call[R], response: Any) -> R:
        """What the response of ``call`` reads as; kept if the call is ``lasting``."""
        answer = call.read(response)
        if call.lasting:
            self._kept[_kept_key(call)] = answer
        return answer


def _blocking(describe: Callable[P, Call[R]]) -> Callable[Concatenate[RegistryClient, P], R]:
    """The call ``describe`` makes, as a ``RegistryClient`` method returning its answer."""

    def method(self: RegistryClient, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._call(describe(*args, **kwargs))

    return _as_method(method, describe, "RegistryClient", _answer_type(describe))


def _awaited(
    describe: Callable[P, Call[R]],
) -> Callable[Concatenate[AsyncRegistryClient, P], Coroutine[Any, Any, R]]:
    """The call ``describe`` makes, as an ``AsyncRegistryClient`` coroutine method."""

    async def method(self: AsyncRegistryClient, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._call(describe(*args, **kwargs))

    return _as_method(method, describe, "AsyncRegistryClient", _answer_type(describe))


def _streaming(describe: Callable[P, Watch], owner: str, returns: Any) -> Callable[Concatenate[Any, P], Any]:
    """The stream ``describe`` opens, as a method returning the client's iterator of events (``_open``)."""

    def method(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        return self._open(describe(*args, **kwargs))

    return _as_method(method, describe, owner, returns)


def _as_method(method: Callable, describe: Callable, owner: str, returns: Any) -> Any:
    """``method`` named, documented and signed as ``describe`` with ``self`` first, returning ``returns``:
    ``help()``, editors and ``inspect`` show the call's own parameters, not ``*args, **kwargs``."""
    signature = inspect.signature(describe, eval_str=True)
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__name__ = describe.__name__
    method.__qualname__ = f"{owner}.{describe.__name__}"
    method.__doc__ = describe.__doc__
    method.__signature__ = signature.replace(
        parameters=[self_parameter, *signature.parameters.values()], return_annotation=returns
    )
    return method


def _answer_type(describe: Callable[..., Call]) -> Any:
    """``R`` of the ``Call[R]`` that ``describe`` returns (None for ``Call[None]``)."""
    (answer,) = get_args(inspect.signature(describe, eval_str=True).return_annotation)
    return None if answer is type(None) else answer


class _Resumption:
    """What resuming a Watch stream needs, sync or async alike: the request (its ``after_sequence``
    moves with every event delivered), the back-off, and the gaps bridged so far."""

    def __init__(self, request: pb.WatchRequest):
        self.request = request
        self.backoff = _Backoff()
        self.gaps: list[BridgedGap] = []
        self._broken: tuple[float, int] | None = None  # (when, after which sequence) the stream broke

    def received(self, response: pb.WatchResponse, pending: deque[Event]) -> None:
        """Queue on ``pending`` the events a response carries (a batch, or the single event of a
        server that does not batch; a heartbeat carries none) past the last one queued or delivered:
        a resumed stream may repeat events."""
        messages = response.events or ([response.event] if response.HasField("event") else [])
        last = pending[-1].sequence if pending else self.request.after_sequence
        for message in messages:
            if message.sequence > last:
                pending.append(wire.event_from_pb(message))
                last = message.sequence

    def deliver(self, event: Event, address: str) -> Event:
        """``event``, now delivered: a resume starts after it; the first after a break closes the gap."""
        self.request.after_sequence = event.sequence
        self.backoff.reset()
        if self._broken is not None:
            broken_at, after = self._broken
            gap = BridgedGap(after, event.sequence, time.monotonic() - broken_at, address)
            self.gaps.append(gap)
            self._broken = None
            log.info(
                "watch resumed on %s after %.2f s: events %d..%d were missed and are delivered now",
                address,
                gap.seconds,
                after + 1,
                event.sequence,
            )
        return event

    def broke(self) -> None:
        if self._broken is None:
            self._broken = (time.monotonic(), self.request.after_sequence)


class EventStream:
    """An iterator of ``Event``s over a Watch stream that resumes after failures by itself.

    After a break it waits for its address to answer again (at most the back-off: 0.1 s doubling up
    to ``MAX_BACKOFF``), moving on to the next address of the target when it does not; it resumes
    after the last event delivered, so nothing is missed or repeated. ``gaps`` lists every break
    bridged (``BridgedGap``).
    """

    def __init__(self, client: RegistryClient, request: pb.WatchRequest, reconnect: bool):
        self._client = client  # its current address is where the stream (re)opens
        self._resumption = _Resumption(request)
        self._reconnect = reconnect
        self._call = None
        self._pending: deque[Event] = deque()  # received in a batch, not delivered yet
        self._closed = threading.Event()

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event delivered (where a resume starts)."""
        return self._resumption.request.after_sequence

    @property
    def gaps(self) -> list[BridgedGap]:
        """The breaks this stream bridged, oldest first."""
        return list(self._resumption.gaps)

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        client = self._client
        while not self._closed.is_set():
            if self._pending:
                return self._resumption.deliver(self._pending.popleft(), client._addresses[client._current])
            if self._call is None:
                self._call = client._stub.Watch(self._resumption.request, metadata=client._metadata)
            try:
                for response in self._call:
                    self._resumption.received(response, self._pending)
                    if self._pending:
                        break
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    break
                if not (self._reconnect and exc.code() in _RESUMABLE):
                    self._call = None
                    raise _error(exc, client) from None
            if self._pending:
                continue  # a batch arrived
            self._resumption.broke()  # by an error, or by the server ending the stream
            self._call = None
            if not self._reconnect:
                break
            self._wait_for_address(self._resumption.backoff.next())
        raise StopIteration

    def _wait_for_address(self, delay: float) -> None:
        """Until the current address answers, at most ``delay`` s; then the next address is tried."""
        channel = self._client._channels[self._client._current]
        try:
            grpc.channel_ready_future(channel).result(timeout=delay)
        except grpc.FutureTimeoutError:
            self._client._next_address()

    def close(self) -> None:
        """End the stream; an iteration blocked in another thread stops."""
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()


class AsyncEventStream(AsyncIterator[Event]):
    """``EventStream`` over ``grpc.aio``: ``async for event in stream``; ``gaps`` and ``close`` alike."""

    def __init__(self, client: AsyncRegistryClient, request: pb.WatchRequest, reconnect: bool):
        self._client = client
        self._resumption = _Resumption(request)
        self._reconnect = reconnect
        self._call = None
        self._pending: deque[Event] = deque()
        self._closed = False

    @property
    def last_sequence(self) -> int:
        return self._resumption.request.after_sequence

    @property
    def gaps(self) -> list[BridgedGap]:
        return list(self._resumption.gaps)

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> Event:
        client = self._client
        while not self._closed:
            if self._pending:
                return self._resumption.deliver(self._pending.popleft(), client._addresses[client._current])
            if self._call is None:
                self._call = client._stub.Watch(self._resumption.request, metadata=client._metadata)
            try:
                async for response in self._call:
                    self._resumption.received(response, self._pending)
                    if self._pending:
                        break
            except grpc.RpcError as exc:
                if self._closed:
                    break
                if not (self._reconnect and exc.code() in _RESUMABLE):
                    self._cancel()
                    raise await _error_off_loop(exc, client) from None
            if self._pending:
                continue
            self._resumption.broke()
            self._cancel()
            if not self._reconnect:
                break
            await self._wait_for_address(self._resumption.backoff.next())
        raise StopAsyncIteration

    async def _wait_for_address(self, delay: float) -> None:
        channel = self._client._channels[self._client._current]
        try:
            await asyncio.wait_for(channel.channel_ready(), delay)
        except TimeoutError:
            self._client._next_address()

    def _cancel(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def close(self) -> None:
        """End the stream: a pending ``__anext__`` stops."""
        self._closed = True
        self._cancel()


class _Backoff:
    """Resume delays: 0.1 s doubling to ``MAX_BACKOFF``, with jitter; reset by every event received."""

    def __init__(self):
        self.delay = 0.1

    def next(self) -> float:
        delay = min(self.delay * random.uniform(0.8, 1.2), MAX_BACKOFF)
        self.delay = min(self.delay * 2, MAX_BACKOFF)
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


class RegistryClient(_Connection):
    """Synchronous client; use as a context manager or call ``close``."""

    def _call(self, call: Call[R]) -> R:
        known = self._known(call)
        if known is not None:
            return known
        tries = len(self._stubs)  # each address at most once
        while True:
            try:
                response = getattr(self._stub, call.rpc)(
                    call.request, timeout=self.timeout, metadata=self._metadata
                )
            except grpc.RpcError as exc:
                tries -= 1
                if not (tries and self._fail_over(exc)):
                    raise _error(exc, self) from None
            else:
                return self._answer(call, response)

    register = _blocking(calls.register)
    check = _blocking(calls.check)
    lookup = _blocking(calls.lookup)
    get_by_id = _blocking(calls.get_by_id)
    get_by_guid = _blocking(calls.get_by_guid)
    versions_for_id = _blocking(calls.versions_for_id)
    get_version = _blocking(calls.get_version)
    latest = _blocking(calls.latest)
    latest_with_metadata = _blocking(calls.latest_with_metadata)
    list_subjects = _blocking(calls.list_subjects)
    list_versions = _blocking(calls.list_versions)
    referenced_by = _blocking(calls.referenced_by)
    delete_subject = _blocking(calls.delete_subject)
    delete_version = _blocking(calls.delete_version)
    get_config = _blocking(calls.get_config)
    set_config = _blocking(calls.set_config)
    delete_config = _blocking(calls.delete_config)
    get_mode = _blocking(calls.get_mode)
    set_mode = _blocking(calls.set_mode)
    delete_mode = _blocking(calls.delete_mode)
    register_consumer = _blocking(calls.register_consumer)
    list_consumers = _blocking(calls.list_consumers)
    remove_consumer = _blocking(calls.remove_consumer)
    create_token = _blocking(calls.create_token)
    list_tokens = _blocking(calls.list_tokens)
    revoke_token = _blocking(calls.revoke_token)
    audit = _blocking(calls.audit)
    add_webhook = _blocking(calls.add_webhook)
    list_webhooks = _blocking(calls.list_webhooks)
    remove_webhook = _blocking(calls.remove_webhook)
    deliveries = _blocking(calls.deliveries)

    def _open(self, watch: Watch) -> EventStream:
        return EventStream(self, watch.request, watch.reconnect)

    watch = _streaming(calls.watch, "RegistryClient", EventStream)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class AsyncRegistryClient(_Connection):
    """The same calls over ``grpc.aio``; use as an async context manager or await ``close``."""

    _grpc = grpc.aio

    async def _call(self, call: Call[R]) -> R:
        known = self._known(call)
        if known is not None:
            return known
        tries = len(self._stubs)  # each address at most once
        while True:
            try:
                response = await getattr(self._stub, call.rpc)(
                    call.request, timeout=self.timeout, metadata=self._metadata
                )
            except grpc.RpcError as exc:
                tries -= 1
                if not (tries and self._fail_over(exc)):
                    raise await _error_off_loop(exc, self) from None
            else:
                return self._answer(call, response)

    register = _awaited(calls.register)
    check = _awaited(calls.check)
    lookup = _awaited(calls.lookup)
    get_by_id = _awaited(calls.get_by_id)
    get_by_guid = _awaited(calls.get_by_guid)
    versions_for_id = _awaited(calls.versions_for_id)
    get_version = _awaited(calls.get_version)
    latest = _awaited(calls.latest)
    latest_with_metadata = _awaited(calls.latest_with_metadata)
    list_subjects = _awaited(calls.list_subjects)
    list_versions = _awaited(calls.list_versions)
    referenced_by = _awaited(calls.referenced_by)
    delete_subject = _awaited(calls.delete_subject)
    delete_version = _awaited(calls.delete_version)
    get_config = _awaited(calls.get_config)
    set_config = _awaited(calls.set_config)
    delete_config = _awaited(calls.delete_config)
    get_mode = _awaited(calls.get_mode)
    set_mode = _awaited(calls.set_mode)
    delete_mode = _awaited(calls.delete_mode)
    register_consumer = _awaited(calls.register_consumer)
    list_consumers = _awaited(calls.list_consumers)
    remove_consumer = _awaited(calls.remove_consumer)
    create_token = _awaited(calls.create_token)
    list_tokens = _awaited(calls.list_tokens)
    revoke_token = _awaited(calls.revoke_token)
    audit = _awaited(calls.audit)
    add_webhook = _awaited(calls.add_webhook)
    list_webhooks = _awaited(calls.list_webhooks)
    remove_webhook = _awaited(calls.remove_webhook)
    deliveries = _awaited(calls.deliveries)

    def _open(self, watch: Watch) -> AsyncEventStream:
        return AsyncEventStream(self, watch.request, watch.reconnect)

    watch = _streaming(calls.watch, "AsyncRegistryClient", AsyncIterator[Event])

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()


def _kept_key(call: Call) -> tuple[str, bytes]:
    return call.rpc, call.request.SerializeToString(deterministic=True)


def _auth(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def _addresses(target: str) -> list[str]:
    """The addresses of ``HOST:PORT[,HOST:PORT...]``, in order."""
    return [address.strip() for address in target.split(",") if address.strip()] or [target]


def _unreachable(exc: grpc.RpcError) -> bool:
    """No registry answered: the connection failed (a registry's own errors carry trailing metadata)."""
    return exc.code() == grpc.StatusCode.UNAVAILABLE and not exc.trailing_metadata()


def _error(exc: grpc.RpcError, connection: _Connection) -> MeshgateError:
    error = grpc_errors.decode(exc.code(), exc.details(), exc.trailing_metadata())
    if (
        exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        and not exc.trailing_metadata()
    ):
        address = connection._addresses[connection._current]
        mismatch = _tls_mismatch(address, connection.tls)
        if mismatch is not None:
            return mismatch
        error.message = f"registry at {connection.target} is unreachable: {exc.details()}"
        error.args = (error.message,)
    return error


async def _error_off_loop(exc: grpc.RpcError, connection: _Connection) -> MeshgateError:
    """``_error`` in a worker thread: its TLS probe blocks on a socket for up to two seconds, which
    must not stall the caller's event loop."""
    return await asyncio.to_thread(_error, exc, connection)


def _tls_mismatch(address: str, tls: TlsConfig, timeout: float = 2.0) -> MeshgateError | None:
    """Why ``address`` refused this client at the TLS handshake, if it did (asked only after a call
    failed unreachable: gRPC itself says no more than "Socket closed" or "handshake failed")."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        raw = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, ValueError):
        return None  # nothing listens there: unreachable, not a TLS problem
    context = ssl.create_default_context(cafile=tls.ca_cert)
    if not tls.enabled:  # does it speak TLS at all?
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with raw:
        try:
            if tls.client_cert:
                context.load_cert_chain(tls.client_cert, tls.client_key)
            with context.wrap_socket(raw, server_hostname=host) as conn:
                if not tls.enabled:
                    return UntrustedServer(f"registry at {address} serves TLS; this client talks plaintext")
                if conn.recv(1) == b"":  # closed right after the handshake: our certificate (or none) refused
                    return ClientCertificateRequired(
                        f"registry at {address} closed the connection after the TLS handshake: it requires a "
                        "client certificate signed by a CA it trusts"
                    )
        except ssl.SSLCertVerificationError as exc:
            return UntrustedServer(
                f"registry at {address}: its TLS certificate is not trusted ({exc.verify_message})"
            )
        except ssl.SSLError as exc:
            if tls.enabled and "ALERT" in (exc.reason or ""):
                return ClientCertificateRequired(
                    f"registry at {address} refused the TLS handshake ({exc.reason}): it requires a client "
                    "certificate signed by a CA it trusts"
                )
        except OSError:
            pass  # no TLS problem seen: a plaintext server, or a slow one
    return None
