"""Queries of the access tables: API tokens (only their secrets' SHA-256 is kept) and the audit log.

``PENDING_AUDIT`` holds the audit line of the call in progress: ``Store.write`` adds it to the
transaction of the first write the call commits, so a change and its audit row commit together.
Allowed reads' rows come in batches (``add_audit_entries``: one multi-row INSERT per batch).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry.model import ApiToken, AuditEntry
from registry.store.models import ApiTokenRow, AuditRow, as_utc


@dataclass
class PendingAudit:
    """The audit line of a call in progress; ``written`` once a write committed it (outcome ok)."""

    token_id: int | None
    token_name: str
    role: str
    action: str
    target: str
    peer: str
    written: bool = False


PENDING_AUDIT: contextvars.ContextVar[PendingAudit | None] = contextvars.ContextVar(
    "pending_audit", default=None
)


class AccessQueries:
    """``Store``'s methods over ``api_tokens`` and ``audit_log``."""

    def add_token(
        self,
        session: Session,
        name: str,
        token_hash: str,
        role: str,
        domains: tuple[str, ...],
        created_at: datetime,
        created_by: str,
        expires_at: datetime | None,
    ) -> ApiToken:
        row = ApiTokenRow(
            name=name,
            token_hash=token_hash,
            role=role,
            domains=list(domains),
            created_at=created_at,
            created_by=created_by,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        return _token(row)

    def token_by_hash(self, session: Session, token_hash: str) -> ApiToken | None:
        row = session.execute(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash)
        ).scalar_one_or_none()
        return None if row is None else _token(row)

    def token(self, session: Session, token_id: int) -> ApiToken | None:
        row = session.get(ApiTokenRow, token_id)
        return None if row is None else _token(row)

    def revoke_token(self, session: Session, token_id: int, at: datetime) -> ApiToken | None:
        """Mark the token revoked at ``at`` unless it already is; None when there is no such token."""
        row = session.get(ApiTokenRow, token_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = at
        return _token(row)

    def tokens(self, session: Session, include_revoked: bool = False) -> list[ApiToken]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.id)
        if not include_revoked:
            query = query.where(ApiTokenRow.revoked_at.is_(None))
        return [_token(row) for row in session.scalars(query)]

    def add_audit_entry(
        self,
        session: Session,
        time: datetime,
        token_id: int | None,
        token_name: str,
        role: str,
        action: str,
        target: str,
        peer: str,
        outcome: str,
    ) -> None:
        session.add(
            AuditRow(
                time=time,
                token_id=token_id,
                token_name=token_name,
                role=role,
                action=action,
                target=target,
                peer=peer,
                outcome=outcome,
            )
        )

    def add_audit_entries(self, session: Session, entries: list[dict]) -> None:
        """Add many audit rows (``AuditRow``'s columns as keys) in one executemany INSERT."""
        if entries:
            session.execute(insert(AuditRow), entries)

    def add_pending_audit(self, session: Session) -> PendingAudit | None:
        """Add the call's pending audit line (outcome ok) to ``session``'s transaction, once."""
        pending = PENDING_AUDIT.get()
        if pending is None or pending.written:
            return None
        self.add_audit_entry(
            session,
            time=datetime.now(UTC),
            token_id=pending.token_id,
            token_name=pending.token_name,
            role=pending.role,
            action=pending.action,
            target=pending.target[:255],
            peer=pending.peer[:255],
            outcome="ok",
        )
        return pending

    def audit_entries(self, session: Session, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first, each with the caller's role as it was written."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        return [
            AuditEntry(
                row.id,
                as_utc(row.time),
                row.token_id,
                row.token_name,
                row.action,
                row.target,
                row.peer,
                row.outcome,
                row.role,
            )
            for row in session.scalars(query)
        ]


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        role=row.role,
        domains=tuple(row.domains or ()),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at),
    )
