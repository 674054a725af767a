"""Webhooks: signed deliveries to a real HTTP receiver on loopback, in order, retried through
injected failures (500s, timeouts) until they succeed; subscriptions and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry.client import RegistryClient
from registry.errors import InvalidArgument, PermissionDenied, WebhookNotFound
from registry.webhooks import SIGNATURE_HEADER, sign, verify
from tests.registry.registry_harness import V1, running_server

SECRET = "whsec-test"
FAST = {"poll_interval": 0.05, "timeout": 0.3, "retry_base": 0.05, "retry_max": 0.2}


class Receiver:
    """An HTTP endpoint that fails as told (by sequence: a list of "500" / "timeout" per attempt)
    and records what it accepted, with whether the signature was valid."""

    def __init__(self, failures: dict[int, list[str]] | None = None):
        self.failures = {seq: list(plan) for seq, plan in (failures or {}).items()}
        self.accepted: list[tuple[int, dict, bool]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sequence = int(self.headers["X-Meshgate-Sequence"])
                with receiver.lock:
                    plan = receiver.failures.get(sequence) or []
                    failure = plan.pop(0) if plan else None
                if failure == "timeout":
                    time.sleep(1.0)  # past the worker's 0.3 s timeout; this attempt counts as lost
                    self._answer(503)
                    return
                if failure == "500":
                    self._answer(500)
                    return
                valid = _signed_as_documented(body, self.headers[SIGNATURE_HEADER])
                with receiver.lock:
                    receiver.accepted.append((sequence, json.loads(body), valid))
                self._answer(200)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, within: float = 30.0) -> list[tuple[int, dict, bool]]:
        deadline = time.monotonic() + within
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.accepted)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(failures=None) -> Receiver:
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for item in made:
        item.close()


def test_deliveries_survive_500s_and_timeouts_signed_in_order_and_nothing_lost(tmp_path, receiver):
    endpoint = receiver({2: ["500", "500"], 3: ["timeout"], 5: ["500", "timeout", "500"]})
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            webhook, secret = client.add_webhook(endpoint.url, SECRET)
            assert (webhook.cursor, secret) == (0, SECRET)
            client.register("checkout.Order", V1)
            for level in ("FULL", "NONE", "BACKWARD", "FORWARD", "FULL_TRANSITIVE"):
                client.set_config("checkout.Order", level)
            accepted = endpoint.wait_for(6)
            log = client.deliveries(webhook.id)
            listed = client.list_webhooks()
    assert [sequence for sequence, _, _ in accepted] == [1, 2, 3, 4, 5, 6]
    assert all(valid for _, _, valid in accepted)
    assert accepted[0][1]["type"] == "VERSION_REGISTERED" and accepted[0][1]["subject"] == "checkout.Order"
    assert [body["detail"]["level"] for _, body, _ in accepted[1:]] == [
        "FULL",
        "NONE",
        "BACKWARD",
        "FORWARD",
        "FULL_TRANSITIVE",
    ]
    attempts = [(d.sequence, d.attempt, d.outcome) for d in reversed(log)]
    assert attempts[:4] == [(1, 1, "delivered"), (2, 1, "HTTP 500"), (2, 2, "HTTP 500"), (2, 3, "delivered")]
    assert (3, 1, "timeout after 0.3s") in attempts and (3, 2, "delivered") in attempts
    assert [a for a in attempts if a[0] == 5] == [
        (5, 1, "HTTP 500"),
        (5, 2, "timeout after 0.3s"),
        (5, 3, "HTTP 500"),
        (5, 4, "delivered"),
    ]
    assert listed[0].cursor == 6 and listed[0].attempts == 0


def test_a_filtered_subscription_gets_only_its_events_and_starts_from_now(tmp_path, receiver):
    endpoint = receiver()
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            client.register("checkout.Old", V1)  # before the subscription: not delivered
            webhook, generated = client.add_webhook(
                endpoint.url, SECRET, subject_prefix="checkout.", event_types=["VERSION_REGISTERED"]
            )
            assert webhook.cursor == 1 and generated == SECRET
            client.register("billing.Invoice", V1)
            client.set_config("checkout.Old", "FULL")
            client.register("checkout.New", V1)
            accepted = endpoint.wait_for(1)
            deadline = time.monotonic() + 10
            while client.list_webhooks()[0].cursor < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.list_webhooks()[0].cursor == 4
    assert [(seq, body["subject"]) for seq, body, _ in accepted] == [(4, "checkout.New")]


def test_two_replicas_on_postgres_deliver_each_event_once_in_order(postgres_url, receiver):
    endpoint = receiver()
    with (
        running_server(postgres_url, webhook_options=FAST) as replica_a,
        running_server(postgres_url, webhook_options=FAST) as replica_b,
        RegistryClient(replica_a.grpc_target) as through_a,
        RegistryClient(replica_b.grpc_target) as through_b,
    ):
        through_a.add_webhook(endpoint.url, SECRET)
        for index in range(4):
            (through_a if index % 2 else through_b).register(f"d{index}.E", V1)
        endpoint.wait_for(4)
        time.sleep(0.3)  # room for a duplicate to show up if two replicas delivered the same event
        accepted = list(endpoint.accepted)
    assert [seq for seq, _, _ in accepted] == [1, 2, 3, 4]


def test_webhook_management_errors_name_the_problem(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}") as server:
        with RegistryClient(server.grpc_target) as client:
            with pytest.raises(InvalidArgument, match="'ftp://x' is not an http"):
                client.add_webhook("ftp://x")
            with pytest.raises(InvalidArgument, match="unknown event type"):
                client.add_webhook("http://127.0.0.1:1/", event_types=["NOPE"])
            with pytest.raises(WebhookNotFound, match="webhook 42 not found"):
                client.remove_webhook(42)
            webhook, secret = client.add_webhook("http://127.0.0.1:1/")
            assert len(secret) >= 40  # generated
            client.remove_webhook(webhook.id)
            assert client.list_webhooks() == []


def test_only_admins_manage_webhooks(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}", auth=True) as server:
        _, producer = server.tokens.create("ci", "producer", ["checkout"])
        with RegistryClient(server.grpc_target, producer) as client:
            with pytest.raises(PermissionDenied, match="admin only"):
                client.add_webhook("http://127.0.0.1:1/")


def _signed_as_documented(body: bytes, header: str) -> bool:
    """docs/notifications.md's format, checked with an HMAC of our own (not ``registry.webhooks``):
    ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with a fresh timestamp."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return (
        list(fields) == ["t", "v1"]
        and abs(time.time() - int(fields["t"])) < 60
        and hmac.compare_digest(fields["v1"], expected)
        and verify(SECRET, body, header)  # and the helper we hand to receivers agrees
    )


def test_signatures_reject_a_changed_body_a_wrong_secret_and_an_old_timestamp():
    body = b'{"sequence": 1}'
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert verify(SECRET, body, header)
    assert not verify(SECRET, body + b" ", header)
    assert not verify("other", body, header)
    assert not verify(SECRET, body, sign(SECRET, body, now - 3600))
    assert not verify(SECRET, body, "v1=abc")
