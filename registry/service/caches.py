"""The service's caches: schemas by id, and each subject's live versions under its change counter.

Schemas by id never change, so they are kept for the life of the process (bounded by
``SCHEMA_CACHE_SIZE``, oldest out first). A subject's live versions (and so its latest) are kept
with the subject's change counter (``subjects.seq``, bumped by every write to the subject in the
same transaction); each read re-reads that counter with one primary-key lookup, so a replica never
serves a version or a latest that another replica has since replaced or deleted.
"""

from __future__ import annotations

import threading
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
    """Each subject's live versions, valid while the subject's change counter is unchanged."""

    def __init__(self, store: Store, schemas: SchemaCache):
        self.store = store
        self.schemas = schemas
        self._subjects: dict[str, LiveVersions] = {}

    def get(self, subject: str) -> LiveVersions:
        """The subject's live versions, reloaded when its counter moved; ``SubjectNotFound`` when none."""
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
            self._subjects[subject] = cached
        if cached.latest is None:
            raise SubjectNotFound(f"subject {subject!r} not found")
        return cached

    def cached(self, subject: str) -> LiveVersions | None:
        """The cached entry when the subject's counter still matches (one counter read), else None."""
        cached = self._subjects.get(subject)
        if cached is None or cached.latest is None or self.store.subject_seq(subject) != cached.seq:
            return None
        return cached
