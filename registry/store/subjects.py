"""Queries of the contract tables: subjects and their versions, schemas by id, references,
compatibility configs, modes and consumers (``subject=None`` is the global config or mode)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Text, cast, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from registry.compat import Level
from registry.model import Consumer, DataContractConfig, SchemaRecord, SubjectConfig, as_references
from registry.store.models import (
    GLOBAL,
    ConfigRow,
    ConsumerRow,
    ModeRow,
    ReferenceRow,
    SchemaRow,
    SubjectRow,
    SubjectVersionRow,
)


@dataclass(frozen=True)
class StoredVersion:
    """One row of ``subject_versions``: a subject's version pointing at a schema id."""

    subject: str
    version: int
    schema_id: int
    meta: dict
    deleted: bool
    data_metadata: dict | None = None
    rule_set: dict | None = None


@dataclass(frozen=True)
class VersionRow:
    """A version as a registration reads it: the ids at once, the JSON columns decoded on first use.

    A registration reads every version's schema id but the metadata of one or two (the latest, the
    ones holding the same schema), so decoding every row's JSON was what a long history added to it.
    """

    subject: str
    version: int
    schema_id: int
    deleted: bool
    texts: tuple[str | None, str | None, str | None] = field(repr=False, compare=False)
    """The ``metadata``, ``data_metadata`` and ``rule_set`` columns as JSON text."""

    @cached_property
    def meta(self) -> dict:
        return dict(_decoded(self.texts[0]) or {})

    @cached_property
    def data_metadata(self) -> dict | None:
        return _decoded(self.texts[1])

    @cached_property
    def rule_set(self) -> dict | None:
        return _decoded(self.texts[2])

    def stored(self) -> StoredVersion:
        return StoredVersion(
            self.subject,
            self.version,
            self.schema_id,
            self.meta,
            self.deleted,
            self.data_metadata,
            self.rule_set,
        )


def _decoded(text: str | None):
    return None if text is None else json.loads(text)


