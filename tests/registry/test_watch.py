"""The event log and the Watch stream: every change becomes one numbered event, written with the
change; subscribers replay what they missed and then get live events, across a server crash and
across replicas."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from registry import events
from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import AsyncRegistryClient, RegistryClient
from registry.errors import (
    IncompatibleSchema,
    InvalidArgument,
    SequenceCompacted,
    SubscriberTooSlow,
    Unavailable,
)
from registry.events import EventFilter, EventLog
from registry.server import start_subprocess
from registry.service import RegistryService
from registry.store import Store
from registry.watch import EventHub
from tests.conftest import free_port
from tests.registry.registry_harness import BREAKING, V1, V2, running_server, unique_subject
from tests.registry.watch_harness import Subscriber


@pytest.fixture
def server(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}") as running:
        yield running


def _every_kind_of_change(client: RegistryClient, subject: str) -> None:
    client.register(subject, V1)
    client.register(subject, V2)
    client.set_config(subject, "FULL")
    client.delete_config(subject)
    client.set_mode(subject, "READONLY")
    client.set_mode(subject, "READWRITE")
    client.register_consumer("billing", subject, version=2)
    client.remove_consumer("billing", subject)
    client.delete_version(subject, 1)
    client.delete_version(subject, 1, permanent=True)
    client.delete_subject(subject)


def test_every_change_is_one_event_in_order_with_its_details(server):
    subject = unique_subject()
    with RegistryClient(server.grpc_target) as client:
        _every_kind_of_change(client, subject)
        client.register(subject + "x", V1)
        client.set_config(subject + "x", "FULL")
        with pytest.raises(IncompatibleSchema):  # a refused write leaves no event
            client.register(subject + "x", BREAKING)
        stream = client.watch(after_sequence=0)
        received = [next(stream) for _ in range(13)]
        stream.close()
    assert [e.sequence for e in received] == list(range(1, 14))
    assert [e.type for e in received[:11]] == [
        "VERSION_REGISTERED",
        "VERSION_REGISTERED",
        "CONFIG_CHANGED",
        "CONFIG_DELETED",
        "MODE_CHANGED",
        "MODE_CHANGED",
        "CONSUMER_ADDED",
        "CONSUMER_REMOVED",
        "VERSION_SOFT_DELETED",
        "VERSION_HARD_DELETED",
        "VERSION_SOFT_DELETED",
    ]
    first, second = received[0], received[1]
    assert (first.subject, first.version, first.detail) == (subject, 1, {"format": "AVRO"})
    assert second.version == 2 and second.schema_id != first.schema_id
    assert received[2].detail == {"level": "FULL", "ruleset": None}
    assert received[6].detail == {"consumer": "billing", "fields": []}
    assert received[10].version == 2 and received[10].detail == {"whole_subject": True}
    assert all(e.time is not None for e in received)
    # the 12th and 13th: the other subject's v1 registration and its config change
    assert [(e.type, e.subject) for e in received[11:]] == [
        ("VERSION_REGISTERED", subject + "x"),
        ("CONFIG_CHANGED", subject + "x"),
    ]


def test_an_idempotent_register_writes_no_event(server):
    subject = unique_subject()
    with RegistryClient(server.grpc_target) as client:
        client.register(subject, V1)
        client.register(subject, V1)
        client.set_config(subject, "NONE")
        stream = client.watch()
        assert [(e.sequence, e.type) for e in (next(stream), next(stream))] == [
            (1, "VERSION_REGISTERED"),
            (2, "CONFIG_CHANGED"),
        ]
        stream.close()


def test_watch_replays_then_streams_live_events_filtered_by_prefix_domain_and_type(server):
    with RegistryClient(server.grpc_target) as client:
        client.register("checkout.Order", V1)
        client.register("billing.Invoice", V1)
        with (
            Subscriber(server.grpc_target, domain="checkout") as by_domain,
            Subscriber(server.grpc_target, subject_prefix="billing.") as by_prefix,
            Subscriber(server.grpc_target, event_types=["CONFIG_CHANGED"]) as by_type,
            Subscriber(server.grpc_target, after_sequence=1) as from_two,
        ):
            client.set_config("checkout.Order", "FULL")
            client.register("checkout.Order", V2)
            client.register("checkoutx.Other", V1)  # not the domain "checkout"
            assert [(e.sequence, e.type) for e in by_domain.wait_for(3)] == [
                (1, "VERSION_REGISTERED"),
                (3, "CONFIG_CHANGED"),
                (4, "VERSION_REGISTERED"),
            ]
            assert [e.subject for e in by_prefix.wait_for(1)] == ["billing.Invoice"]
            assert [e.sequence for e in by_type.wait_for(1)] == [3]
            assert [e.sequence for e in from_two.wait_for(4)] == [2, 3, 4, 5]
        assert len(by_domain.events) == 3 and len(by_prefix.events) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subject_prefix": "a.", "domain": "a"}, "not both"),
        ({"event_types": ["VERSION_ADDED"]}, "unknown event type(s) VERSION_ADDED"),
    ],
)
def test_watch_refuses_bad_arguments_naming_them(server, options, message):
    with RegistryClient(server.grpc_target) as client:
        stream = client.watch(reconnect=True, **options)  # INVALID_ARGUMENT is never retried
        with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
            next(stream)


def test_a_negative_sequence_is_refused_by_client_and_server(server):
    with RegistryClient(server.grpc_target) as client:
        with pytest.raises(InvalidArgument, match="after_sequence"):
            client.watch(after_sequence=-1)
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = pb_grpc.ContractRegistryStub(channel).Watch(pb.WatchRequest(after_sequence=-5))
        with pytest.raises(grpc.RpcError) as raised:
            next(call)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "after_sequence" in raised.value.details()


def test_a_compacted_sequence_is_out_of_range_naming_the_earliest_retained(server):
    with RegistryClient(server.grpc_target) as client:
        for level in ("FULL", "NONE", "BACKWARD", "FORWARD"):
            client.set_config(None, level)
        removed = EventLog(server.service.store).compact(keep_last=2)
        assert removed == 2
        with pytest.raises(SequenceCompacted, match="earliest retained sequence is 3") as raised:
            next(client.watch(after_sequence=1))
        assert "after_sequence=2" in raised.value.message
        stream = client.watch(after_sequence=2)
        assert [next(stream).sequence, next(stream).sequence] == [3, 4]
        stream.close()


def test_compaction_by_age_keeps_the_newest_event(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    service = RegistryService(store)
    for level in ("FULL", "NONE", "BACKWARD"):
        service.set_config(None, level)
    log = EventLog(store)
    assert log.compact(older_than=timedelta(0)) == 2  # all are old; the newest stays
    assert log.bounds() == (2, 3)
    assert [e.sequence for e in log.read(2)] == [3]
    assert log.compact(older_than=timedelta(days=1)) == 0
    with pytest.raises(InvalidArgument, match="keep_last"):
        log.compact(keep_last=0)
    store.close()


def test_a_subscriber_that_falls_behind_is_cut_off_and_told_where_to_resume(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    service = RegistryService(store)

    async def scenario() -> None:
        hub = EventHub(store, queue_size=2, poll_interval=0.05)
        await hub.start()
        service.set_config(None, "FULL")
        stream = hub.stream(EventFilter(), after=0)
        first = await anext(stream)  # replayed; the subscriber now reads nothing for a while
        for level in ("NONE", "BACKWARD", "FORWARD", "FULL"):
            await asyncio.to_thread(service.set_config, None, level)

        async def hub_caught_up() -> None:
            while hub.position < 5:
                await asyncio.sleep(0.02)

        async def drain() -> None:
            async for event in stream:
                delivered.append(event.sequence)

        await asyncio.wait_for(hub_caught_up(), 30)  # bounded: a stuck hub fails, never hangs
        delivered = [first.sequence]
        with pytest.raises(SubscriberTooSlow, match="resume with after_sequence=") as raised:
            await asyncio.wait_for(drain(), 30)
        await hub.stop()
        assert delivered[0] == 1 and delivered == sorted(delivered)
        assert f"after_sequence={delivered[-1]}" in raised.value.message

    asyncio.run(scenario())
    store.close()


def test_heartbeats_carry_the_latest_sequence_when_nothing_happens(tmp_path):
    with running_server(
        f"sqlite:///{tmp_path / 'r.db'}", watch_options={"heartbeat_interval": 0.05}
    ) as running:
        with RegistryClient(running.grpc_target) as client:
            client.set_config(None, "FULL")
        with grpc.insecure_channel(running.grpc_target) as channel:
            call = pb_grpc.ContractRegistryStub(channel).Watch(pb.WatchRequest(after_sequence=1))
            response = next(call)
            call.cancel()
    assert response.HasField("heartbeat")
    assert response.heartbeat.latest_sequence == 1 and response.heartbeat.time


def test_async_client_watch_replays_and_streams(server):
    async def scenario() -> list[tuple[int, str]]:
        async with AsyncRegistryClient(server.grpc_target) as client:
            await client.set_config(None, "FULL")
            received = []
            async for event in client.watch():
                received.append((event.sequence, event.type))
                if len(received) == 1:
                    await client.register(unique_subject(), V1)
                if len(received) == 2:
                    break
            return received

    assert asyncio.run(scenario()) == [(1, "CONFIG_CHANGED"), (2, "VERSION_REGISTERED")]


def test_a_subscriber_resumes_across_a_sigkilled_server_and_gets_every_event_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    port = free_port()
    first = start_subprocess(url, grpc_port=port)
    subject = unique_subject()
    with Subscriber(first.grpc_target) as subscriber:
        with RegistryClient(first.grpc_target) as client:
            client.register(subject, V1)
            client.set_config(subject, "FULL")
        assert len(subscriber.wait_for(2)) == 2
        first.kill()
        other = start_subprocess(url)  # a change made while the subscriber's server is down
        with RegistryClient(other.grpc_target) as client:
            client.register(subject, V2)
        other.stop()
        restarted = start_subprocess(url, grpc_port=port)
        try:
            with RegistryClient(restarted.grpc_target) as client:
                _retry_while_unavailable(lambda: client.set_mode(subject, "READONLY"))
            received = subscriber.wait_for(4)
        finally:
            restarted.stop()
    assert subscriber.error is None
    assert [(e.sequence, e.type) for e in received] == [
        (1, "VERSION_REGISTERED"),
        (2, "CONFIG_CHANGED"),
        (3, "VERSION_REGISTERED"),
        (4, "MODE_CHANGED"),
    ]


def _retry_while_unavailable(call, attempts: int = 50):
    """Calls right after a restart may meet the channel's reconnect backoff to the dead server."""
    for _ in range(attempts - 1):
        try:
            return call()
        except Unavailable:
            time.sleep(0.1)
    return call()


