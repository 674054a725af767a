"""Live change events for Watch streams: one ``EventHub`` per server process fans the log out.

The event log in the store is the source of truth. The hub keeps a cursor into it and reads what is
new when woken: by a write of this process (``Store.commit_listeners``), by PostgreSQL
``LISTEN meshgate_events`` (a change through another replica), or by its poll timer (``poll_interval``:
the safety net when a notification is lost, and the only wake-up another process's write on the same
SQLite file gets). Notifications carry nothing the hub trusts: it always re-reads the log, in order.

The hub also keeps the service's cache of live versions in step with the log (``follow``): every
read tells it which subjects changed, and from which write version of the store (the SQLite probe)
it read, so the cache trusts itself only while no commit is newer than the hub's last read.

Each subscriber has a bounded queue (``queue_size``). The hub never waits for a subscriber: when a
queue is full the subscriber is marked too slow, its stream ends with RESOURCE_EXHAUSTED, and the
client resumes from the last sequence it received (replayed from the log). A stream hands out
``batches``: a page of the log while replaying, everything queued when live, so a subscriber that
is behind catches up in few messages.

A stream re-checks its caller's token every ``token_check_interval`` seconds (the Watch handler
passes the check): a token revoked or expired while the stream is open ends it UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Protocol

from registry.errors import InvalidArgument, SubscriberTooSlow
from registry.events import Event, EventFilter, EventLog
from registry.store import NOTIFY_CHANNEL, Store

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1_000
DEFAULT_HEARTBEAT_INTERVAL = 15.0  # seconds without an event before a heartbeat goes out
DEFAULT_TOKEN_CHECK_INTERVAL = 5.0  # seconds between re-checks of an open stream's token
DEFAULT_RETENTION = timedelta(days=30)  # events older than this are compacted away (None: kept)
COMPACT_EVERY = 3600.0  # seconds between compactions
REPLAY_PAGE = 500


class LogFollower(Protocol):
    """What ``EventHub.follow`` keeps in step with the log (``registry.service.caches.LiveVersionCache``)."""

    wake: Callable[[], None]
    write_version: Callable[[], int] | None

    def reading(self) -> int | None: ...
    def changed(self, subjects: Iterable[str]) -> None: ...
    def caught_up(self, mark: int | None) -> None: ...
    def reset(self) -> None: ...


class Subscription:
    """One watcher's queue of live events, filled by the hub."""

    def __init__(self, where: EventFilter, queue_size: int):
        self.where = where
        self.queue_size = queue_size
        self.queue: deque[Event] = deque()  # a plain deque: only the hub adds, only the stream takes
        self.too_slow = False
        self.wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.too_slow or not self.where.matches(event):
            return
        if len(self.queue) < self.queue_size:
            self.queue.append(event)
        else:
            self.too_slow = True
        self.wake.set()


