"""Batched Watch (``WatchRequest.batch``): a backlog comes in few messages, nothing lost or repeated
across a restart of the server mid-replay, and clients that do not ask for batches get one event a message."""

from __future__ import annotations

import grpc

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.server import RegistryServer, ThreadedServer
from registry.service import RegistryService
from registry.store import Store
from registry.watch import REPLAY_PAGE
from tests.conftest import free_port
from tests.registry.registry_harness import running_server
from tests.registry.watch_harness import Subscriber

BACKLOG = 2 * REPLAY_PAGE + 200  # several pages of the log


def _write_events(url: str, count: int) -> None:
    """``count`` events straight into the store (global config changes), as another replica would."""
    service = RegistryService(Store(url))
    for index in range(count):
        service.set_config(None, ("FULL", "BACKWARD")[index % 2])
    service.store.close()


def _responses(target: str, request: pb.WatchRequest, until: int) -> list[pb.WatchResponse]:
    """Watch responses until the event with sequence ``until`` arrived."""
    received = []
    with grpc.insecure_channel(target) as channel:
        call = pb_grpc.ContractRegistryStub(channel).Watch(request)
        for response in call:
            received.append(response)
            events = [*response.events, *([response.event] if response.HasField("event") else [])]
            if events and events[-1].sequence >= until:
                call.cancel()
                break
    return received


def test_a_batched_stream_replays_a_backlog_in_pages_in_order(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _write_events(url, BACKLOG)
    with running_server(url, auth=False) as server:
        responses = _responses(server.grpc_target, pb.WatchRequest(batch=True), BACKLOG)
    sequences = [event.sequence for response in responses for event in response.events]
    assert sequences == list(range(1, BACKLOG + 1))
    assert not any(response.HasField("event") for response in responses)
    assert len(responses) <= BACKLOG // REPLAY_PAGE + 2  # pages, not one message per event


def test_a_client_that_does_not_ask_for_batches_gets_one_event_per_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _write_events(url, REPLAY_PAGE + 50)
    with running_server(url, auth=False) as server:
        responses = _responses(server.grpc_target, pb.WatchRequest(), REPLAY_PAGE + 50)
    assert all(response.HasField("event") and not response.events for response in responses)
    assert [response.event.sequence for response in responses] == list(range(1, REPLAY_PAGE + 51))


def test_the_sdk_gets_every_batched_event_once_across_a_restart_mid_replay(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _write_events(url, BACKLOG)
    port = free_port()
    server = ThreadedServer(RegistryServer(url, grpc_port=port, auth=False))
    server.start()
    with Subscriber(f"127.0.0.1:{port}") as subscriber:
        subscriber.wait_for(1)
        server.stop()  # most likely mid-replay; either way nothing may be lost or repeated
        _write_events(url, 300)  # while the subscriber's server is down
        server = ThreadedServer(RegistryServer(url, grpc_port=port, auth=False))
        server.start()
        try:
            received = subscriber.wait_for(BACKLOG + 300, within=60)
        finally:
            server.stop()
    assert subscriber.error is None
    assert [event.sequence for event in received] == list(range(1, BACKLOG + 301))
