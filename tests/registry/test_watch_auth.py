"""An open Watch stream re-checks its token: revoked or expired while streaming ends the stream
UNAUTHENTICATED (and the SDK does not reconnect), while other subscribers keep streaming."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import AsyncRegistryClient, RegistryClient
from registry.errors import InvalidArgument, Unauthenticated
from registry.store import Store
from registry.store.models import ApiTokenRow
from registry.watch import EventHub
from tests.registry.registry_harness import V1, V2, running_server
from tests.registry.watch_harness import Subscriber

CHECK_INTERVAL = 0.2  # seconds; the default is 5


@pytest.fixture
def secured(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with running_server(url, auth=True, watch_options={"token_check_interval": CHECK_INTERVAL}) as server:
        _, admin_secret = server.tokens.create("root", "admin")
        admin = RegistryClient(server.grpc_target, admin_secret)
        admin.register("checkout.Order", V1)  # sequence 1: every subscriber's first event
        yield server, admin, url
        admin.close()


def test_revoking_a_token_ends_its_open_watch_stream_and_the_sdk_does_not_reconnect(secured):
    server, admin, _ = secured
    doomed, doomed_secret = server.tokens.create("billing-reader", "consumer", ["billing"])
    _, other_secret = server.tokens.create("payments-reader", "consumer", ["payments"])
    with (
        Subscriber(server.grpc_target, doomed_secret, reconnect=True) as revoked,
        Subscriber(server.grpc_target, other_secret, reconnect=True) as unaffected,
    ):
        assert [e.sequence for e in revoked.wait_for(1)] == [1]  # streaming before the revocation
        assert [e.sequence for e in unaffected.wait_for(1)] == [1]
        admin.revoke_token(doomed.id)
        revoked.wait_for(2)  # returns at the stream's error; no event is sent meanwhile: the re-check ends it
        assert isinstance(revoked.error, Unauthenticated)
        assert revoked.error.message.startswith(f"token 'billing-reader' (id {doomed.id}) was revoked at ")

        admin.register("checkout.Order", V2)  # after many re-checks, the other token still streams
        assert [e.sequence for e in unaffected.wait_for(2)] == [1, 2]
        assert unaffected.error is None
        assert [e.sequence for e in revoked.events] == [1]


def test_a_token_that_expires_during_a_watch_stream_ends_it_unauthenticated(secured):
    server, _, url = secured
    expiring, secret = server.tokens.create("temp-reader", "consumer", ["billing"], timedelta(hours=1))
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = pb_grpc.ContractRegistryStub(channel).Watch(
            pb.WatchRequest(after_sequence=0), metadata=(("authorization", f"Bearer {secret}"),), timeout=30
        )
        assert next(call).event.sequence == 1  # the stream is open with a live token
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as connection:  # the hour passes, without waiting an hour
            connection.execute(
                sqlalchemy.update(ApiTokenRow)
                .where(ApiTokenRow.id == expiring.id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        engine.dispose()
        with pytest.raises(grpc.RpcError) as ended:
            for response in call:  # heartbeats only (15 s apart); the re-check ends the stream first
                assert response.HasField("heartbeat")
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert ended.value.details().startswith(f"token 'temp-reader' (id {expiring.id}) expired at ")


def test_a_short_lived_token_ends_its_sdk_stream_with_unauthenticated_not_a_reconnect_loop(secured):
    """Real clock: the stream opens (or, on a slow machine, is refused at once) and ends when the
    second is over; the SDK raises instead of reconnecting."""
    server, _, _ = secured
    token, secret = server.tokens.create("short", "consumer", ["billing"], timedelta(seconds=1))
    with Subscriber(server.grpc_target, secret, reconnect=True) as subscriber:
        subscriber.wait_for(2)  # the first event, then the error ends the wait
    assert isinstance(subscriber.error, Unauthenticated)
    assert f"token 'short' (id {token.id}) expired at " in subscriber.error.message


def test_the_async_sdk_raises_unauthenticated_when_its_token_is_revoked_mid_stream(secured):
    server, admin, _ = secured
    token, secret = server.tokens.create("async-reader", "consumer", ["billing"])

    async def scenario() -> list[int]:
        received = []
        async with AsyncRegistryClient(server.grpc_target, secret) as client:
            with pytest.raises(Unauthenticated, match=r"token 'async-reader' \(id \d+\) was revoked at "):
                async for event in client.watch(after_sequence=0, reconnect=True):
                    received.append(event.sequence)
                    await asyncio.to_thread(admin.revoke_token, token.id)
        return received

    assert asyncio.run(scenario()) == [1]


def test_the_token_check_interval_must_be_positive(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(InvalidArgument, match="token_check_interval: must be positive, got 0"):
        EventHub(store, token_check_interval=0)
    store.close()
