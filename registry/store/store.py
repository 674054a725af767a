"""Where the registry keeps its state: one SQLAlchemy layer over SQLite (default) and PostgreSQL.

Every query of the registry's tables is a ``Store`` method named after what it reads or writes,
grouped by tables in ``subjects.py``, ``events.py``, ``access.py`` and ``webhooks.py`` (the classes
``Store`` is made of). Callers run them inside ``read()`` / ``write()`` with the session those hand
them, and get value types back (``registry.model``, ``StoredVersion``), never rows.

Writes run in one transaction each (``Store.write``) and are retried on the transient failures of
concurrent writers (deadlock, serialisation failure, a unique-constraint race, SQLite's busy lock).
Version numbers are allocated under a per-subject lock: PostgreSQL locks the subject's row with
``SELECT ... FOR UPDATE``; SQLite runs every write transaction as ``BEGIN IMMEDIATE``, which
serialises writers across processes. The unique constraint on (subject, version) is the last guard.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from registry.errors import Unavailable
from registry.store.access import AccessQueries
from registry.store.events import EventQueries
from registry.store.subjects import SubjectQueries
from registry.store.webhooks import WebhookQueries

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE_ATTEMPTS = 8
_MIGRATION_LOCK_KEY = 0x6D657368  # "mesh": serialises migrations of replicas starting together


def sqlite_url(data_dir: str | Path) -> str:
    """The default store: ``<data-dir>/registry.db``."""
    return f"sqlite:///{Path(data_dir) / 'registry.db'}"


class Store(SubjectQueries, EventQueries, AccessQueries, WebhookQueries):
    """Engine, migrations and transactions of the registry database, and its queries.

    ``create=True`` applies the Alembic migrations shipped in this package (``alembic upgrade head``)
    so a fresh database, or one from an older release, is ready before the first request.
    """

    def __init__(self, url: str, create: bool = True, pool_size: int = 10):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        counter_args = {}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            counter_args = {"connect_args": {"timeout": 30}}
            self.engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self._write_engine = self.engine.execution_options(immediate=True)
        self.commit_listeners: list[Callable[[], None]] = []  # called after a write that added events
        self._probes: list[sqlite3.Connection] = []  # write_probe's connections, closed by close()
        # subject_seq's connections: a pool of their own (autocommit), borrowed for one query each
        self._counter_engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, **counter_args)
        event.listen(self._counter_engine, "connect", _counter_connect)
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
        for connection in self._probes:
            connection.close()
        self._counter_engine.dispose()
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

    def write_probe(self) -> Callable[[], int] | None:
        """SQLite on a file: the file's write version, which moves whenever another connection (of
        any process) commits to it, read in a few microseconds (``PRAGMA data_version`` on a
        connection of its own); it only compares, so callers on any thread see every change. When it
        cannot be read, a value seen never before (assume a write). None where there is no such
        probe (PostgreSQL: another replica's commit is known only by a notification sent later)."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        connection = sqlite3.connect(database, timeout=30, check_same_thread=False, isolation_level=None)
        lock = threading.Lock()
        unknown = itertools.count(-1, -1)

        def version() -> int:
            with lock:
                try:
                    return connection.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    return next(unknown)

        self._probes.append(connection)
        return version

    def subject_seq(self, subject: str) -> int | None:
        """The subject's change counter (None for an unknown subject): one primary-key read.

        Every read of a cached version pays this, so it skips the ORM: it borrows an autocommit DBAPI
        connection from a pool of its own for the one query (a few microseconds on SQLite, one round
        trip on PostgreSQL). A connection that failed is dropped from the pool.
        """
        connection = None
        try:
            connection = self._counter_engine.raw_connection()
            cursor = connection.driver_connection.cursor()
            try:
                cursor.execute(self._seq_sql, (subject,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except (DBAPIError, self.engine.dialect.loaded_dbapi.Error) as exc:
            if connection is not None:
                connection.invalidate()
            log.warning("registry store unavailable: %s", exc)
            raise Unavailable("the registry store is unavailable; try again") from None
        finally:
            if connection is not None:
                connection.close()  # back to the pool (a no-op after invalidate)
        return None if row is None else row[0]

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction, retrying it on transient conflicts.

        ``work`` must be safe to run again: everything it did is rolled back before a retry. The
        call's pending audit line (``PENDING_AUDIT``), if any, commits in the same transaction.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with Session(self._write_engine, expire_on_commit=False) as session:
                    with session.begin():
                        result = work(session)
                        audited = self.add_pending_audit(session)
                    if audited is not None:
                        audited.written = True
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


def _counter_connect(dbapi_connection, _record) -> None:
    """subject_seq's connections read in autocommit: no transaction left open between reads."""
    if hasattr(dbapi_connection, "autocommit"):  # psycopg; sqlite3 reads without BEGIN anyway
        dbapi_connection.autocommit = True


def _sqlite_begin(connection) -> None:
    immediate = connection.get_execution_options().get("immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
