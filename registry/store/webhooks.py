"""Queries of the webhook tables: subscriptions with their cursor and lease, and the delivery log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from registry.model import Delivery, EventFilter, Webhook
from registry.store.models import EventCounterRow, WebhookDeliveryRow, WebhookRow, as_utc


class WebhookQueries:
    """``Store``'s methods over ``webhooks`` and ``webhook_deliveries``."""

    def add_webhook(
        self,
        session: Session,
        url: str,
        secret: str,
        subject_prefix: str,
        event_types: tuple[str, ...],
        cursor: int | None,
        now: datetime,
        created_by: str,
    ) -> Webhook:
        """Subscribe ``url`` with its cursor at ``cursor`` (None: the newest event, so from now on)."""
        if cursor is None:
            cursor = session.get(EventCounterRow, 1).last_sequence
        row = WebhookRow(
            url=url,
            secret=secret,
            subject_prefix=subject_prefix,
            event_types=list(event_types),
            cursor=cursor,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            created_by=created_by,
        )
        session.add(row)
        session.flush()
        return _webhook(row)

    def webhook_secrets(self, session: Session) -> dict[int, str]:
        """Every subscription's stored secret (sealed, or plaintext of an older release), by id."""
        rows = session.execute(select(WebhookRow.id, WebhookRow.secret))
        return {webhook_id: secret for webhook_id, secret in rows}

    def set_webhook_secret(self, session: Session, webhook_id: int, stored: str) -> None:
        session.execute(update(WebhookRow).where(WebhookRow.id == webhook_id).values(secret=stored))

    def webhooks(self, session: Session) -> list[Webhook]:
        return [_webhook(row) for row in session.scalars(select(WebhookRow).order_by(WebhookRow.id))]

    def remove_webhook(self, session: Session, webhook_id: int) -> bool:
        """Remove the subscription; False when there was none."""
        row = session.get(WebhookRow, webhook_id)
        if row is not None:
            session.delete(row)
        return row is not None

    def deliveries(self, session: Session, webhook_id: int | None, limit: int) -> list[Delivery]:
        """The newest ``limit`` delivery attempts (of one subscription, or of all), newest first."""
        query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(WebhookDeliveryRow.webhook_id == webhook_id)
        return [
            Delivery(r.id, r.webhook_id, r.sequence, r.attempt, as_utc(r.time), r.status_code, r.outcome)
            for r in session.scalars(query)
        ]

    def due_webhooks(self, session: Session, now: datetime) -> list[int]:
        """Ids of subscriptions whose next attempt is due and that have events after their cursor."""
        last = session.get(EventCounterRow, 1).last_sequence
        return list(
            session.scalars(
                select(WebhookRow.id).where(WebhookRow.next_attempt_at <= now, WebhookRow.cursor < last)
            )
        )

    def take_webhook_lease(
        self, session: Session, webhook_id: int, owner: str, now: datetime, until: datetime
    ) -> tuple[int, str, str, EventFilter, int, int] | None:
        """Lease the subscription to ``owner`` until ``until`` when it is free, expired or already
        ``owner``'s; returns (id, url, secret, filter, cursor, attempts), or None when another holds it."""
        taken = session.execute(
            update(WebhookRow)
            .where(
                WebhookRow.id == webhook_id,
                or_(
                    WebhookRow.lease_owner.is_(None),
                    WebhookRow.lease_owner == owner,
                    WebhookRow.lease_until < now,
                ),
            )
            .values(lease_owner=owner, lease_until=until)
        ).rowcount
        if not taken:
            return None
        row = session.get(WebhookRow, webhook_id)
        where = EventFilter(row.subject_prefix, frozenset(row.event_types or ()))
        return (row.id, row.url, row.secret, where, row.cursor, row.attempts)

    def record_delivery(
        self,
        session: Session,
        owner: str,
        webhook_id: int,
        sequence: int,
        attempt: int,
        status_code: int | None,
        outcome: str,
        now: datetime,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Log an attempt; without ``next_attempt_at`` (it succeeded) move the cursor to ``sequence``,
        else schedule the retry. False when ``owner`` no longer holds the lease."""
        values = (
            {"cursor": sequence, "attempts": 0, "next_attempt_at": now}
            if next_attempt_at is None
            else {"attempts": attempt, "next_attempt_at": next_attempt_at}
        )
        moved = session.execute(
            update(WebhookRow)
            .where(WebhookRow.id == webhook_id, WebhookRow.lease_owner == owner)
            .values(**values)
        ).rowcount
        session.add(
            WebhookDeliveryRow(
                webhook_id=webhook_id,
                sequence=sequence,
                attempt=attempt,
                time=now,
                status_code=status_code,
                outcome=outcome,
                replica=owner,
            )
        )
        return bool(moved)

    def move_webhook_cursor(self, session: Session, owner: str, webhook_id: int, sequence: int) -> None:
        """Move the cursor forward to ``sequence`` while ``owner`` holds the lease."""
        session.execute(
            update(WebhookRow)
            .where(WebhookRow.id == webhook_id, WebhookRow.lease_owner == owner, WebhookRow.cursor < sequence)
            .values(cursor=sequence)
        )

    def release_webhook_leases(self, session: Session, owner: str) -> None:
        session.execute(
            update(WebhookRow)
            .where(WebhookRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        subject_prefix=row.subject_prefix,
        event_types=tuple(row.event_types or ()),
        cursor=row.cursor,
        attempts=row.attempts,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )
