"""The ingestion log: one row per gate decision, in the catalog's own database.

It is the durable record of which batch ids landed (snapshot history is expired by maintenance, the
log is not), and what ``meshgate ingest-log`` prints. Same SQLAlchemy engine as the Iceberg catalog,
so SQLite or PostgreSQL follow the catalog's configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

ACCEPTED, REJECTED, QUARANTINED, DUPLICATE, ROLLED_BACK, EXPIRED = (
    "accepted",
    "rejected",
    "quarantined",
    "duplicate",
    "rolled_back",
    "snapshot_expired",
)
# Statuses after which a batch id counts as landed (its rows are in Bronze).
LANDED = (ACCEPTED, QUARANTINED, EXPIRED)

_metadata = sa.MetaData()
ingest_log_table = sa.Table(
    "meshgate_ingest_log",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("batch_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("rows_accepted", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False, default=0),
    sa.Column("schema_id", sa.BigInteger),
    sa.Column("schema_version", sa.Integer),
    sa.Column("snapshot_id", sa.BigInteger),
    sa.Column("reasons", sa.Text, nullable=False, default="{}"),  # JSON: rule -> count
    sa.Column("files", sa.Text, nullable=False, default="[]"),  # JSON: input files
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Index("ix_meshgate_ingest_log_batch", "subject", "batch_id"),
)


@dataclass
class LogEntry:
    subject: str
    batch_id: str
    status: str
    rows_accepted: int = 0
    rows_rejected: int = 0
    schema_id: int | None = None
    schema_version: int | None = None
    snapshot_id: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    message: str = ""
    logged_at: datetime | None = None


class IngestLog:
    """Append-only log of gate decisions on a SQLAlchemy engine (the catalog's)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        try:
            _metadata.create_all(engine, checkfirst=True)
        except sa.exc.DBAPIError:  # another gate created it between the check and the CREATE
            _metadata.create_all(engine, checkfirst=True)

    def record(self, entry: LogEntry) -> None:
        row = {
            "logged_at": entry.logged_at or datetime.now(UTC),
            "subject": entry.subject,
            "batch_id": entry.batch_id,
            "status": entry.status,
            "rows_accepted": entry.rows_accepted,
            "rows_rejected": entry.rows_rejected,
            "schema_id": entry.schema_id,
            "schema_version": entry.schema_version,
            "snapshot_id": entry.snapshot_id,
            "reasons": json.dumps(entry.reasons, sort_keys=True),
            "files": json.dumps(entry.files),
            "message": entry.message,
        }
        with self.engine.begin() as conn:
            conn.execute(ingest_log_table.insert().values(**row))

    def landed(self, subject: str, batch_id: str) -> bool:
        """Whether the latest decisive entry for this batch says its rows are in Bronze."""
        query = (
            sa.select(ingest_log_table.c.status)
            .where(ingest_log_table.c.subject == subject, ingest_log_table.c.batch_id == batch_id)
            .where(ingest_log_table.c.status.in_((*LANDED, ROLLED_BACK)))
            .order_by(ingest_log_table.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            status = conn.execute(query).scalar()
        return status in LANDED

    def entries(self, subject: str | None = None, limit: int = 100) -> list[LogEntry]:
        """The latest entries, newest first."""
        query = sa.select(ingest_log_table).order_by(ingest_log_table.c.id.desc()).limit(limit)
        if subject:
            query = query.where(ingest_log_table.c.subject == subject)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            LogEntry(
                subject=row["subject"],
                batch_id=row["batch_id"],
                status=row["status"],
                rows_accepted=row["rows_accepted"],
                rows_rejected=row["rows_rejected"],
                schema_id=row["schema_id"],
                schema_version=row["schema_version"],
                snapshot_id=row["snapshot_id"],
                reasons=json.loads(row["reasons"]),
                files=json.loads(row["files"]),
                message=row["message"],
                logged_at=row["logged_at"],
            )
            for row in rows
        ]