def test_two_replicas_on_postgres_stream_the_same_sequence_to_their_subscribers(postgres_url):
    """Replica B never polls (an hour's interval): A's changes reach it through LISTEN/NOTIFY."""
    with (
        running_server(postgres_url) as replica_a,
        running_server(postgres_url, watch_options={"poll_interval": 3600}) as replica_b,
        Subscriber(replica_a.grpc_target) as on_a,
        Subscriber(replica_b.grpc_target) as on_b,
        RegistryClient(replica_a.grpc_target) as through_a,
        RegistryClient(replica_b.grpc_target) as through_b,
    ):
        for index in range(3):
            through_a.register(f"alpha.E{index}", V1)
            through_b.register(f"beta.E{index}", V1)
        seen_a, seen_b = on_a.wait_for(6), on_b.wait_for(6)
    assert [e.sequence for e in seen_a] == list(range(1, 7))
    assert [(e.sequence, e.subject) for e in seen_a] == [(e.sequence, e.subject) for e in seen_b]
    assert [e.subject for e in seen_a] == [
        "alpha.E0",
        "beta.E0",
        "alpha.E1",
        "beta.E1",
        "alpha.E2",
        "beta.E2",
    ]


def test_concurrent_writers_on_postgres_commit_events_in_sequence_order(postgres_url):
    """Many writers at once: the log has no gaps and a live subscriber sees 1..N in order."""
    import threading

    with running_server(postgres_url) as replica, Subscriber(replica.grpc_target) as subscriber:

        def write(n: int) -> None:
            with RegistryClient(replica.grpc_target) as client:
                for i in range(5):
                    client.register(f"w{n}.E{i}", V1)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = subscriber.wait_for(20)
    assert [e.sequence for e in received] == list(range(1, 21))


