"""Where the registry keeps its state: one SQLAlchemy layer over SQLite (default) and PostgreSQL.

Every query of the registry's tables is a ``Store`` method named after what it reads or writes; the
service calls them inside ``read()`` / ``write()`` with the session those hand it, and gets value
types back (``registry.model``, ``StoredVersion``), never rows.

Writes run in one transaction each (``Store.write``) and are retried on the transient failures of
concurrent writers (deadlock, serialisation failure, a unique-constraint race, SQLite's busy lock).
Version numbers are allocated under a per-subject lock: PostgreSQL locks the subject's row with
``SELECT ... FOR UPDATE``; SQLite runs every write transaction as ``BEGIN IMMEDIATE``, which
serialises writers across processes. The unique constraint on (subject, version) is the last guard.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import create_engine, delete, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from registry.compat import Level
from registry.errors import Unavailable
from registry.model import Consumer, SchemaRecord, SubjectConfig, as_references
from registry.store.models import (
    GLOBAL,
    ConfigRow,
    ConsumerRow,
    EventCounterRow,
    EventRow,
    ModeRow,
    ReferenceRow,
    SchemaRow,
    SubjectRow,
    SubjectVersionRow,
)

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE_ATTEMPTS = 8
_MIGRATION_LOCK_KEY = 0x6D657368  # "mesh": serialises migrations of replicas starting together
NOTIFY_CHANNEL = "meshgate_events"  # PostgreSQL NOTIFY channel that wakes watchers at each append


@dataclass(frozen=True)
class StoredVersion:
    """One row of ``subject_versions``: a subject's version pointing at a schema id."""

    subject: str
    version: int
    schema_id: int
    meta: dict
    deleted: bool


def sqlite_url(data_dir: str | Path) -> str:
    """The default store: ``<data-dir>/registry.db``."""
    return f"sqlite:///{Path(data_dir) / 'registry.db'}"


