"""Queries of the event log: append (inside a change's transaction), read, bounds, compaction.

Appending locks the single ``event_counter`` row, so events commit in sequence order (why:
``registry.events``); on PostgreSQL it also sends ``NOTIFY`` on ``NOTIFY_CHANNEL`` (delivered at
commit) to wake every replica's watchers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from registry.model import Event
from registry.store.models import EventCounterRow, EventRow, as_utc

NOTIFY_CHANNEL = "meshgate_events"


class EventQueries:
    """``Store``'s methods over ``events`` and ``event_counter``."""

    dialect: str
    url: str

    def append_event(
        self,
        session: Session,
        type: str,
        subject: str,
        version: int | None = None,
        schema_id: int | None = None,
        **detail,
    ) -> int:
        """Add an event to the change being written in ``session``; returns its sequence number.

        Locks the single counter row, so events commit in sequence order (``registry.events``); on
        PostgreSQL it also sends ``NOTIFY`` (delivered at commit) to wake every replica's watchers.
        """
        counter = session.execute(
            select(EventCounterRow).where(EventCounterRow.id == 1).with_for_update()
        ).scalar_one()
        counter.last_sequence += 1
        sequence = counter.last_sequence
        session.add(
            EventRow(
                sequence=sequence,
                type=type,
                subject=subject,
                version=version,
                schema_id=schema_id,
                detail=detail,
                created_at=datetime.now(UTC),
            )
        )
        if self.dialect == "postgresql":
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": str(sequence)},
            )
        session.info["events_appended"] = True
        return sequence

    def events_after(
        self, session: Session, after: int, limit: int, subject_prefix: str = "", types: Collection[str] = ()
    ) -> list[Event]:
        """Up to ``limit`` events with a sequence above ``after`` (optionally filtered), oldest first."""
        query = select(EventRow).where(EventRow.sequence > after).order_by(EventRow.sequence).limit(limit)
        if subject_prefix:
            query = query.where(EventRow.subject.startswith(subject_prefix, autoescape=True))
        if types:
            query = query.where(EventRow.type.in_(sorted(types)))
        return [_event(row) for row in session.scalars(query)]

    def event_bounds(self, session: Session) -> tuple[int, int]:
        """(compacted_through, last_sequence)."""
        counter = session.get(EventCounterRow, 1)
        return counter.compacted_through, counter.last_sequence

    def last_event_sequence(self, session: Session) -> int:
        return session.get(EventCounterRow, 1).last_sequence

    def compact_events(
        self, session: Session, keep_last: int | None, older_than_cutoff: datetime | None
    ) -> int:
        """Remove events beyond the newest ``keep_last`` and those created before the cutoff (the
        newest event always stays); records the highest removed sequence; returns how many went."""
        counter = session.execute(
            select(EventCounterRow).where(EventCounterRow.id == 1).with_for_update()
        ).scalar_one()
        through = counter.compacted_through
        if keep_last is not None:
            through = max(through, counter.last_sequence - keep_last)
        if older_than_cutoff is not None:
            newest_old = session.execute(
                select(func.max(EventRow.sequence)).where(EventRow.created_at < older_than_cutoff)
            ).scalar_one()
            if newest_old is not None:
                through = max(through, min(newest_old, counter.last_sequence - 1))
        removed = session.execute(delete(EventRow).where(EventRow.sequence <= through)).rowcount
        counter.compacted_through = through
        return removed

    async def event_notifications(self) -> AsyncIterator[None]:
        """PostgreSQL only: one item per event any replica appends (``LISTEN`` on its own connection);
        ends with the connection's error."""
        import psycopg  # here: only PostgreSQL stores need it

        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
            await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            async for _ in connection.notifies():
                yield


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