class EventHub:
    def __init__(
        self,
        store: Store,
        poll_interval: float | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        retention: timedelta | None = DEFAULT_RETENTION,
        token_check_interval: float = DEFAULT_TOKEN_CHECK_INTERVAL,
    ):
        if token_check_interval <= 0:
            raise InvalidArgument(
                f"watch option token_check_interval: must be positive, got {token_check_interval}"
            )
        self.store = store
        self.retention = retention
        self.heartbeat_interval = heartbeat_interval
        self.token_check_interval = token_check_interval
        self.log = EventLog(store)
        self.queue_size = queue_size
        self.poll_interval = poll_interval or (1.0 if store.dialect == "postgresql" else 0.25)
        self.position = 0  # the newest sequence published to subscribers
        self._subscriptions: set[Subscription] = set()
        self._followers: list[LogFollower] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def follow(self, follower: LogFollower) -> None:
        """Keep ``follower`` (the service's ``LiveVersionCache``) in step with the log: handed the
        store's write probe (``Store.write_probe``, None on PostgreSQL) and a way to wake the hub,
        told which subjects each read of the log found and from which mark it read. Call before
        ``start``."""
        self._followers.append(follower)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        wake = lambda: loop.call_soon_threadsafe(self._wake.set)  # noqa: E731  (from any thread)
        probe = await asyncio.to_thread(self.store.write_probe)
        for follower in self._followers:
            follower.wake = wake
            follower.write_version = probe
        marks = [follower.reading() for follower in self._followers]
        _, self.position = await asyncio.to_thread(self.log.bounds)
        for follower, mark in zip(self._followers, marks, strict=True):
            follower.reset()  # what was loaded before the log's end was read may predate a write in it
            follower.caught_up(mark)
        self.store.commit_listeners.append(wake)
        self._tasks.append(asyncio.create_task(self._run(), name="event-hub"))
        if self.store.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen(), name="event-hub-listen"))
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self._compact_periodically(), name="event-hub-compact"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for follower in self._followers:
            follower.write_version = None  # nothing drops changed subjects any more: no trust
        for subscription in self._subscriptions:
            subscription.wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self._publish_new()
            except Exception as exc:  # the store may be down for a while: keep polling
                log.warning("event hub cannot read the event log: %s", exc)

    async def _publish_new(self) -> None:
        marks = [follower.reading() for follower in self._followers]  # before the read: see follow
        while True:
            events = await asyncio.to_thread(self.log.read, self.position, REPLAY_PAGE)
            subjects = {event.subject for event in events}
            for follower in self._followers:  # dropped page by page: a failed next page loses none
                follower.changed(subjects)
            for event in events:
                for subscription in list(self._subscriptions):
                    subscription.offer(event)
                self.position = event.sequence
            if len(events) < REPLAY_PAGE:
                break
        for follower, mark in zip(self._followers, marks, strict=True):
            follower.caught_up(mark)

    async def _compact_periodically(self) -> None:
        """Apply the retention (every replica does; the counter row lock serialises them)."""
        while True:
            try:
                removed = await asyncio.to_thread(self.log.compact, None, self.retention)
                if removed:
                    log.info("compacted %d events older than %s", removed, self.retention)
            except Exception as exc:
                log.warning("event log compaction failed: %s", exc)
            await asyncio.sleep(COMPACT_EVERY)

    async def _listen(self) -> None:
        """LISTEN for other replicas' appends; reconnects after a failure (polling covers the gap)."""
        while True:
            try:
                async for _ in self.store.event_notifications():
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s failed (%s); polling meanwhile", NOTIFY_CHANNEL, exc)
            await asyncio.sleep(self.poll_interval)

    async def stream(
        self, where: EventFilter, after: int, recheck: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[Event | None]:
        """``batches`` one event at a time: None stands for a heartbeat."""
        async for batch in self.batches(where, after, recheck):
            if not batch:
                yield None
            for event in batch:
                yield event

    async def batches(
        self, where: EventFilter, after: int, recheck: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[list[Event]]:
        """Events matching ``where`` after ``after``: the log's backlog, then live ones, in order,
        in batches: a page of the log while replaying, what queued up meanwhile when live (a
        subscriber that is behind gets many at once; the caller's writes wait for the stream's
        flow control, so a slow reader slows its batches, not the hub).

        Yields an empty batch after ``heartbeat_interval`` seconds without an event (the caller
        sends a heartbeat). ``recheck`` (the caller's token still valid?) is awaited every
        ``token_check_interval`` seconds, whether events flow or not; what it raises ends the stream.
        Raises ``SequenceCompacted`` (before anything) or ``SubscriberTooSlow``.
        """
        await asyncio.to_thread(self.log.require_retained, after)
        subscription = Subscription(where, self.queue_size)
        self._subscriptions.add(subscription)  # before the replay: nothing published meanwhile is lost
        clock = asyncio.get_running_loop().time
        next_check = clock() + self.token_check_interval if recheck else float("inf")
        cursor = after
        ahead: asyncio.Task | None = None  # the next page, read while this one goes out
        try:
            ahead = asyncio.create_task(asyncio.to_thread(self.log.read, cursor, REPLAY_PAGE, where))
            while ahead is not None:  # replay from the log until it has nothing newer
                page, ahead = await ahead, None
                if len(page) == REPLAY_PAGE:
                    read_after = page[-1].sequence
                    ahead = asyncio.create_task(
                        asyncio.to_thread(self.log.read, read_after, REPLAY_PAGE, where)
                    )
                if page:
                    yield page
                    cursor = page[-1].sequence
                if recheck and clock() >= next_check:
                    await recheck()
                    next_check = clock() + self.token_check_interval
            next_heartbeat = clock() + self.heartbeat_interval
            while True:
                if recheck and clock() >= next_check:
                    await recheck()
                    next_check = clock() + self.token_check_interval
                if subscription.too_slow:
                    raise SubscriberTooSlow(
                        f"subscriber fell more than {self.queue_size} events behind; "
                        f"resume with after_sequence={cursor}"
                    )
                batch = []
                queue = subscription.queue
                while len(batch) < REPLAY_PAGE and queue:
                    event = queue.popleft()
                    if event.sequence > cursor:  # else already replayed
                        batch.append(event)
                if batch:
                    yield batch
                    cursor = batch[-1].sequence
                    next_heartbeat = clock() + self.heartbeat_interval
                    continue
                if queue:
                    continue  # only replayed events so far
                subscription.wake.clear()
                if not self._tasks or all(task.done() for task in self._tasks):
                    return  # the hub stopped: the server is shutting down
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(next_heartbeat, next_check) - clock())):
                        await subscription.wake.wait()  # no task per wait, unlike wait_for
                if clock() >= next_heartbeat and not queue:
                    yield []
                    next_heartbeat = clock() + self.heartbeat_interval
        finally:
            if ahead is not None:  # the stream ended mid-replay
                ahead.cancel()
            self._subscriptions.discard(subscription)
