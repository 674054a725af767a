"""Reading, listing and deleting subjects' versions and schemas by id.

- soft delete hides a version and keeps its id; a permanent delete needs a soft delete first;
- "latest" is the highest live version;
- a version another subject's live version references cannot be deleted.
Live versions are answered from ``LiveVersionCache`` and schemas from ``SchemaCache``.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.data_contracts import properties_of, served
from registry.errors import (
    InvalidArgument,
    ReferenceExists,
    SchemaNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from registry.model import VERSION_HARD_DELETED, VERSION_SOFT_DELETED, RegisteredSchema, SchemaRecord
from registry.service.caches import LiveVersionCache, SchemaCache
from registry.service.config import Configs
from registry.store import Store, StoredVersion
from registry.versions import parse_version


class Subjects:
    def __init__(self, store: Store, schemas: SchemaCache, live: LiveVersionCache, configs: Configs):
        self.store = store
        self.schemas = schemas
        self.live = live
        self.configs = configs

    def get_by_id(self, schema_id: int) -> SchemaRecord:
        return self.schemas.get(schema_id)

    def cached_schema(self, schema_id: int) -> SchemaRecord | None:
        """The schema when it is in the id cache, without touching the store (or None).

        Servers answer cache hits on their event loop instead of a worker thread.
        """
        return self.schemas.cached(schema_id)

    def get_by_guid(self, guid: str) -> SchemaRecord:
        """The schema of a Confluent schema GUID."""
        if not guid:
            raise InvalidArgument("guid: required")
        with self.store.read() as session:
            record = self.store.schema_by_guid(session, guid)
        if record is None:
            raise SchemaNotFound(f"schema guid {guid!r} not found")
        return record

    def referenced_by(self, subject: str, version: int | str = "latest") -> list[int]:
        """The ids of the live schemas that reference this version (Confluent's ``referencedby``)."""
        number = self.get_version(subject, version, include_deleted=True).version
        with self.store.read() as session:
            return self.store.referencing_schema_ids(session, subject, number)

    def latest_with_metadata(
        self, subject: str, properties: dict[str, str], include_deleted: bool = False
    ) -> RegisteredSchema:
        """The newest version whose Confluent metadata (as served: the contract's published terms
        under the stored ones) has every one of ``properties`` (``use.latest.with.metadata``)."""
        with self.store.read() as session:
            versions = [v for v in self.store.versions(session, subject) if include_deleted or not v.deleted]
        if not versions:
            raise SubjectNotFound(f"subject {subject!r} not found")
        for stored in reversed(versions):
            registered = self.schemas.registered(stored)
            served_metadata, _ = served(subject, registered.metadata, stored.data_metadata, stored.rule_set)
            found = properties_of(served_metadata)
            if all(found.get(key) == value for key, value in properties.items()):
                return registered
        wanted = ", ".join(f"{k}={v}" for k, v in properties.items())
        raise SchemaNotFound(f"no version of subject {subject!r} has metadata {wanted}")

    def subjects_for_id(self, schema_id: int) -> list[str]:
        return sorted({subject for subject, _ in self.versions_for_id(schema_id)})

    def versions_for_id(self, schema_id: int) -> list[tuple[str, int]]:
        """Every live (subject, version) that holds this schema id."""
        self.schemas.get(schema_id)
        with self.store.read() as session:
            return self.store.live_versions_of_schema(session, schema_id)

    def get_version(
        self, subject: str, version: int | str = "latest", include_deleted: bool = False
    ) -> RegisteredSchema:
        number = parse_version(version)
        if not include_deleted:
            live = self.live.get(subject)
            found = live.latest if number is None else live.by_version.get(number)
            if found is None:
                raise VersionNotFound(f"version {number} of subject {subject!r} not found")
            return found
        with self.store.read() as session:
            versions = self.store.versions(session, subject)
        if not versions:
            raise SubjectNotFound(f"subject {subject!r} not found")
        stored = versions[-1] if number is None else next((v for v in versions if v.version == number), None)
        if stored is None:
            raise VersionNotFound(f"version {number} of subject {subject!r} not found")
        return self.schemas.registered(stored)

    def cached_version(self, subject: str, version: int | str = "latest") -> RegisteredSchema | None:
        """A live version answered from the cache while it follows the event log with nothing
        unread, or None (not cached, or a write not yet read): then ``get_version`` answers, with
        its errors.

        Reads no table, so servers call it on their event loop instead of a worker thread.
        """
        number = parse_version(version)
        cached = self.live.cached(subject)
        if cached is None:
            return None
        return cached.latest if number is None else cached.by_version.get(number)

    def list_subjects(self, prefix: str = "", include_deleted: bool = False) -> list[str]:
        with self.store.read() as session:
            return self.store.subject_names(session, prefix, include_deleted)

    def list_versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        with self.store.read() as session:
            versions = [
                v.version for v in self.store.versions(session, subject) if include_deleted or not v.deleted
            ]
        if not versions:
            raise SubjectNotFound(f"subject {subject!r} not found")
        return versions

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft-delete every live version, or (``permanent``) remove a soft-deleted subject."""

        def work(session) -> list[int]:
            self.configs.require_writable(session, subject)
            self.store.lock_subject(session, subject)
            versions = self.store.versions(session, subject)
            if not versions:
                raise SubjectNotFound(f"subject {subject!r} not found")
            live = [v for v in versions if not v.deleted]
            if permanent and live:
                raise SubjectNotSoftDeleted(
                    f"subject {subject!r} must be soft-deleted before it is permanently deleted"
                )
            if not permanent and not live:
                raise SubjectSoftDeleted(f"subject {subject!r} was soft-deleted; delete it permanently")
            targets = versions if permanent else live
            self._delete(session, subject, targets, permanent, whole_subject=True)
            return [v.version for v in targets]

        return self.store.write(work)

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        number = parse_version(version)

        def work(session) -> int:
            self.configs.require_writable(session, subject)
            self.store.lock_subject(session, subject)
            versions = self.store.versions(session, subject)
            if not versions:
                raise SubjectNotFound(f"subject {subject!r} not found")
            if number is None:
                live = [v for v in versions if not v.deleted]
                stored = live[-1] if live else None
            else:
                stored = next((v for v in versions if v.version == number), None)
            if stored is None:
                raise VersionNotFound(f"version {version} of subject {subject!r} not found")
            if permanent and not stored.deleted:
                raise VersionNotSoftDeleted(
                    f"version {stored.version} of subject {subject!r} must be soft-deleted before it is permanently deleted"
                )
            if not permanent and stored.deleted:
                raise VersionSoftDeleted(f"version {stored.version} of subject {subject!r} was soft-deleted")
            self._delete(session, subject, [stored], permanent, whole_subject=False)
            return stored.version

        return self.store.write(work)

    def _delete(
        self, session, subject: str, targets: Sequence[StoredVersion], permanent: bool, whole_subject: bool
    ) -> None:
        numbers = [v.version for v in targets]
        referrers = self.store.referrers(session, subject, numbers)
        if referrers:
            names = ", ".join(f"{s} version {v}" for s, v in referrers)
            raise ReferenceExists(f"subject {subject!r} cannot be deleted: it is referenced by {names}")
        if permanent:
            self.store.remove_versions(session, subject, numbers)
        else:
            self.store.soft_delete_versions(session, subject, numbers)
        self.store.bump_subject_seq(session, subject)
        kind = VERSION_HARD_DELETED if permanent else VERSION_SOFT_DELETED
        for v in targets:
            self.store.append_event(
                session, kind, subject, v.version, v.schema_id, whole_subject=whole_subject
            )
