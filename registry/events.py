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

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

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
from registry.store.models import EventCounterRow, EventRow, as_utc


class EventLog:
    """Reads and compacts the event log."""

    def __init__(self, store: Store):
        self.store = store

    def read(self, after: int, limit: int = 500, where: EventFilter | None = None) -> list[Event]:
        """Up to ``limit`` events with a sequence above ``after``, oldest first."""
        query = select(EventRow).where(EventRow.sequence > after).order_by(EventRow.sequence).limit(limit)
        if where is not None and where.subject_prefix:
            query = query.where(EventRow.subject.startswith(where.subject_prefix, autoescape=True))
        if where is not None and where.types:
            query = query.where(EventRow.type.in_(sorted(where.types)))
        with self.store.read() as session:
            return [_event(row) for row in session.scalars(query)]

    def bounds(self) -> tuple[int, int]:
        """(compacted_through, last_sequence): events after the first and up to the second exist."""
        with self.store.read() as session:
            counter = session.get(EventCounterRow, 1)
            return counter.compacted_through, counter.last_sequence

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

        def work(session: Session) -> int:
            counter = session.execute(
                select(EventCounterRow).where(EventCounterRow.id == 1).with_for_update()
            ).scalar_one()
            through = counter.compacted_through
            if keep_last is not None:
                through = max(through, counter.last_sequence - keep_last)
            if older_than is not None:
                cutoff = datetime.now(UTC) - older_than
                newest_old = session.execute(
                    select(func.max(EventRow.sequence)).where(EventRow.created_at < cutoff)
                ).scalar_one()
                if newest_old is not None:
                    through = max(through, min(newest_old, counter.last_sequence - 1))
            removed = session.execute(delete(EventRow).where(EventRow.sequence <= through)).rowcount
            counter.compacted_through = through
            return removed

        return self.store.write(work)


def _event(row: EventRow) -> Event:
    return Event(
        sequence=row.sequence,
        type=row.type,
        subject=row.subject,
        version=row.version,
        schema_id=row.schema_id,
        time=as_utc(row.created_at),
        detail=dict(row.detail or {}),
    )


def detail_json(event: Event) -> str:
    return json.dumps(event.detail, sort_keys=True)
