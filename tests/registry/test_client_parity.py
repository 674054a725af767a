"""The two SDK clients are made from one description of every call (``registry.client_calls``):
the async client offers every call of the sync one with the same parameters; importing the SDK
loads neither the store nor the servers."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from registry import client_calls
from registry.client import AsyncRegistryClient, EventStream, RegistryClient
from registry.client_calls import Call, Watch
from registry.errors import InvalidArgument
from registry.model import Event
from tests.conftest import free_port


def _public_calls(cls) -> dict[str, object]:
    return {name: getattr(cls, name) for name in dir(cls) if not name.startswith("_")}


def test_every_sync_call_exists_on_the_async_client_with_the_same_parameters():
    sync_calls, async_calls = _public_calls(RegistryClient), _public_calls(AsyncRegistryClient)
    assert set(sync_calls) == set(async_calls)
    for name, method in sync_calls.items():
        sync_parameters = inspect.signature(method).parameters
        async_parameters = inspect.signature(async_calls[name]).parameters
        assert sync_parameters == async_parameters, name


def test_async_calls_are_coroutine_functions_returning_what_the_sync_call_returns():
    for name, method in _public_calls(RegistryClient).items():
        if name == "watch":
            continue
        async_method = getattr(AsyncRegistryClient, name)
        assert inspect.iscoroutinefunction(async_method), name
        assert not inspect.iscoroutinefunction(method), name
        assert (
            inspect.signature(async_method).return_annotation == inspect.signature(method).return_annotation
        )


def test_every_described_call_is_a_method_of_both_clients():
    described = {
        name
        for name, function in vars(client_calls).items()
        if inspect.isfunction(function)
        and not name.startswith("_")
        and function.__module__ == client_calls.__name__
    }
    assert described == set(_public_calls(RegistryClient)) - {"close"}
    for name in described:
        for cls in (RegistryClient, AsyncRegistryClient):
            assert getattr(cls, name).__doc__ == getattr(client_calls, name).__doc__


def test_a_described_call_only_builds_its_request():
    call = client_calls.get_version("checkout.Order", 3, include_deleted=True)
    assert isinstance(call, Call) and call.rpc == "GetSchemaByVersion"
    assert (call.request.subject, call.request.version, call.request.include_deleted) == (
        "checkout.Order",
        3,
        True,
    )
    assert client_calls.get_by_id(7).lasting and not call.lasting
    assert isinstance(client_calls.watch(after_sequence=5), Watch)


def test_a_bound_method_shows_the_parameters_of_its_call():
    with RegistryClient(f"127.0.0.1:{free_port()}") as client:
        parameters = list(inspect.signature(client.register).parameters)
    assert parameters == [
        "subject",
        "schema",
        "format",
        "references",
        "metadata",
        "normalize",
        "data_metadata",
        "rule_set",
        "schema_id",
        "version",
    ]
    assert inspect.signature(RegistryClient.remove_webhook).return_annotation is None
    assert RegistryClient.add_webhook.__qualname__ == "RegistryClient.add_webhook"


def test_watch_is_an_event_stream_on_the_sync_client_and_an_async_iterator_on_the_async_one():
    with RegistryClient(f"127.0.0.1:{free_port()}") as client:
        stream = client.watch()
        assert isinstance(stream, EventStream)
        stream.close()

    async def open_async() -> object:
        async with AsyncRegistryClient(f"127.0.0.1:{free_port()}") as client:
            events = client.watch()
            assert isinstance(events, AsyncIterator)
            return events

    asyncio.run(open_async())
    assert inspect.signature(RegistryClient.watch).return_annotation is EventStream
    assert inspect.signature(AsyncRegistryClient.watch).return_annotation == AsyncIterator[Event]


def test_the_async_watch_refuses_a_negative_sequence_when_called_like_the_sync_one():
    async def scenario():
        async with AsyncRegistryClient(f"127.0.0.1:{free_port()}") as client:
            with pytest.raises(InvalidArgument, match="after_sequence"):
                client.watch(after_sequence=-1)

    asyncio.run(scenario())


@pytest.mark.parametrize("call", ["get_version", "delete_version"])
def test_the_client_refuses_a_bad_version_before_sending_anything(call):
    unreachable = f"127.0.0.1:{free_port()}"  # an InvalidArgument, not Unavailable: nothing was sent
    with (
        RegistryClient(unreachable, timeout=1) as client,
        pytest.raises(InvalidArgument, match="version 0 is not a valid version"),
    ):
        getattr(client, call)("checkout.Order", 0)


FORBIDDEN = (
    "sqlalchemy",
    "registry.service",
    "registry.store",
    "registry.grpc_server",
    "registry.http_api",
    "registry.server",
    "starlette",
    "uvicorn",
    "pyarrow",
)


def test_importing_the_client_loads_neither_the_store_nor_the_servers():
    probe = (
        "import sys, registry.client\n"
        f"print(','.join(sorted(name for name in {FORBIDDEN!r} if name in sys.modules)))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
