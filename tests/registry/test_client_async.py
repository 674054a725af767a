"""The async SDK's admin calls (webhooks, tokens, audit) against a real server: the same answers and
errors as the sync client's."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from registry.client import AsyncRegistryClient
from registry.errors import InvalidArgument, PermissionDenied, WebhookNotFound
from registry.model import Delivery, Webhook
from tests.registry.registry_harness import V1, running_server
from tests.registry.test_webhooks import FAST, SECRET, Receiver


@pytest.fixture
def endpoint():
    receiver = Receiver()
    yield receiver
    receiver.close()


async def _delivered(client: AsyncRegistryClient, webhook_id: int, within: float = 30.0) -> list[Delivery]:
    deadline = time.monotonic() + within
    while not (log := await client.deliveries(webhook_id)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return log


def test_the_async_client_adds_lists_and_removes_webhooks_and_reads_their_deliveries(tmp_path, endpoint):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", webhook_options=FAST) as server:

        async def scenario():
            async with AsyncRegistryClient(server.grpc_target) as client:
                webhook, secret = await client.add_webhook(
                    endpoint.url, SECRET, subject_prefix="checkout.", event_types=["VERSION_REGISTERED"]
                )
                await client.register("checkout.Order", V1)
                log = await _delivered(client, webhook.id)
                listed = await client.list_webhooks()
                await client.remove_webhook(webhook.id)
                return webhook, secret, log, listed, await client.list_webhooks()

        webhook, secret, log, listed, after_removal = asyncio.run(scenario())
    assert isinstance(webhook, Webhook) and secret == SECRET
    assert (webhook.url, webhook.subject_prefix, webhook.event_types) == (
        endpoint.url,
        "checkout.",
        ("VERSION_REGISTERED",),
    )
    assert [(d.webhook_id, d.sequence, d.attempt, d.outcome) for d in log] == [
        (webhook.id, 1, 1, "delivered")
    ]
    assert [(sequence, body["subject"]) for sequence, body, _ in endpoint.accepted] == [(1, "checkout.Order")]
    assert [w.id for w in listed] == [webhook.id]
    assert after_removal == []


def test_the_async_client_raises_the_webhook_errors_of_the_server(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}") as server:

        async def scenario():
            async with AsyncRegistryClient(server.grpc_target) as client:
                with pytest.raises(InvalidArgument, match="'ftp://x' is not an http"):
                    await client.add_webhook("ftp://x")
                with pytest.raises(WebhookNotFound, match="webhook 42 not found"):
                    await client.remove_webhook(42)
                _, generated = await client.add_webhook("http://127.0.0.1:1/", after_sequence=0)
                return generated

        assert len(asyncio.run(scenario())) >= 40


def test_the_async_client_creates_lists_and_revokes_tokens_and_reads_the_audit(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", auth=True) as server:
        _, admin = server.tokens.create("root", "admin")

        async def scenario():
            async with AsyncRegistryClient(server.grpc_target, admin) as client:
                token, secret = await client.create_token("ci", "producer", ["checkout"], timedelta(days=1))
                async with AsyncRegistryClient(server.grpc_target, secret) as producer:
                    await producer.register("checkout.Order", V1)
                    with pytest.raises(PermissionDenied, match="admin only"):
                        await producer.add_webhook("http://127.0.0.1:1/")
                revoked = await client.revoke_token(token.id)
                return (
                    token,
                    revoked,
                    await client.list_tokens(),
                    await client.list_tokens(True),
                    await client.audit(),
                )

        token, revoked, live, every, audit = asyncio.run(scenario())
    assert (token.name, token.role, token.domains) == ("ci", "producer", ("checkout",)) and token.expires_at
    assert revoked.id == token.id and revoked.revoked_at is not None
    assert [t.name for t in live] == ["root"] and [t.name for t in every] == ["root", "ci"]
    assert any(entry.token_name == "ci" and entry.target == "checkout.Order" for entry in audit)
