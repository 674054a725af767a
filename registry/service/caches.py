"""The service's caches: schemas by id, and each subject's live versions following the event log.

Schemas by id never change, so they are kept for the life of the process (bounded by
``SCHEMA_CACHE_SIZE``, oldest out first). A subject's live versions (and so its latest) are kept
with the subject's change counter (``subjects.seq``, bumped by every write to the subject in the
same transaction) and dropped when the event log (read by the server's event hub) shows a change
to the subject; while a write is known that the hub has not read yet, or no hub follows the log,
each read re-reads the counter with one primary-key lookup instead. Either way a replica never
serves a version or a latest that another replica has since replaced or deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from registry.contract import ContractMetadata
from registry.errors import SchemaNotFound, SubjectNotFound
from registry.model import RegisteredSchema, SchemaRecord
from registry.service.arguments import check_schema_id
from registry.store import Store, StoredVersion

SCHEMA_CACHE_SIZE = 10_000  # schemas kept by id per process


class SchemaCache:
    """Schemas by global id, loaded from the store on a miss."""

    def __init__(self, store: Store, size: int = SCHEMA_CACHE_SIZE):
        self.store = store
        self.size = size
        self._records: dict[int, SchemaRecord] = {}
        self._lock = threading.Lock()

    def get(self, schema_id: int) -> SchemaRecord:
        record = self._records.get(check_schema_id(schema_id))
        if record is None:
            with self.store.read() as session:
                record = self.store.schema(session, schema_id)
            if record is None:
                raise SchemaNotFound(f"schema id {schema_id} not found")
            with self._lock:
                if len(self._records) >= self.size:
                    del self._records[next(iter(self._records))]  # the oldest entry
                self._records[schema_id] = record
        return record

    def cached(self, schema_id: int) -> SchemaRecord | None:
        """The schema when it is cached, without touching the store (or None)."""
        return self._records.get(schema_id)

    def registered(self, stored: StoredVersion) -> RegisteredSchema:
        """The version as callers see it: the stored row joined with its schema."""
        record = self.get(stored.schema_id)
        return RegisteredSchema(
            subject=stored.subject,
            version=stored.version,
            schema_id=stored.schema_id,
            format=record.format,
            schema=record.schema,
            references=record.references,
            metadata=ContractMetadata.from_dict(stored.meta),
            deleted=stored.deleted,
            guid=record.guid,
            data_metadata=stored.data_metadata,
            rule_set=stored.rule_set,
        )


@dataclass(frozen=True)
class LiveVersions:
    """A subject's live versions as of its change counter ``seq``."""

    seq: int
    by_version: dict[int, RegisteredSchema]
    latest: RegisteredSchema | None


class LiveVersionCache:
    """Each subject's live versions, answered without the store while the cache follows the log.

    Following: the server's event hub tails the event log and hands every event it reads to
    ``caught_up``, which drops the subjects they name. A write this process commits, a PostgreSQL
    notification of another replica's write, or ``unseen_writes`` (the store's probe: another
    connection committed to the SQLite file, a notification waiting on the LISTEN socket) counts as
    a ``notice``: from then until the hub has read the log past it, every read checks the subject's
    change counter (one primary-key read) as it does when no hub follows (``following`` False). So
    a version registered on one replica is the latest on every other from the next call on.

    Until a race is found, every read checks the subject's change counter, trusted or not (one
    primary-key read; the versions still come from the cache while the counter stands): under the
    parallel suite, on SQLite and on PostgreSQL alike, the hub's read of the log after another
    replica's write sometimes did not drop the subject, and a replaced latest was served once more
    (tests/registry/test_grpc_server.py and test_latest_cache.py, about 1 run in 5 under load).
    """

    def __init__(self, store: Store, schemas: SchemaCache):
        self.store = store
        self.schemas = schemas
        self._subjects: dict[str, LiveVersions] = {}
        self._lock = threading.Lock()
        self._notices = 0  # writes known to have happened
        self._read_through = -1  # the notices the hub's last read of the log covered
        self._generation = 0  # bumped by every invalidation: a load that raced one is not kept
        self.following = False  # set by the hub while it tails the log (and, on PostgreSQL, LISTENs)
        self.wake: Callable[[], None] = lambda: None  # asks the hub to read the log now
        self.unseen_writes: Callable[[], bool] = lambda: False  # the store's probe; True: notice
        self._always_check_counter = True  # see the class docstring: trust is off until the race is found

    def notice(self) -> None:
        """A write happened that the hub has not read yet (any thread)."""
        with self._lock:
            self._notices += 1
        self.wake()

    def reading(self) -> int:
        """Called by the hub before it reads the log: the mark its ``caught_up`` passes back."""
        return self._notices

    def caught_up(self, mark: int, subjects: Iterable[str]) -> None:
        """The hub read the log to its end after ``mark`` (and these subjects' events in it)."""
        with self._lock:
            for subject in subjects:
                self._subjects.pop(subject, None)
                self._generation += 1
            self._read_through = mark

    def reset(self) -> None:
        """Forget every subject (the hub starts following from the log's current end)."""
        with self._lock:
            self._subjects.clear()
            self._generation += 1

    def _trusted(self) -> bool:
        if self.unseen_writes():
            self.notice()
        return self.following and self._read_through == self._notices and not self._always_check_counter

    def get(self, subject: str) -> LiveVersions:
        """The subject's live versions, reloaded when its counter moved; ``SubjectNotFound`` when none."""
        cached = self.cached(subject)
        if cached is not None:
            return cached
        generation = self._generation
        seq = self.store.subject_seq(subject)
        if seq is None:
            raise SubjectNotFound(f"subject {subject!r} not found")
        cached = self._subjects.get(subject)
        if cached is None or cached.seq != seq:
            with self.store.read() as session:
                stored = [v for v in self.store.versions(session, subject) if not v.deleted]
            # Read after the counter: the rows are at least as new as ``seq``; a write in between
            # changes the counter again, so the next read reloads.
            versions = [self.schemas.registered(v) for v in stored]
            cached = LiveVersions(seq, {v.version: v for v in versions}, versions[-1] if versions else None)
            with self._lock:
                if self._generation == generation:  # no event read meanwhile that this load may predate
                    self._subjects[subject] = cached
        if cached.latest is None:
            raise SubjectNotFound(f"subject {subject!r} not found")
        return cached

    def cached(self, subject: str) -> LiveVersions | None:
        """The cached entry while the cache follows the log with nothing unread, else None.

        Reads no table (at most the store's probe), so servers call it on their event loop.
        """
        cached = self._subjects.get(subject)
        if cached is None or cached.latest is None or not self._trusted():
            return None
        return cached