class Store:
    """Engine, migrations and transactions of the registry database.

    ``create=True`` applies the Alembic migrations shipped in this package (``alembic upgrade head``)
    so a fresh database, or one from an older release, is ready before the first request.
    """

    def __init__(self, url: str, create: bool = True, pool_size: int = 10):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self._write_engine = self.engine.execution_options(immediate=True)
        self.commit_listeners: list[Callable[[], None]] = []  # called after a write that added events
        self._counter = threading.local()  # per thread: a connection for subject_seq
        self._counter_connections: list = []
        self._counter_lock = threading.Lock()
        placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._seq_sql = f"SELECT seq FROM subjects WHERE name = {placeholder}"
        if create:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe when replicas start together)."""
        from alembic.config import Config  # here, not at import: clients that never migrate skip alembic

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            self._upgrade(config)
        except OperationalError as exc:
            where = make_url(self.url).render_as_string(hide_password=True)
            raise Unavailable(f"cannot open the registry store at {where}: {exc.orig}") from None

    def _upgrade(self, config: Config) -> None:
        from alembic import command as alembic_command

        with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                connection.commit()
            try:
                config.attributes["connection"] = connection
                alembic_command.upgrade(config, "head")
                connection.commit()
            finally:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                    connection.commit()

    def close(self) -> None:
        with self._counter_lock:
            for connection in self._counter_connections:
                with contextlib.suppress(Exception):  # closing a broken connection may fail; it goes anyway
                    connection.close()
            self._counter_connections.clear()
        self.engine.dispose()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; a store that cannot be reached becomes ``Unavailable``."""
        try:
            with Session(self.engine) as session:
                yield session
        except OperationalError as exc:
            log.warning("registry store unavailable: %s", exc)
            raise Unavailable("the registry store is unavailable; try again") from None

    @property
    def reads_are_local(self) -> bool:
        """True for SQLite: a primary-key read is a local file read of a few microseconds."""
        return self.dialect == "sqlite"

    def subject_seq(self, subject: str) -> int | None:
        """The subject's change counter (None for an unknown subject): one primary-key read.

        Every read of a cached version pays this, so it skips the pool and the ORM: each thread keeps
        one autocommit DBAPI connection for it (a few microseconds on SQLite, one round trip on
        PostgreSQL). A failed connection is dropped and reopened on the next call.
        """
        connection = getattr(self._counter, "connection", None)
        try:
            if connection is None:
                connection = self._counter.connection = self._open_counter_connection()
            cursor = connection.driver_connection.cursor()
            try:
                cursor.execute(self._seq_sql, (subject,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            self._counter.connection = None
            log.warning("registry store unavailable: %s", exc)
            raise Unavailable("the registry store is unavailable; try again") from None
        return None if row is None else row[0]

    def _open_counter_connection(self):
        connection = self.engine.raw_connection()
        if self.dialect == "postgresql":
            connection.driver_connection.autocommit = True
        with self._counter_lock:
            self._counter_connections.append(connection)
        return connection

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction, retrying it on transient conflicts.

        ``work`` must be safe to run again: everything it did is rolled back before a retry.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with Session(self._write_engine, expire_on_commit=False) as session:
                    with session.begin():
                        result = work(session)
                    if session.info.get("events_appended"):
                        for listener in self.commit_listeners:
                            listener()
                    return result
            except (IntegrityError, OperationalError) as exc:
                if attempt == WRITE_ATTEMPTS or not _transient(exc):
                    if isinstance(exc, OperationalError):
                        log.warning("registry store write failed: %s", exc)
                        raise Unavailable("the registry store is unavailable; try again") from None
                    raise
                time.sleep(random.uniform(0.005, 0.02) * attempt)
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the database answers."""
        with self.read() as session:
            session.execute(select(1))

    # ---- subjects and their versions -----------------------------------------------------------

    def lock_subject(self, session: Session, subject: str) -> None:
        """Create the subject's row if needed and lock it until the transaction ends."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(SubjectRow).values(name=subject, seq=0).on_conflict_do_nothing(index_elements=["name"])
        )
        session.execute(select(SubjectRow).where(SubjectRow.name == subject).with_for_update()).scalar_one()

    def bump_subject_seq(self, session: Session, subject: str) -> None:
        """Move the subject's change counter: cached reads of it become stale everywhere."""
        session.execute(update(SubjectRow).where(SubjectRow.name == subject).values(seq=SubjectRow.seq + 1))

    def versions(self, session: Session, subject: str) -> list[StoredVersion]:
        """Every version of the subject, soft-deleted ones included, oldest first."""
        query = (
            select(SubjectVersionRow)
            .where(SubjectVersionRow.subject == subject)
            .order_by(SubjectVersionRow.version)
        )
        return [_stored_version(row) for row in session.scalars(query)]

    def live_version(self, session: Session, subject: str, version: int) -> StoredVersion | None:
        row = session.execute(
            select(SubjectVersionRow).where(
                SubjectVersionRow.subject == subject,
                SubjectVersionRow.version == version,
                SubjectVersionRow.deleted.is_(False),
            )
        ).scalar_one_or_none()
        return None if row is None else _stored_version(row)

    def schema_id_of_version(self, session: Session, subject: str, version: int) -> int | None:
        """The schema id of a version, soft-deleted or not (None once it is permanently deleted)."""
        return session.execute(
            select(SubjectVersionRow.schema_id).where(
                SubjectVersionRow.subject == subject, SubjectVersionRow.version == version
            )
        ).scalar_one_or_none()

    def add_version(self, session: Session, subject: str, version: int, schema_id: int, meta: dict) -> None:
        session.add(
            SubjectVersionRow(subject=subject, version=version, schema_id=schema_id, meta=meta, deleted=False)
        )
        session.flush()

    def soft_delete_versions(self, session: Session, subject: str, versions: Sequence[int]) -> None:
        session.execute(
            update(SubjectVersionRow)
            .where(SubjectVersionRow.subject == subject, SubjectVersionRow.version.in_(versions))
            .values(deleted=True)
        )

    def remove_versions(self, session: Session, subject: str, versions: Sequence[int]) -> None:
        session.execute(
            delete(SubjectVersionRow).where(
                SubjectVersionRow.subject == subject, SubjectVersionRow.version.in_(versions)
            )
        )

    def subject_names(self, session: Session, prefix: str = "", include_deleted: bool = False) -> list[str]:
        """Subjects (with a live version unless ``include_deleted``), sorted, starting with ``prefix``."""
        query = select(SubjectVersionRow.subject).distinct().order_by(SubjectVersionRow.subject)
        if prefix:
            query = query.where(SubjectVersionRow.subject.startswith(prefix, autoescape=True))
        if not include_deleted:
            query = query.where(SubjectVersionRow.deleted.is_(False))
        return list(session.scalars(query))

    def live_versions_of_schema(self, session: Session, schema_id: int) -> list[tuple[str, int]]:
        """Every live (subject, version) that holds the schema id."""
        rows = session.execute(
            select(SubjectVersionRow.subject, SubjectVersionRow.version)
            .where(SubjectVersionRow.schema_id == schema_id, SubjectVersionRow.deleted.is_(False))
            .order_by(SubjectVersionRow.subject, SubjectVersionRow.version)
        ).all()
        return [(subject, version) for subject, version in rows]

    def referrers(self, session: Session, subject: str, versions: Sequence[int]) -> list[tuple[str, int]]:
        """Live (subject, version)s whose schema references one of these versions of ``subject``."""
        rows = session.execute(
            select(SubjectVersionRow.subject, SubjectVersionRow.version)
            .join(ReferenceRow, ReferenceRow.schema_id == SubjectVersionRow.schema_id)
            .where(
                ReferenceRow.subject == subject,
                ReferenceRow.version.in_(versions),
                SubjectVersionRow.deleted.is_(False),
            )
            .order_by(SubjectVersionRow.subject, SubjectVersionRow.version)
        ).all()
        return [(referrer, version) for referrer, version in rows]

    # ---- schemas by global id ------------------------------------------------------------------

    def schema(self, session: Session, schema_id: int) -> SchemaRecord | None:
        row = session.get(SchemaRow, schema_id)
        if row is None:
            return None
        return SchemaRecord(
            id=row.id, format=row.format, schema=row.text, references=as_references(row.references)
        )

    def find_schema_id(self, session: Session, format_name: str, fingerprint: str) -> int | None:
        """The global id of the schema with this (format, fingerprint), or None when it is new."""
        return session.execute(
            select(SchemaRow.id).where(SchemaRow.format == format_name, SchemaRow.fingerprint == fingerprint)
        ).scalar_one_or_none()

    def add_schema(
        self, session: Session, format_name: str, fingerprint: str, schema_text: str, references: list[dict]
    ) -> int:
        """Allocate a global id for a schema that ``find_schema_id`` did not find.

        Two writers adding the same new schema under different subjects meet on the unique
        constraint: the loser's transaction fails with IntegrityError and ``write`` retries it,
        which then finds the winner's row.
        """
        row = SchemaRow(format=format_name, fingerprint=fingerprint, text=schema_text, references=references)
        session.add(row)
        session.flush()
        for ref in references:
            session.add(ReferenceRow(schema_id=row.id, **ref))
        return row.id

    # ---- compatibility configs and modes (subject None: the global setting) --------------------

    def config(self, session: Session, subject: str | None) -> SubjectConfig | None:
        """The setting made at exactly this scope, or None."""
        row = session.get(ConfigRow, _key(subject))
        return None if row is None else SubjectConfig(Level(row.level), row.ruleset)

    def put_config(self, session: Session, subject: str | None, level: Level, ruleset: str | None) -> None:
        session.merge(ConfigRow(subject=_key(subject), level=level.value, ruleset=ruleset))

    def delete_config(self, session: Session, subject: str | None) -> SubjectConfig | None:
        """Remove the setting made at this scope; returns it (None when there was none)."""
        row = session.get(ConfigRow, _key(subject))
        if row is None:
            return None
        session.delete(row)
        return SubjectConfig(Level(row.level), row.ruleset)

    def mode(self, session: Session, subject: str | None) -> str | None:
        row = session.get(ModeRow, _key(subject))
        return None if row is None else row.mode

    def put_mode(self, session: Session, subject: str | None, mode: str) -> None:
        session.merge(ModeRow(subject=_key(subject), mode=mode))

    # ---- consumers -----------------------------------------------------------------------------

    def consumers(self, session: Session, subject: str | None = None) -> list[Consumer]:
        """Consumers of the subject (of every subject for None), by subject then name."""
        query = select(ConsumerRow).order_by(ConsumerRow.subject, ConsumerRow.name)
        if subject is not None:
            query = query.where(ConsumerRow.subject == subject)
        return [_consumer(row) for row in session.scalars(query)]

    def put_consumer(self, session: Session, consumer: Consumer) -> None:
        """Add the consumer, or replace the reader and fields of the one with its name and subject."""
        row = self._consumer_row(session, consumer.name, consumer.subject)
        if row is None:
            row = ConsumerRow(name=consumer.name, subject=consumer.subject)
            session.add(row)
        row.format = consumer.format
        row.version = consumer.version
        row.reader_schema = consumer.reader_schema
        row.fields = list(consumer.fields)

    def delete_consumer(self, session: Session, name: str, subject: str) -> bool:
        """Remove the consumer; False when there was none."""
        row = self._consumer_row(session, name, subject)
        if row is not None:
            session.delete(row)
        return row is not None

    def _consumer_row(self, session: Session, name: str, subject: str) -> ConsumerRow | None:
        return session.execute(
            select(ConsumerRow).where(ConsumerRow.name == name, ConsumerRow.subject == subject)
        ).scalar_one_or_none()

    # ---- the event log -------------------------------------------------------------------------

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


def _key(subject: str | None) -> str:
    return GLOBAL if subject is None else subject


def _stored_version(row: SubjectVersionRow) -> StoredVersion:
    return StoredVersion(row.subject, row.version, row.schema_id, dict(row.meta or {}), row.deleted)


def _consumer(row: ConsumerRow) -> Consumer:
    return Consumer(
        name=row.name,
        subject=row.subject,
        format=row.format,
        version=row.version,
        reader_schema=row.reader_schema,
        fields=tuple(row.fields or ()),
    )


def _transient(exc: DBAPIError) -> bool:
    """Conflicts a retry can resolve: unique races, deadlocks, serialisation failures, busy SQLite."""
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:
    immediate = connection.get_execution_options().get("immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