class SubjectQueries:
    """``Store``'s methods over the contract tables (each runs in the session it is given)."""

    dialect: str

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
        """Every version of the subject, soft-deleted ones included, oldest first.

        Plain rows, not ORM objects (a registration reads ``version_rows``, lighter still).
        """
        row = SubjectVersionRow
        columns = (
            row.subject,
            row.version,
            row.schema_id,
            row.meta,
            row.deleted,
            row.data_metadata,
            row.rule_set,
        )
        query = select(*columns).where(row.subject == subject).order_by(row.version)
        return [_stored_version(found) for found in session.execute(query)]

    def version_rows(self, session: Session, subject: str) -> list[VersionRow]:
        """``versions`` with the JSON columns left as text until read (``VersionRow``)."""
        row = SubjectVersionRow
        columns = (
            row.subject,
            row.version,
            row.schema_id,
            row.deleted,
            cast(row.meta, Text),
            cast(row.data_metadata, Text),
            cast(row.rule_set, Text),
        )
        query = select(*columns).where(row.subject == subject).order_by(row.version)
        return [VersionRow(*found[:4], tuple(found[4:])) for found in session.execute(query)]

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

    def add_version(
        self,
        session: Session,
        subject: str,
        version: int,
        schema_id: int,
        meta: dict,
        data_metadata: dict | None = None,
        rule_set: dict | None = None,
    ) -> None:
        session.add(
            SubjectVersionRow(
                subject=subject,
                version=version,
                schema_id=schema_id,
                meta=meta,
                deleted=False,
                data_metadata=data_metadata,
                rule_set=rule_set,
            )
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

    def referencing_schema_ids(self, session: Session, subject: str, version: int) -> list[int]:
        """The ids of the schemas of live versions that reference this version of ``subject``."""
        return list(
            session.scalars(
                select(SubjectVersionRow.schema_id)
                .join(ReferenceRow, ReferenceRow.schema_id == SubjectVersionRow.schema_id)
                .where(
                    ReferenceRow.subject == subject,
                    ReferenceRow.version == version,
                    SubjectVersionRow.deleted.is_(False),
                )
                .distinct()
                .order_by(SubjectVersionRow.schema_id)
            )
        )

    # ---- schemas by global id ------------------------------------------------------------------

    def schema(self, session: Session, schema_id: int) -> SchemaRecord | None:
        row = session.get(SchemaRow, schema_id)
        if row is None:
            return None
        return _schema_record(row)

    def schema_by_guid(self, session: Session, guid: str) -> SchemaRecord | None:
        row = session.execute(select(SchemaRow).where(SchemaRow.guid == guid)).scalar_one_or_none()
        return None if row is None else _schema_record(row)

    def find_schema_id(self, session: Session, format_name: str, fingerprint: str) -> int | None:
        """The global id of the schema with this (format, fingerprint), or None when it is new."""
        return session.execute(
            select(SchemaRow.id).where(SchemaRow.format == format_name, SchemaRow.fingerprint == fingerprint)
        ).scalar_one_or_none()

    def add_schema(
        self,
        session: Session,
        format_name: str,
        fingerprint: str,
        schema_text: str,
        references: list[dict],
        schema_id: int | None = None,
    ) -> int:
        """Allocate a global id (and a GUID) for a schema that ``find_schema_id`` did not find, or
        keep ``schema_id`` (IMPORT mode; PostgreSQL's id sequence is moved past it).

        Two writers adding the same new schema under different subjects meet on the unique
        constraint: the loser's transaction fails with IntegrityError and ``write`` retries it,
        which then finds the winner's row.
        """
        row = SchemaRow(
            id=schema_id,
            format=format_name,
            fingerprint=fingerprint,
            text=schema_text,
            references=references,
            guid=str(uuid.uuid4()),
        )
        session.add(row)
        session.flush()
        if schema_id is not None and self.dialect == "postgresql":
            session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('schemas', 'id'), "
                    "GREATEST((SELECT MAX(id) FROM schemas), 1))"
                )
            )
        for ref in references:
            session.add(ReferenceRow(schema_id=row.id, **ref))
        return row.id

    # ---- compatibility configs and modes (subject None: the global setting) --------------------

    def config(self, session: Session, subject: str | None) -> SubjectConfig | None:
        """The setting made at exactly this scope, or None."""
        row = session.get(ConfigRow, _key(subject))
        return None if row is None else _config(row)

    def put_config(
        self,
        session: Session,
        subject: str | None,
        level: Level,
        ruleset: str | None,
        data_contract: DataContractConfig,
    ) -> None:
        session.merge(
            ConfigRow(
                subject=_key(subject),
                level=level.value,
                ruleset=ruleset,
                compatibility_group=data_contract.compatibility_group,
                default_metadata=data_contract.default_metadata,
                override_metadata=data_contract.override_metadata,
                default_rule_set=data_contract.default_rule_set,
                override_rule_set=data_contract.override_rule_set,
            )
        )

    def delete_config(self, session: Session, subject: str | None) -> SubjectConfig | None:
        """Remove the setting made at this scope; returns it (None when there was none)."""
        row = session.get(ConfigRow, _key(subject))
        if row is None:
            return None
        session.delete(row)
        return _config(row)

    def mode(self, session: Session, subject: str | None) -> str | None:
        row = session.get(ModeRow, _key(subject))
        return None if row is None else row.mode

    def put_mode(self, session: Session, subject: str | None, mode: str) -> None:
        session.merge(ModeRow(subject=_key(subject), mode=mode))

    def delete_mode(self, session: Session, subject: str | None) -> str | None:
        """Remove the mode set at this scope; returns it (None when there was none)."""
        row = session.get(ModeRow, _key(subject))
        if row is None:
            return None
        session.delete(row)
        return row.mode

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


def _key(subject: str | None) -> str:
    return GLOBAL if subject is None else subject


def _stored_version(row) -> StoredVersion:
    """A version from its ORM object or its plain row (the same attribute names)."""
    return StoredVersion(
        row.subject,
        row.version,
        row.schema_id,
        dict(row.meta or {}),
        row.deleted,
        row.data_metadata,
        row.rule_set,
    )


def _schema_record(row: SchemaRow) -> SchemaRecord:
    return SchemaRecord(
        id=row.id,
        format=row.format,
        schema=row.text,
        references=as_references(row.references),
        guid=row.guid or "",
    )


def _config(row: ConfigRow) -> SubjectConfig:
    return SubjectConfig(
        Level(row.level),
        row.ruleset,
        data_contract=DataContractConfig(
            row.compatibility_group,
            row.default_metadata,
            row.override_metadata,
            row.default_rule_set,
            row.override_rule_set,
        ),
    )


def _consumer(row: ConsumerRow) -> Consumer:
    return Consumer(
        name=row.name,
        subject=row.subject,
        format=row.format,
        version=row.version,
        reader_schema=row.reader_schema,
        fields=tuple(row.fields or ()),
    )
