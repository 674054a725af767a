"""The registry's logic, in one synchronous class that the gRPC and HTTP servers share.

Servers call ``RegistryService`` in worker threads (``asyncio.to_thread``); every write is one store
transaction, so the rules below (Confluent Schema Registry semantics) hold for several replicas on one
PostgreSQL as they do for one process on SQLite:

- a schema already registered under a subject returns the existing version (idempotent), unless the
  caller passes metadata that differs from it: then a new version with the same schema id is created;
  a new version registered without metadata carries the latest version's metadata forward;
- soft delete hides a version and keeps its id; a permanent delete needs a soft delete first;
  registering a soft-deleted schema again creates a new version;
- compatibility checks skip soft-deleted versions; "latest" is the highest live version;
- references name another subject's live version; they are resolved (transitively) into
  ``{name: schema text}`` for the format's parser; a referenced version cannot be deleted;
- every registered consumer of the subject must be able to read the new schema (FORWARD: the
  consumer's reader schema reads data written with the new one), whatever the subject's level.

Caches: schemas by id never change, so they are cached for the life of the process (bounded by
``SCHEMA_CACHE_SIZE``; parsed forms in a bounded LRU).
A subject's live versions (and so its latest) are cached together with the subject's change counter
(``subjects.seq``, bumped by every write to the subject in the same transaction); each read re-reads
that counter with one primary-key lookup, so a replica never serves a version or a latest that
another replica has since replaced or deleted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import events
from registry.compat import (
    MAX_SCHEMA_BYTES,
    Direction,
    Level,
    ParsedSchema,
    SchemaFormat,
    Violation,
    check_compatibility,
    get_format,
)
from registry.contract import ContractMetadata, Reference, domain_of
from registry.errors import (
    ConsumerNotFound,
    IncompatibleSchema,
    InvalidArgument,
    InvalidCompatibilityLevel,
    InvalidMode,
    InvalidSchema,
    PayloadTooLarge,
    ReadOnlyMode,
    ReferenceExists,
    SchemaNotFound,
    SourceLocation,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from registry.events import append_event
from registry.model import (
    MODES,
    CheckResult,
    Consumer,
    RegisteredSchema,
    SchemaRecord,
    SubjectConfig,
    as_references,
)
from registry.store import Store
from registry.store.models import (
    GLOBAL,
    ConfigRow,
    ConsumerRow,
    ModeRow,
    ReferenceRow,
    SchemaRow,
    SubjectVersionRow,
)

RULESETS = ("WIRE", "WIRE_JSON")  # Protobuf's stricter rule sets; None is the format's default
MAX_SUBJECT_LENGTH = 255
SCHEMA_CACHE_SIZE = 10_000  # schemas kept by id per process
_SHOWN_VIOLATIONS = 5  # how many violations an error message spells out


@dataclass(frozen=True)
class _LiveVersions:
    """A subject's live versions as of its change counter ``seq``."""

    seq: int
    by_version: dict[int, RegisteredSchema]
    latest: RegisteredSchema | None