def test_cli_watch_prints_json_lines_as_events_come(server):
    with RegistryClient(server.grpc_target) as client:
        client.register("checkout.Order", V1)
    process = subprocess.Popen(
        [Path(sys.executable).parent / "meshgate", "watch", "--registry", server.grpc_target, "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(process.stdout.readline())
        with RegistryClient(server.grpc_target) as client:
            client.set_config("checkout.Order", "FULL")
        second = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)
    assert (first["sequence"], first["type"], first["subject"], first["version"]) == (
        1,
        events.VERSION_REGISTERED,
        "checkout.Order",
        1,
    )
    assert (second["sequence"], second["type"], second["detail"]["level"]) == (2, "CONFIG_CHANGED", "FULL")


def test_a_too_slow_subscriber_gets_resource_exhausted_and_the_sdk_resumes_without_loss(tmp_path):
    """Queue of one event; five events written by another process reach the hub in one poll, so a
    live subscriber overflows: without reconnect it sees RESOURCE_EXHAUSTED naming where to resume;
    with reconnect it resumes from the log and gets every event once."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    options = {"queue_size": 1, "poll_interval": 0.3}
    with running_server(url, watch_options=options) as server:
        with RegistryClient(server.grpc_target) as client:
            client.set_config(None, "FULL")
        strict = RegistryClient(server.grpc_target).watch(reconnect=False)
        assert next(strict).sequence == 1  # replayed; now live
        with Subscriber(server.grpc_target) as resuming:
            assert len(resuming.wait_for(1)) == 1
            store = Store(url)  # another writer: its commits wake no hub, the poll finds all five
            writer = RegistryService(store)
            for level in ("NONE", "BACKWARD", "FORWARD", "FULL", "NONE"):
                writer.set_config(None, level)
            store.close()
            with pytest.raises(SubscriberTooSlow, match="resume with after_sequence="):
                while True:
                    next(strict)
            received = resuming.wait_for(6)
        strict.close()
    assert [e.sequence for e in received] == [1, 2, 3, 4, 5, 6]


def test_cli_watch_names_an_unknown_event_type(server):
    from click.testing import CliRunner

    from meshgate.cli import main

    result = CliRunner().invoke(main, ["watch", "--registry", server.grpc_target, "--type", "NOPE"])
    assert result.exit_code == 1 and "unknown event type(s) NOPE" in result.output
