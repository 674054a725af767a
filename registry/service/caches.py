"""The service's caches: schemas by id, and each subject's live versions following the event log.

Schemas by id never change, so they are kept for the life of the process (bounded by
``SCHEMA_CACHE_SIZE``, oldest out first). A subject's live versions (and so its latest) are kept
with the subject's change counter (``subjects.seq``, bumped by every write to the subject in the
same transaction) and dropped when the event log (read by the server's event hub) shows a change
to the subject; while a commit may be one the hub has not read yet (the store's write version
moved since its last read), or no hub follows the log, each read re-reads the counter with one
primary-key lookup instead. Either way a replica never serves a version or a latest that another
replica has since replaced or deleted.
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

    Following: the server's event hub tails the event log and drops (``changed``) the subjects of
    every event it reads. Before each read it takes ``reading()``, the store's write version
    (``write_version``, the SQLite probe: ``PRAGMA data_version`` on a connection of its own, which
    moves with every commit of any other connection or process), and hands it back after. A
    cached entry is trusted only while the write version still equals the one the hub's last read
    started from: no commit since, so every change committed before this call is in a read the hub
    finished, and its subject was dropped. Trust is decided before the entry is taken (an entry
    taken first may be one the hub drops meanwhile), and the probe only compares, so threads
    asking at once cannot take a change from each other. Otherwise (a write the hub has not read
    yet, no hub following, PostgreSQL) a read checks the subject's change counter (one primary-key
    read) and reuses the versions while it stands. PostgreSQL has no such probe: another replica's
    notification is delivered after that replica's commit returned, maybe after the client's next
    call here, so there the counter is read on every call. Either way a replica never serves a
    version or a latest that another replica has since replaced or deleted.
    """

    def __init__(self, store: Store, schemas: SchemaCache):
        self.store = store
        self.schemas = schemas
        self._subjects: dict[str, LiveVersions] = {}
        self._lock = threading.Lock()
        self._read_through: int | None = None  # the write version the hub's last read started from
        self._woken_for: int | None = None  # the write version the hub was last asked to read
        self._generation = 0  # bumped by every invalidation: a load that raced one is not kept
        self.wake: Callable[[], None] = lambda: None  # asks the hub to read the log now
        self.write_version: Callable[[], int] | None = None  # the store's probe (SQLite); set by the hub

    def reading(self) -> int | None:
        """Called by the hub before it reads the log: the mark its ``caught_up`` passes back."""
        return self.write_version() if self.write_version is not None else None

    def changed(self, subjects: Iterable[str]) -> None:
        """The hub read events of these subjects: drop them."""
        with self._lock:
            for subject in subjects:
                self._subjects.pop(subject, None)
                self._generation += 1

    def caught_up(self, mark: int | None) -> None:
        """The hub read the log to its end, starting after ``reading()`` returned ``mark``."""
        with self._lock:
            self._read_through = mark

    def reset(self) -> None:
        """Forget every subject (the hub starts following from the log's current end)."""
        with self._lock:
            self._subjects.clear()
            self._generation += 1

    def _trusted(self) -> bool:
        """No commit since the hub's last read began (and so none it has not read)."""
        if self.write_version is None:  # no hub following, or no probe (PostgreSQL)
            return False
        version = self.write_version()
        if version == self._read_through:
            return True
        if version != self._woken_for:  # once per change: the hub reads, then trust returns
            self._woken_for = version
            self.wake()
        return False

    def get(self, subject: str) -> LiveVersions:
        """The subject's live versions, reloaded when its counter moved; ``SubjectNotFound`` when none.

        Checks the counter: callers on a server's event loop have tried ``cached`` already, and the
        probe stays on that loop (no worker thread contends for its connection)."""
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
        if subject not in self._subjects or not self._trusted():  # a miss needs no probe
            return None
        cached = self._subjects.get(subject)  # taken after the trust check: see the class docstring
        if cached is None or cached.latest is None:
            return None
        return cached
