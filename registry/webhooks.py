"""Webhooks: change events POSTed to subscribers' URLs, signed, in order, at least once.

Each subscription has a cursor (the last sequence delivered) in the store. A ``WebhookWorker`` runs
in every server process; for each subscription it first takes a lease (a conditional UPDATE: free,
expired, or already ours), so one replica at a time delivers for it. It then sends the next
matching event after the cursor and moves the cursor only after a 2xx answer: deliveries are in
sequence order, one at a time, and at least once (a crash between the answer and the cursor update
sends that event again). A failure (non-2xx, timeout, refused connection) is retried with
exponential back-off (``retry_base`` doubling up to ``retry_max``). Every attempt is written to the
delivery log.

Signature: header ``X-Meshgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
with the subscription's secret; receivers recompute it and reject old timestamps (replays).
Secrets are stored sealed (AES-GCM, ``registry.sealing``) when the server has ``MESHGATE_SECRET_KEY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from registry.errors import InvalidArgument, WebhookNotFound
from registry.events import Event, EventFilter, EventLog
from registry.model import Delivery, Webhook
from registry.sealing import KEY_ENV, SecretBox, SecretKeyError, is_sealed
from registry.store import Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Meshgate-Signature"
LEASE = timedelta(seconds=30)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Meshgate-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance: float = 300.0, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` seconds old."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


MAX_SECRET_CHARS = 128
"""Longest signing secret a subscriber may choose (its sealed form must fit the store's column)."""


class Webhooks:
    """Subscriptions and the delivery log in the store.

    With ``box`` (``registry.sealing``) secrets are stored sealed and opened only to sign; without
    one they are stored as given (the server warns).
    """

    def __init__(self, store: Store, box: SecretBox | None = None):
        self.store = store
        self.box = box

    def add(
        self,
        url: str,
        secret: str | None = None,
        subject_prefix: str = "",
        event_types: tuple[str, ...] = (),
        after_sequence: int | None = None,
        created_by: str = "",
    ) -> tuple[Webhook, str]:
        """Subscribe ``url``; returns it and its secret (generated when not given). Without
        ``after_sequence`` it gets the events from now on."""
        parsed = urlparse(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidArgument(f"webhook url: {url!r} is not an http(s) URL")
        EventFilter.of(subject_prefix, "", event_types)  # validates the event types
        if after_sequence is not None and after_sequence < 0:
            raise InvalidArgument("after_sequence: must be 0 or more")
        if secret is not None and len(secret) > MAX_SECRET_CHARS:
            raise InvalidArgument(f"webhook secret: {len(secret)} characters, over {MAX_SECRET_CHARS}")
        secret = secret or secrets.token_urlsafe(32)
        stored = self.box.seal(secret) if self.box else secret
        webhook = self.store.write(
            lambda session: self.store.add_webhook(
                session,
                url,
                stored,
                subject_prefix,
                tuple(event_types),
                after_sequence,
                datetime.now(UTC),
                created_by,
            )
        )
        return webhook, secret

    def list(self) -> list[Webhook]:
        with self.store.read() as session:
            return self.store.webhooks(session)

    def remove(self, webhook_id: int) -> None:
        def work(session) -> None:
            if not self.store.remove_webhook(session, webhook_id):
                raise WebhookNotFound(f"webhook {webhook_id} not found")

        self.store.write(work)

    def deliveries(self, webhook_id: int | None = None, limit: int = 100) -> list[Delivery]:
        with self.store.read() as session:
            return self.store.deliveries(session, webhook_id, max(1, limit))

    # ---- the worker's side

    def lease(self, owner: str) -> list[tuple[int, str, str, EventFilter, int, int]]:
        """Take (or renew) the lease of every subscription that is due and free, expired or ours;
        returns (id, url, secret, filter, cursor, attempts) of those now leased to ``owner``."""
        now = datetime.now(UTC)
        with self.store.read() as session:
            due = self.store.due_webhooks(session, now)
        leased = []
        for webhook_id in due:
            found = self.store.write(
                lambda session, webhook_id=webhook_id: self.store.take_webhook_lease(
                    session, webhook_id, owner, now, now + LEASE
                )
            )
            if found is not None:
                try:
                    leased.append((*found[:2], self._open(found[2]), *found[3:]))
                except SecretKeyError as exc:  # deliveries wait until the right key is configured
                    log.error("webhook %s: %s", webhook_id, exc)
        return leased

    def _open(self, stored: str) -> str:
        if self.box is not None:
            return self.box.open(stored)
        if is_sealed(stored):
            raise SecretKeyError(f"the secret is sealed and {KEY_ENV} is not set")
        return stored

    def seal_plaintext(self) -> int:
        """Seal the plaintext secrets an older release stored; how many it sealed (needs ``box``)."""

        def work(session) -> int:
            plain = {i: s for i, s in self.store.webhook_secrets(session).items() if not is_sealed(s)}
            for webhook_id, secret in plain.items():
                self.store.set_webhook_secret(session, webhook_id, self.box.seal(secret))
            return len(plain)

        return self.store.write(work)

    def rotate(self, new_box: SecretBox) -> int:
        """Re-seal every secret under ``new_box``'s key (opened with ``box``, or plaintext), in one
        transaction; how many. Replicas must then run with the new key."""

        def work(session) -> int:
            stored = self.store.webhook_secrets(session)
            for webhook_id, value in stored.items():
                self.store.set_webhook_secret(session, webhook_id, new_box.seal(self._open(value)))
            return len(stored)

        return self.store.write(work)

    def record(
        self,
        owner: str,
        webhook_id: int,
        sequence: int,
        attempt: int,
        status_code: int | None,
        outcome: str,
        next_attempt_in: float | None,
    ) -> bool:
        """Log an attempt; on success move the cursor, else schedule the retry. False when the
        lease was lost meanwhile (another replica owns the subscription now)."""

        def work(session) -> bool:
            now = datetime.now(UTC)
            retry_at = None if next_attempt_in is None else now + timedelta(seconds=next_attempt_in)
            return self.store.record_delivery(
                session, owner, webhook_id, sequence, attempt, status_code, outcome[:255], now, retry_at
            )

        return self.store.write(work)

    def skip_to(self, owner: str, webhook_id: int, sequence: int) -> None:
        """Move the cursor past events that do not match the subscription's filter."""
        self.store.write(lambda session: self.store.move_webhook_cursor(session, owner, webhook_id, sequence))

    def release(self, owner: str) -> None:
        self.store.write(lambda session: self.store.release_webhook_leases(session, owner))


class WebhookWorker:
    """Delivers for the subscriptions this replica holds the lease of (``run`` as an asyncio task)."""

    def __init__(
        self,
        store: Store,
        poll_interval: float = 0.25,
        timeout: float = 5.0,
        retry_base: float = 1.0,
        retry_max: float = 300.0,
        batch: int = 100,
        box: SecretBox | None = None,
    ):
        self.webhooks = Webhooks(store, box)
        self.log = EventLog(store)
        self.owner = f"replica-{uuid.uuid4().hex[:12]}"
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.batch = batch
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.webhooks.release, self.owner)

    async def _run(self) -> None:
        http = None  # made at the first delivery: a replica without webhooks never loads httpx (and rich)
        try:
            while True:
                try:
                    leases = await asyncio.to_thread(self.webhooks.lease, self.owner)
                    if leases and http is None:
                        import httpx

                        http = httpx.AsyncClient(timeout=self.timeout)
                    for leased in leases:
                        await self._deliver_due(http, *leased)
                except Exception as exc:  # the store may be down for a while: keep going
                    log.warning("webhook worker: %s", exc)
                await asyncio.sleep(self.poll_interval)
        finally:
            if http is not None:
                await http.aclose()

    async def _deliver_due(self, http, webhook_id, url, secret, where, cursor, attempts) -> None:
        """Send the events after ``cursor`` in order until one fails (retried later) or none is left."""
        _, last = await asyncio.to_thread(self.log.bounds)  # every event up to ``last`` has committed
        events = await asyncio.to_thread(self.log.read, cursor, self.batch, where)
        if not events:
            await asyncio.to_thread(self.webhooks.skip_to, self.owner, webhook_id, last)
        for event in events:
            attempt = attempts + 1
            status, outcome = await self._post(http, url, secret, event, webhook_id, attempt)
            ok = status is not None and 200 <= status < 300
            retry_in = None if ok else min(self.retry_base * 2 ** (attempt - 1), self.retry_max)
            still_ours = await asyncio.to_thread(
                self.webhooks.record,
                self.owner,
                webhook_id,
                event.sequence,
                attempt,
                status,
                outcome,
                retry_in,
            )
            if not ok or not still_ours:
                return
            attempts = 0

    async def _post(self, http, url, secret, event: Event, webhook_id: int, attempt: int):
        import httpx  # loaded by ``_run`` already

        body = json.dumps(event.to_dict(), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            "X-Meshgate-Event": event.type,
            "X-Meshgate-Sequence": str(event.sequence),
            "X-Meshgate-Delivery": f"{webhook_id}-{event.sequence}-{attempt}",
        }
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, f"timeout after {self.timeout}s"
        except httpx.HTTPError as exc:
            return None, f"failed: {type(exc).__name__}: {exc}"
        return response.status_code, "delivered" if response.is_success else f"HTTP {response.status_code}"
