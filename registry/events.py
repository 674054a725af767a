"""The durable event log: every change, numbered, written in the transaction of the change.

Appending locks the single ``event_counter`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers). A PostgreSQL sequence alone would hand out numbers
that commit out of order (a reader could see 8, move its cursor past 7, and miss 7 when it commits
later); with the counter row locked until commit, event N+1 cannot commit before event N, so a reader
that polls ``sequence > cursor`` never skips one. The price: appends are serialised, which the
per-subject locks mostly did already; the lock is taken last in each write, so it is held briefly.
On PostgreSQL the append also sends ``NOTIFY meshgate_events`` (delivered at commit) to wake watchers
of every replica.

Retention (``EventLog.compact``) removes old events by count or age and records the highest removed
sequence (``compacted_through``); a watcher asking to resume from before it gets OUT_OF_RANGE.
Appending is ``Store.append_event``, called by the service inside each change's transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from registry.errors import InvalidArgument, SequenceCompacted
from registry.model import (  # noqa: F401  (the event types are re-exported: events.VERSION_REGISTERED …)
    CONFIG_CHANGED,
    CONFIG_DELETED,
    CONSUMER_ADDED,
    CONSUMER_REMOVED,
    EVENT_TYPES,
    MODE_CHANGED,
    VERSION_HARD_DELETED,
    VERSION_REGISTERED,
    VERSION_SOFT_DELETED,
    Event,
    EventFilter,
)
from registry.store import Store


class EventLog:
    """Reads and compacts the event log."""

    def __init__(self, store: Store):
        self.store = store

    def read(self, after: int, limit: int = 500, where: EventFilter | None = None) -> list[Event]:
        """Up to ``limit`` events with a sequence above ``after``, oldest first."""
        where = where or EventFilter()
        with self.store.read() as session:
            return self.store.events_after(session, after, limit, where.subject_prefix, where.types)

    def bounds(self) -> tuple[int, int]:
        """(compacted_through, last_sequence): events after the first and up to the second exist."""
        with self.store.read() as session:
            return self.store.event_bounds(session)

    def require_retained(self, after: int) -> None:
        """Raise ``SequenceCompacted`` when events after ``after`` were removed by retention."""
        compacted, _ = self.bounds()
        if after < compacted:
            raise SequenceCompacted(
                f"events after sequence {after} were compacted away; the earliest retained sequence is "
                f"{compacted + 1}: re-read the current state, then watch with after_sequence={compacted}"
            )

    def compact(self, keep_last: int | None = None, older_than: timedelta | None = None) -> int:
        """Remove events beyond the newest ``keep_last`` and those older than ``older_than`` (the
        newest event always stays, so the log's position survives); returns how many went."""
        if keep_last is not None and keep_last < 1:
            raise InvalidArgument("retention: keep_last must be at least 1")
        cutoff = datetime.now(UTC) - older_than if older_than is not None else None
        return self.store.write(lambda session: self.store.compact_events(session, keep_last, cutoff))


def detail_json(event: Event) -> str:
    return json.dumps(event.detail, sort_keys=True)
