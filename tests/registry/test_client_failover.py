"""Several registry addresses (``HOST:PORT,HOST:PORT``): the SDK sends a call to the next address
when one is unreachable, and a Watch stream resumes on the next replica without losing an event."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from registry.client import AsyncRegistryClient, RegistryClient
from registry.errors import SubjectNotFound, Unavailable
from tests.conftest import free_port
from tests.registry.registry_harness import V1, V2, running_server, unique_subject
from tests.registry.watch_harness import Subscriber


@pytest.fixture
def server(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}") as running:
        yield running


def test_a_call_goes_to_the_next_address_when_the_first_is_unreachable(server):
    subject = unique_subject()
    with RegistryClient(f"127.0.0.1:{free_port()}, {server.grpc_target}", timeout=5) as client:
        assert client.register(subject, V1).version == 1
        assert client.list_versions(subject) == [1]


def test_the_async_client_fails_over_the_same_way(server):
    subject = unique_subject()

    async def scenario() -> int:
        async with AsyncRegistryClient(f"127.0.0.1:{free_port()},{server.grpc_target}", timeout=5) as client:
            await client.register(subject, V1)
            return (await client.latest(subject)).version

    assert asyncio.run(scenario()) == 1


def test_a_registry_error_is_not_retried_elsewhere(server):
    with RegistryClient(f"{server.grpc_target},127.0.0.1:{free_port()}", timeout=5) as client:
        with pytest.raises(SubjectNotFound):
            client.list_versions(unique_subject())


def test_when_every_address_is_unreachable_the_error_names_them_all():
    target = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    with RegistryClient(target, timeout=2) as client:
        with pytest.raises(Unavailable, match=f"registry at {target} is unreachable"):
            client.list_subjects()


def test_calls_and_a_watch_move_to_the_other_replica_when_one_stops(postgres_url):
    subject = unique_subject()
    with contextlib.ExitStack() as first, running_server(postgres_url) as second:
        replica = first.enter_context(running_server(postgres_url))
        target = f"{replica.grpc_target},{second.grpc_target}"
        with RegistryClient(target) as client, Subscriber(target) as subscriber:
            client.register(subject, V1)
            assert [e.version for e in subscriber.wait_for(1)] == [1]
            first.close()  # the replica both were talking to stops
            client.set_config(subject, "FULL")
            client.register(subject, V2)
            events = subscriber.wait_for(3)
    assert [(e.sequence, e.type) for e in events] == [
        (1, "VERSION_REGISTERED"),
        (2, "CONFIG_CHANGED"),
        (3, "VERSION_REGISTERED"),
    ]
    assert subscriber.error is None
