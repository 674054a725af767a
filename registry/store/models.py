"""The registry's tables, as SQLAlchemy 2 typed ORM models.

A schema row is immutable and shared by every subject that registers the same normalised schema (its
primary key is the global schema id). A subject version points at a schema row and carries that
version's contract metadata. The ``subjects`` row exists once per subject: writers lock it to number
versions without gaps, and its ``seq`` counter changes on every write so replicas can validate caches.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The key used in ``configs`` and ``modes`` for the global setting.
GLOBAL = ""


def _now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite returns naive datetimes for these columns)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Base(DeclarativeBase):
    pass


class SchemaRow(Base):
    __tablename__ = "schemas"
    __table_args__ = (UniqueConstraint("format", "fingerprint", name="uq_schemas_format_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    format: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    references: Mapped[list] = mapped_column(JSON, default=list)  # [{name, subject, version}]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    guid: Mapped[str | None] = mapped_column(String(36), unique=True, index=True, nullable=True)


class SubjectRow(Base):
    __tablename__ = "subjects"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every write to the subject


class SubjectVersionRow(Base):
    __tablename__ = "subject_versions"
    __table_args__ = (UniqueConstraint("subject", "version", name="uq_subject_versions_subject_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("subjects.name"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    schema_id: Mapped[int] = mapped_column(ForeignKey("schemas.id"), index=True)
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data_metadata: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Confluent's metadata
    rule_set: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Confluent's ruleSet
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReferenceRow(Base):
    """One import of a schema: lets a delete find the versions other subjects still reference."""

    __tablename__ = "schema_references"
    __table_args__ = (Index("ix_schema_references_target", "subject", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schema_id: Mapped[int] = mapped_column(ForeignKey("schemas.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)


class ConfigRow(Base):
    __tablename__ = "configs"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)  # GLOBAL for the default
    level: Mapped[str] = mapped_column(String(32))
    ruleset: Mapped[str | None] = mapped_column(String(32), nullable=True)
    compatibility_group: Mapped[str | None] = mapped_column(String(255), nullable=True)
    default_metadata: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    override_metadata: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    default_rule_set: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    override_rule_set: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ModeRow(Base):
    __tablename__ = "modes"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)  # GLOBAL for the default
    mode: Mapped[str] = mapped_column(String(16))


class ConsumerRow(Base):
    __tablename__ = "consumers"
    __table_args__ = (UniqueConstraint("name", "subject", name="uq_consumers_name_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255), index=True)
    format: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reader_schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    fields: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class EventRow(Base):
    """One change, written in the transaction of the change; ``sequence`` orders every change."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_subject_sequence", "subject", "sequence"),)

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))  # GLOBAL for global config and mode
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    schema_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class EventCounterRow(Base):
    """The single row that numbers events: appenders lock it, so sequences commit in order.

    ``compacted_through``: every event up to this sequence may have been removed by retention.
    """

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    compacted_through: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiTokenRow(Base):
    """An API token: only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    domains: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """One decision (a write, a refusal, an allowed read): who (token, role then), when, what, where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    token_name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    peer: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="", server_default="")  # the caller's, when written


class WebhookRow(Base):
    """A webhook subscription and its delivery state.

    ``cursor`` is the last sequence delivered (deliveries go in order, one at a time). The lease
    (``lease_owner`` until ``lease_until``) makes one replica at a time deliver for a subscription.
    The secret is kept as given: signing needs it (unlike API tokens, it is not a credential to us).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(255))
    subject_prefix: Mapped[str] = mapped_column(String(255), default="")
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts of the next event
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[str] = mapped_column(String(255), default="")


class WebhookDeliveryRow(Base):
    """One delivery attempt: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(255))  # "delivered" or why it failed
    replica: Mapped[str] = mapped_column(String(64), default="")