class RegistryService:
    def __init__(self, store: Store, default_level: Level = Level.BACKWARD):
        self.store = store
        self.default_level = default_level
        self._schemas: dict[int, SchemaRecord] = {}  # by id; immutable, so never invalidated
        self._schemas_lock = threading.Lock()
        self._parsed_cache = functools.lru_cache(maxsize=2_048)(self._parse_stored)
        self._reader_cache = functools.lru_cache(maxsize=512)(self._parse_reader)
        self._live: dict[str, _LiveVersions] = {}

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the store answers (health checks)."""
        with self.store.read() as session:
            session.execute(select(1))

    # ---- schemas and versions -------------------------------------------------------------------

    def register(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        metadata: ContractMetadata | None = None,
        normalize: bool = False,
    ) -> RegisteredSchema:
        """Add ``schema`` as the subject's next version, or return the version that already has it."""
        _check_subject(subject)
        schema_format = _format(format)
        _check_size(schema, "schema")
        refs = as_references(references)

        def work(session: Session) -> RegisteredSchema:
            self._require_writable(session, subject)
            lock = self.store.lock_subject(session, subject)
            parsed = self._parse(session, schema_format, schema, refs, subject)
            fingerprint = _fingerprint(parsed, refs)
            rows = self._version_rows(session, subject)
            live = [row for row in rows if not row.deleted]
            existing_id = self.store.find_schema_id(session, schema_format.name, fingerprint)
            for row in reversed(live):
                if row.schema_id == existing_id and (metadata is None or row.meta == metadata.to_dict()):
                    return self._registered(row)
            config = self._config_in(session, subject)
            level, ruleset = config.level, config.ruleset
            violations = self._level_violations(schema_format, level, ruleset, parsed, live)
            consumer_violations, consumers = self._consumer_violations(
                session, subject, schema_format, parsed, ruleset
            )
            if violations or consumer_violations:
                raise IncompatibleSchema(
                    _incompatibility_message(subject, level, violations, consumer_violations, consumers),
                    violations + consumer_violations,
                    consumers,
                )
            stored_text = parsed.canonical if normalize else schema
            if existing_id is None:
                schema_id = self.store.add_schema(
                    session, schema_format.name, fingerprint, stored_text, [asdict(r) for r in refs]
                )
                schema_text = stored_text
            else:
                schema_id, schema_text = existing_id, self.get_by_id(existing_id).schema
            meta = metadata or (
                ContractMetadata.from_dict(live[-1].meta)
                if live
                else ContractMetadata(owner_domain=domain_of(subject) if "." in subject else "")
            )
            row = SubjectVersionRow(
                subject=subject,
                version=max((r.version for r in rows), default=0) + 1,
                schema_id=schema_id,
                meta=meta.to_dict(),
                deleted=False,
            )
            session.add(row)
            lock.seq += 1
            session.flush()
            append_event(
                session,
                self.store,
                events.VERSION_REGISTERED,
                subject,
                row.version,
                schema_id,
                format=schema_format.name,
            )
            return RegisteredSchema(
                subject=subject,
                version=row.version,
                schema_id=schema_id,
                format=schema_format.name,
                schema=schema_text,
                references=refs,
                metadata=meta,
            )

        return self.store.write(work)

    def check(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        version: int | str = "latest",
    ) -> CheckResult:
        """Would ``schema`` be accepted? ``version``: "latest" applies the subject's level as register
        does; "all" checks against every live version; a number checks against that version only.
        Registered consumers are checked in every case."""
        _check_subject(subject)
        schema_format = _format(format)
        _check_size(schema, "schema")
        refs = as_references(references)
        with self.store.read() as session:
            parsed = self._parse(session, schema_format, schema, refs, subject)
            live = [row for row in self._version_rows(session, subject) if not row.deleted]
            config = self._config_in(session, subject)
            level, ruleset = config.level, config.ruleset
            if version == "all":
                if level is not Level.NONE and not level.transitive:
                    level = Level(f"{level.value}_TRANSITIVE")
            elif _version_number(version) is not None:
                if not live:
                    raise SubjectNotFound(f"subject {subject!r} not found")
                wanted = _version_number(version)
                live = [row for row in live if row.version == wanted]
                if not live:
                    raise VersionNotFound(f"version {wanted} of subject {subject!r} not found")
            violations = self._level_violations(schema_format, level, ruleset, parsed, live)
            consumer_violations, consumers = self._consumer_violations(
                session, subject, schema_format, parsed, ruleset
            )
        return CheckResult(violations=violations + consumer_violations, consumers=consumers)

    def lookup(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        include_deleted: bool = False,
    ) -> RegisteredSchema:
        """The subject's newest version holding this schema (after normalisation)."""
        schema_format = _format(format)
        _check_size(schema, "schema")
        refs = as_references(references)
        with self.store.read() as session:
            rows = [r for r in self._version_rows(session, subject) if include_deleted or not r.deleted]
            if not rows:
                raise SubjectNotFound(f"subject {subject!r} not found")
            parsed = self._parse(session, schema_format, schema, refs, subject)
            fingerprint = _fingerprint(parsed, refs)
            schema_id = self.store.find_schema_id(session, schema_format.name, fingerprint)
            for row in reversed(rows):
                if row.schema_id == schema_id:
                    return self._registered(row)
        raise SchemaNotFound(f"schema not found under subject {subject!r}")

    def get_by_id(self, schema_id: int) -> SchemaRecord:
        record = self._schemas.get(_schema_id(schema_id))
        if record is None:
            record = self._load_schema(schema_id)
            with self._schemas_lock:
                if len(self._schemas) >= SCHEMA_CACHE_SIZE:
                    del self._schemas[next(iter(self._schemas))]  # the oldest entry
                self._schemas[schema_id] = record
        return record

    def cached_schema(self, schema_id: int) -> SchemaRecord | None:
        """The schema when it is in the id cache, without touching the store (or None).

        Servers answer cache hits on their event loop instead of a worker thread.
        """
        return self._schemas.get(schema_id)

    def subjects_for_id(self, schema_id: int) -> list[str]:
        return sorted({subject for subject, _ in self.versions_for_id(schema_id)})

    def versions_for_id(self, schema_id: int) -> list[tuple[str, int]]:
        """Every live (subject, version) that holds this schema id."""
        self.get_by_id(schema_id)
        with self.store.read() as session:
            rows = session.execute(
                select(SubjectVersionRow.subject, SubjectVersionRow.version)
                .where(SubjectVersionRow.schema_id == schema_id, SubjectVersionRow.deleted.is_(False))
                .order_by(SubjectVersionRow.subject, SubjectVersionRow.version)
            ).all()
        return [(subject, version) for subject, version in rows]

    def get_version(
        self, subject: str, version: int | str = "latest", include_deleted: bool = False
    ) -> RegisteredSchema:
        number = _version_number(version)
        if not include_deleted:
            live = self._live_versions(subject)
            found = live.latest if number is None else live.by_version.get(number)
            if found is None:
                raise VersionNotFound(f"version {number} of subject {subject!r} not found")
            return found
        with self.store.read() as session:
            rows = self._version_rows(session, subject)
        if not rows:
            raise SubjectNotFound(f"subject {subject!r} not found")
        row = rows[-1] if number is None else next((r for r in rows if r.version == number), None)
        if row is None:
            raise VersionNotFound(f"version {number} of subject {subject!r} not found")
        return self._registered(row)

    def cached_version(self, subject: str, version: int | str = "latest") -> RegisteredSchema | None:
        """A live version answered from the cache after checking the subject's change counter, or
        None when it is not cached (or changed): then ``get_version`` answers, with its errors.

        Reads nothing but the counter, so on a store whose reads are local (SQLite) servers call it
        on their event loop instead of a worker thread.
        """
        number = _version_number(version)
        cached = self._live.get(subject)
        if cached is None or cached.latest is None or self.store.subject_seq(subject) != cached.seq:
            return None
        return cached.latest if number is None else cached.by_version.get(number)

    def list_subjects(self, prefix: str = "", include_deleted: bool = False) -> list[str]:
        query = select(SubjectVersionRow.subject).distinct().order_by(SubjectVersionRow.subject)
        if prefix:
            query = query.where(SubjectVersionRow.subject.startswith(prefix, autoescape=True))
        if not include_deleted:
            query = query.where(SubjectVersionRow.deleted.is_(False))
        with self.store.read() as session:
            return list(session.scalars(query))

    def list_versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        with self.store.read() as session:
            versions = [
                r.version for r in self._version_rows(session, subject) if include_deleted or not r.deleted
            ]
        if not versions:
            raise SubjectNotFound(f"subject {subject!r} not found")
        return versions

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft-delete every live version, or (``permanent``) remove a soft-deleted subject."""

        def work(session: Session) -> list[int]:
            self._require_writable(session, subject)
            lock = self.store.lock_subject(session, subject)
            rows = self._version_rows(session, subject)
            if not rows:
                raise SubjectNotFound(f"subject {subject!r} not found")
            live = [row for row in rows if not row.deleted]
            if permanent and live:
                raise SubjectNotSoftDeleted(
                    f"subject {subject!r} must be soft-deleted before it is permanently deleted"
                )
            if not permanent and not live:
                raise SubjectSoftDeleted(f"subject {subject!r} was soft-deleted; delete it permanently")
            targets = rows if permanent else live
            self._refuse_referenced(session, subject, [row.version for row in targets])
            kind = events.VERSION_HARD_DELETED if permanent else events.VERSION_SOFT_DELETED
            for row in targets:
                if permanent:
                    session.delete(row)
                else:
                    row.deleted = True
            lock.seq += 1
            for row in targets:
                append_event(
                    session, self.store, kind, subject, row.version, row.schema_id, whole_subject=True
                )
            return [row.version for row in targets]

        return self.store.write(work)

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        number = _version_number(version)

        def work(session: Session) -> int:
            self._require_writable(session, subject)
            lock = self.store.lock_subject(session, subject)
            rows = self._version_rows(session, subject)
            if not rows:
                raise SubjectNotFound(f"subject {subject!r} not found")
            if number is None:
                live = [row for row in rows if not row.deleted]
                row = live[-1] if live else None
            else:
                row = next((r for r in rows if r.version == number), None)
            if row is None:
                raise VersionNotFound(f"version {version} of subject {subject!r} not found")
            if permanent and not row.deleted:
                raise VersionNotSoftDeleted(
                    f"version {row.version} of subject {subject!r} must be soft-deleted before it is permanently deleted"
                )
            if not permanent and row.deleted:
                raise VersionSoftDeleted(f"version {row.version} of subject {subject!r} was soft-deleted")
            self._refuse_referenced(session, subject, [row.version])
            if permanent:
                session.delete(row)
            else:
                row.deleted = True
            lock.seq += 1
            kind = events.VERSION_HARD_DELETED if permanent else events.VERSION_SOFT_DELETED
            append_event(session, self.store, kind, subject, row.version, row.schema_id, whole_subject=False)
            return row.version

        return self.store.write(work)

    # ---- configuration and mode -----------------------------------------------------------------

    def get_config(self, subject: str | None = None) -> SubjectConfig:
        """The subject's level and rule set, falling back to the global one, then the default.

        ``inherited`` says whether it fell back (Confluent's REST API refuses that unless asked).
        """
        with self.store.read() as session:
            return self._config_in(session, subject)

    def set_config(
        self, subject: str | None, level: Level | str, ruleset: str | None = None
    ) -> SubjectConfig:
        level = _level(level)
        if ruleset is not None and ruleset not in RULESETS:
            raise InvalidArgument(f"ruleset: {ruleset!r} is not one of {', '.join(RULESETS)} (or unset)")
        key = _key(subject)

        def work(session: Session) -> None:
            session.merge(ConfigRow(subject=key, level=level.value, ruleset=ruleset))
            append_event(session, self.store, events.CONFIG_CHANGED, key, level=level.value, ruleset=ruleset)

        self.store.write(work)
        return SubjectConfig(level, ruleset)

    def delete_config(self, subject: str | None) -> SubjectConfig:
        """Remove the subject's own setting (it falls back to global); returns the removed setting."""
        key = _key(subject)

        def work(session: Session) -> SubjectConfig:
            row = session.get(ConfigRow, key)
            if row is None:
                if subject is None:
                    return SubjectConfig(self.default_level, inherited=True)
                raise SubjectNotFound(f"subject {subject!r} has no compatibility setting of its own")
            removed = SubjectConfig(Level(row.level), row.ruleset)
            session.delete(row)
            append_event(
                session, self.store, events.CONFIG_DELETED, key, level=row.level, ruleset=row.ruleset
            )
            return removed

        return self.store.write(work)

    def get_mode(self, subject: str | None = None) -> str:
        with self.store.read() as session:
            return self._mode_in(session, subject)

    def set_mode(self, subject: str | None, mode: str) -> str:
        mode = (mode or "").strip().upper()
        if mode not in MODES:
            raise InvalidMode(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        key = _key(subject)

        def work(session: Session) -> None:
            session.merge(ModeRow(subject=key, mode=mode))
            append_event(session, self.store, events.MODE_CHANGED, key, mode=mode)

        self.store.write(work)
        return mode

    # ---- consumers ------------------------------------------------------------------------------

    def register_consumer(
        self,
        name: str,
        subject: str,
        version: int | None = None,
        reader_schema: str | None = None,
        fields: Iterable[str] = (),
        format: str | None = None,
    ) -> Consumer:
        """Record that ``name`` reads ``subject`` with a version's schema or its own reader schema.

        Registering the same name again for the subject replaces its reader and fields.
        ``format`` is needed only for a reader schema of a subject without versions (default AVRO).
        """
        if not name or not name.strip():
            raise InvalidArgument("consumer name: required")
        _check_subject(subject)
        if (version is None) == (reader_schema is None):
            raise InvalidArgument("consumer: give exactly one of version or reader_schema")
        fields = tuple(fields)
        if not all(isinstance(f, str) and f.strip() for f in fields):
            raise InvalidArgument(
                "consumer fields: expected non-empty field paths like 'amount' or 'items.sku'"
            )
        if reader_schema is not None:
            _check_size(reader_schema, "reader_schema")

        def work(session: Session) -> Consumer:
            self._require_writable(session, subject)
            self.store.lock_subject(session, subject)
            rows = [row for row in self._version_rows(session, subject) if not row.deleted]
            if version is not None:
                row = next((r for r in rows if r.version == version), None)
                if row is None:
                    if not rows:
                        raise SubjectNotFound(f"subject {subject!r} not found")
                    raise VersionNotFound(f"version {version} of subject {subject!r} not found")
                format_name = self._record_in(session, row.schema_id).format
            else:
                format_name = (
                    _format(format).name
                    if format
                    else (self._record_in(session, rows[-1].schema_id).format if rows else "AVRO")
                )
                self._reader_cache(format_name, reader_schema)  # fails here, not at the next register
            consumer = session.execute(
                select(ConsumerRow).where(ConsumerRow.name == name, ConsumerRow.subject == subject)
            ).scalar_one_or_none()
            if consumer is None:
                consumer = ConsumerRow(name=name, subject=subject)
                session.add(consumer)
            consumer.format = format_name
            consumer.version = version
            consumer.reader_schema = reader_schema
            consumer.fields = list(fields)
            append_event(
                session,
                self.store,
                events.CONSUMER_ADDED,
                subject,
                version,
                consumer=name,
                fields=list(fields),
            )
            return _consumer(consumer)

        return self.store.write(work)

    def list_consumers(self, subject: str | None = None) -> list[Consumer]:
        query = select(ConsumerRow).order_by(ConsumerRow.subject, ConsumerRow.name)
        if subject is not None:
            query = query.where(ConsumerRow.subject == subject)
        with self.store.read() as session:
            return [_consumer(row) for row in session.scalars(query)]

    def remove_consumer(self, name: str, subject: str) -> None:
        def work(session: Session) -> None:
            self._require_writable(session, subject)
            row = session.execute(
                select(ConsumerRow).where(ConsumerRow.name == name, ConsumerRow.subject == subject)
            ).scalar_one_or_none()
            if row is None:
                raise ConsumerNotFound(f"consumer {name!r} of subject {subject!r} not found")
            session.delete(row)
            append_event(session, self.store, events.CONSUMER_REMOVED, subject, consumer=name)

        self.store.write(work)

    # ---- internals ------------------------------------------------------------------------------

    def _version_rows(self, session: Session, subject: str) -> list[SubjectVersionRow]:
        return list(
            session.scalars(
                select(SubjectVersionRow)
                .where(SubjectVersionRow.subject == subject)
                .order_by(SubjectVersionRow.version)
            )
        )

    def _live_versions(self, subject: str) -> _LiveVersions:
        """The subject's live versions, from the cache while the subject's change counter is unchanged."""
        seq = self.store.subject_seq(subject)
        if seq is None:
            raise SubjectNotFound(f"subject {subject!r} not found")
        cached = self._live.get(subject)
        if cached is None or cached.seq != seq:
            with self.store.read() as session:
                rows = [row for row in self._version_rows(session, subject) if not row.deleted]
            # Read after the counter: the rows are at least as new as ``seq``; a write in between
            # changes the counter again, so the next read reloads.
            versions = [self._registered(row) for row in rows]
            cached = _LiveVersions(seq, {v.version: v for v in versions}, versions[-1] if versions else None)
            self._live[subject] = cached
        if cached.latest is None:
            raise SubjectNotFound(f"subject {subject!r} not found")
        return cached

    def _registered(self, row: SubjectVersionRow) -> RegisteredSchema:
        record = self.get_by_id(row.schema_id)
        return RegisteredSchema(
            subject=row.subject,
            version=row.version,
            schema_id=row.schema_id,
            format=record.format,
            schema=record.schema,
            references=record.references,
            metadata=ContractMetadata.from_dict(row.meta),
            deleted=row.deleted,
        )

    def _load_schema(self, schema_id: int) -> SchemaRecord:
        with self.store.read() as session:
            return self._record_in(session, schema_id)

    def _record_in(self, session: Session, schema_id: int) -> SchemaRecord:
        row = session.get(SchemaRow, schema_id)
        if row is None:
            raise SchemaNotFound(f"schema id {schema_id} not found")
        return SchemaRecord(
            id=row.id, format=row.format, schema=row.text, references=as_references(row.references)
        )

    def _parse(
        self, session: Session, schema_format: SchemaFormat, text: str, refs: Sequence[Reference], source: str
    ) -> ParsedSchema:
        return schema_format.parse(text, self._reference_texts(session, refs), source_name=source)

    def _parse_stored(self, schema_id: int) -> ParsedSchema:
        record = self.get_by_id(schema_id)
        with self.store.read() as session:
            return self._parse(
                session, get_format(record.format), record.schema, record.references, f"id {schema_id}"
            )

    def _parse_reader(self, format_name: str, text: str) -> ParsedSchema:
        return get_format(format_name).parse(text, source_name="reader_schema")

    def _reference_texts(self, session: Session, refs: Sequence[Reference]) -> dict[str, str]:
        """``{name: schema text}`` of the references and of what they reference, dependencies first."""
        texts: dict[str, str] = {}

        def visit(ref: Reference, trail: tuple[str, ...]) -> None:
            if ref.name in texts or ref.name in trail:
                return
            row = session.execute(
                select(SubjectVersionRow).where(
                    SubjectVersionRow.subject == ref.subject,
                    SubjectVersionRow.version == ref.version,
                    SubjectVersionRow.deleted.is_(False),
                )
            ).scalar_one_or_none()
            if row is None:
                raise InvalidSchema(
                    f"reference {ref.name!r}: version {ref.version} of subject {ref.subject!r} does not exist",
                    SourceLocation(file="references"),
                )
            record = self.get_by_id(row.schema_id)
            for inner in record.references:
                visit(inner, (*trail, ref.name))
            texts[ref.name] = record.schema

        for ref in refs:
            visit(ref, ())
        return texts

    def _level_violations(
        self,
        schema_format: SchemaFormat,
        level: Level,
        ruleset: str | None,
        parsed: ParsedSchema,
        live: Sequence[SubjectVersionRow],
    ) -> list[Violation]:
        if level is Level.NONE or not live:
            return []
        formats = {self.get_by_id(row.schema_id).format for row in live}
        if formats != {schema_format.name}:
            return [
                Violation(
                    "FORMAT_CHANGED",
                    "schema",
                    f"the subject holds {', '.join(sorted(formats))} schemas; a {schema_format.name} schema cannot follow them",
                )
            ]
        previous = [self._parsed_cache(row.schema_id) for row in live]
        return check_compatibility(schema_format, level, parsed, previous, ruleset).violations

    def _consumer_violations(
        self,
        session: Session,
        subject: str,
        schema_format: SchemaFormat,
        parsed: ParsedSchema,
        ruleset: str | None,
    ) -> tuple[list[Violation], list[str]]:
        """Violations of every registered consumer that could not read ``parsed``, and their names."""
        violations: list[Violation] = []
        broken: list[str] = []
        rows = session.scalars(
            select(ConsumerRow).where(ConsumerRow.subject == subject).order_by(ConsumerRow.name)
        )
        for consumer in rows:
            if consumer.format != schema_format.name:
                found = [
                    Violation(
                        "CONSUMER_FORMAT_MISMATCH",
                        subject,
                        f"reads {consumer.format}, the new schema is {schema_format.name}",
                    )
                ]
            else:
                reader = self._consumer_reader(session, consumer)
                found = [
                    v
                    for v in schema_format.check(reader, parsed, Direction.FORWARD, ruleset)
                    if not consumer.fields or violation_touches(v.path, consumer.fields)
                ]
            if found:
                broken.append(consumer.name)
                violations.extend(
                    Violation(
                        v.rule,
                        v.path,
                        f"consumer {consumer.name!r} cannot read it: {v.message}",
                        v.line,
                        v.direction,
                    )
                    for v in found
                )
        return violations, broken

    def _consumer_reader(self, session: Session, consumer: ConsumerRow) -> ParsedSchema:
        if consumer.reader_schema is not None:
            return self._reader_cache(consumer.format, consumer.reader_schema)
        schema_id = session.execute(
            select(SubjectVersionRow.schema_id).where(
                SubjectVersionRow.subject == consumer.subject, SubjectVersionRow.version == consumer.version
            )
        ).scalar_one_or_none()
        if schema_id is None:  # the version was permanently deleted: the consumer's reader is gone
            raise VersionNotFound(
                f"consumer {consumer.name!r} reads version {consumer.version} of {consumer.subject!r}, which was permanently deleted; re-register the consumer"
            )
        return self._parsed_cache(schema_id)

    def _refuse_referenced(self, session: Session, subject: str, versions: Sequence[int]) -> None:
        referrers = session.execute(
            select(SubjectVersionRow.subject, SubjectVersionRow.version)
            .join(ReferenceRow, ReferenceRow.schema_id == SubjectVersionRow.schema_id)
            .where(
                ReferenceRow.subject == subject,
                ReferenceRow.version.in_(versions),
                SubjectVersionRow.deleted.is_(False),
            )
            .order_by(SubjectVersionRow.subject, SubjectVersionRow.version)
        ).all()
        if referrers:
            names = ", ".join(f"{s} version {v}" for s, v in referrers)
            raise ReferenceExists(f"subject {subject!r} cannot be deleted: it is referenced by {names}")

    def _config_in(self, session: Session, subject: str | None) -> SubjectConfig:
        row = session.get(ConfigRow, _key(subject))
        inherited = row is None
        if row is None and subject is not None:
            row = session.get(ConfigRow, GLOBAL)
        if row is None:
            return SubjectConfig(self.default_level, inherited=True)
        return SubjectConfig(Level(row.level), row.ruleset, inherited)

    def _mode_in(self, session: Session, subject: str | None) -> str:
        row = session.get(ModeRow, _key(subject))
        if row is None and subject is not None:
            row = session.get(ModeRow, GLOBAL)
        return row.mode if row is not None else "READWRITE"

    def _require_writable(self, session: Session, subject: str) -> None:
        if self._mode_in(session, subject) == "READONLY":
            raise ReadOnlyMode(f"subject {subject!r} is in READONLY mode; writes are refused")


def violation_touches(path: str, fields: Iterable[str]) -> bool:
    """Whether a violation at ``path`` (``Order.items[].sku``) concerns one of a consumer's fields.

    Both are split on dots, with collection markers (``[]``, ``{}``) dropped. A field path
    (``items.sku``) matches when its parts occur as a contiguous run in the violation path, so the
    root type name and any namespace in front do not matter. A violation on the root itself (a path
    of one part, e.g. the record renamed) concerns every field.
    """
    parts = _path_parts(path)
    if len(parts) <= 1:
        return True
    for field_path in fields:
        wanted = _path_parts(field_path)
        for start in range(len(parts) - len(wanted) + 1):
            if parts[start : start + len(wanted)] == wanted:
                return True
    return False


def _path_parts(path: str) -> list[str]:
    return [re.sub(r"\[[^\]]*\]|\{[^}]*\}", "", part) for part in path.split(".")]


def _incompatibility_message(
    subject: str,
    level: Level,
    violations: Sequence[Violation],
    consumer_violations: Sequence[Violation],
    consumers: Sequence[str],
) -> str:
    parts = []
    if violations:
        parts.append(f"the schema is incompatible with subject {subject!r} at level {level.value}")
    if consumers:
        parts.append(f"it would break consumer(s) {', '.join(consumers)}")
    shown = [*violations, *consumer_violations][:_SHOWN_VIOLATIONS]
    details = "; ".join(f"{v.path}: {v.message} [{v.rule}]" for v in shown)
    more = len(violations) + len(consumer_violations) - len(shown)
    return f"{' and '.join(parts)}: {details}" + (f" (and {more} more)" if more > 0 else "")


def _fingerprint(parsed: ParsedSchema, refs: Sequence[Reference]) -> str:
    """Identity of a schema for global ids: its normalised form plus what it references."""
    material = json.dumps([parsed.fingerprint, [asdict(r) for r in refs]], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _format(name: str) -> SchemaFormat:
    try:
        return get_format(name or "AVRO")
    except ValueError as exc:
        raise InvalidArgument(f"format: {exc}") from None


def _level(level: Level | str) -> Level:
    if isinstance(level, Level):
        return level
    try:
        return Level.parse(str(level))
    except ValueError as exc:
        raise InvalidCompatibilityLevel(f"compatibility: {exc}") from None


def _version_number(version: int | str) -> int | None:
    """None for the latest version ("latest", -1), else a version number >= 1."""
    if version in ("latest", -1, "-1"):
        return None
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or isinstance(version, bool):
        raise InvalidArgument(f"version: {version!r} is not a version number >= 1 or 'latest'")
    return number


def _schema_id(schema_id: int) -> int:
    if isinstance(schema_id, bool) or not isinstance(schema_id, int) or schema_id < 1:
        raise InvalidArgument(f"schema id: {schema_id!r} is not a positive integer")
    return schema_id


def _check_subject(subject: str) -> None:
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidArgument("subject: required")
    if len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise InvalidArgument(f"subject: must be printable and at most {MAX_SUBJECT_LENGTH} characters")


def _check_size(text: str, what: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument(f"{what}: required")
    size = len(text.encode("utf-8"))
    if size > MAX_SCHEMA_BYTES:
        raise PayloadTooLarge(f"{what}: {size} bytes is over the limit of {MAX_SCHEMA_BYTES} bytes")


def _key(subject: str | None) -> str:
    return GLOBAL if subject is None else subject


def _consumer(row: ConsumerRow) -> Consumer:
    return Consumer(
        name=row.name,
        subject=row.subject,
        format=row.format,
        version=row.version,
        reader_schema=row.reader_schema,
        fields=tuple(row.fields or ()),
    )
