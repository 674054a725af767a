"""Registered consumers of a subject, and the verdict on which of them a new schema would break.

Every registered consumer of the subject must be able to read a new schema (FORWARD: the
consumer's reader schema reads data written with the new one), whatever the subject's level. A
consumer that registered fields is broken only by violations touching one of them
(``violation_touches``, on the violation's dotted ``element`` path whatever the format).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from registry.compat import DEFAULT_FORMAT, Direction, ParsedSchema, SchemaFormat, Violation
from registry.errors import ConsumerNotFound, InvalidArgument, SubjectNotFound, VersionNotFound
from registry.model import CONSUMER_ADDED, CONSUMER_REMOVED, BrokenConsumer, Consumer
from registry.service.arguments import check_size, check_subject, schema_format
from registry.service.caches import SchemaCache
from registry.service.config import Configs
from registry.service.parsing import SchemaParser
from registry.store import Store


class Consumers:
    def __init__(self, store: Store, schemas: SchemaCache, parser: SchemaParser, configs: Configs):
        self.store = store
        self.schemas = schemas
        self.parser = parser
        self.configs = configs

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
        ``format`` is needed only for a reader schema of a subject without versions (default
        ``DEFAULT_FORMAT``, Avro).
        """
        if not name or not name.strip():
            raise InvalidArgument("consumer name: required")
        check_subject(subject)
        if (version is None) == (reader_schema is None):
            raise InvalidArgument("consumer: give exactly one of version or reader_schema")
        fields = tuple(fields)
        if not all(isinstance(f, str) and f.strip() for f in fields):
            raise InvalidArgument(
                "consumer fields: expected non-empty field paths like 'amount' or 'items.sku'"
            )
        if reader_schema is not None:
            check_size(reader_schema, "reader_schema")

        def work(session) -> Consumer:
            self.configs.require_writable(session, subject)
            self.store.lock_subject(session, subject)
            live = [v for v in self.store.versions(session, subject) if not v.deleted]
            if version is not None:
                stored = next((v for v in live if v.version == version), None)
                if stored is None:
                    if not live:
                        raise SubjectNotFound(f"subject {subject!r} not found")
                    raise VersionNotFound(f"version {version} of subject {subject!r} not found")
                format_name = self.schemas.get(stored.schema_id).format
            else:
                format_name = (
                    schema_format(format).name
                    if format
                    else (self.schemas.get(live[-1].schema_id).format if live else DEFAULT_FORMAT)
                )
                self.parser.reader(format_name, reader_schema)  # fails here, not at the next register
            consumer = Consumer(name, subject, format_name, version, reader_schema, fields)
            self.store.put_consumer(session, consumer)
            self.store.append_event(
                session, CONSUMER_ADDED, subject, version, consumer=name, fields=list(fields)
            )
            return consumer

        return self.store.write(work)

    def list_consumers(self, subject: str | None = None) -> list[Consumer]:
        with self.store.read() as session:
            return self.store.consumers(session, subject)

    def remove_consumer(self, name: str, subject: str) -> None:
        def work(session) -> None:
            self.configs.require_writable(session, subject)
            if not self.store.delete_consumer(session, name, subject):
                raise ConsumerNotFound(f"consumer {name!r} of subject {subject!r} not found")
            self.store.append_event(session, CONSUMER_REMOVED, subject, consumer=name)

        self.store.write(work)

    def broken_by(
        self, session, subject: str, new_format: SchemaFormat, parsed: ParsedSchema, ruleset: str | None
    ) -> list[BrokenConsumer]:
        """The registered consumers of ``subject`` that could not read ``parsed``, by name.

        Their violations are worded for people: ``consumer 'NAME' cannot read it: …``.
        """
        broken = []
        for consumer in self.store.consumers(session, subject):
            if consumer.format != new_format.name:
                found = [
                    Violation(
                        "CONSUMER_FORMAT_MISMATCH",
                        subject,
                        f"reads {consumer.format}, the new schema is {new_format.name}",
                    )
                ]
            else:
                reader = self._reader(session, consumer)
                found = [
                    v
                    for v in new_format.check(reader, parsed, Direction.FORWARD, ruleset)
                    if not consumer.fields or violation_touches(v.element, consumer.fields)
                ]
            if found:
                touched = [f for f in consumer.fields if any(touched_by(v.element, f) for v in found)]
                violations = tuple(
                    replace(v, message=f"consumer {consumer.name!r} cannot read it: {v.message}")
                    for v in found
                )
                broken.append(BrokenConsumer(consumer.name, tuple(touched), violations))
        return broken

    def _reader(self, session, consumer: Consumer) -> ParsedSchema:
        if consumer.reader_schema is not None:
            return self.parser.reader(consumer.format, consumer.reader_schema)
        schema_id = self.store.schema_id_of_version(session, consumer.subject, consumer.version)
        if schema_id is None:  # the version was permanently deleted: the consumer's reader is gone
            raise VersionNotFound(
                f"consumer {consumer.name!r} reads version {consumer.version} of {consumer.subject!r}, which was permanently deleted; re-register the consumer"
            )
        return self.parser.parsed(schema_id)


def violation_touches(path: str, fields: Iterable[str]) -> bool:
    """Whether a violation at ``path`` (``Order.items[].sku``; ``Violation.element``, so a JSON
    Schema violation is ``$.customer.email``) concerns one of a consumer's fields.

    Both are split on dots, with collection markers (``[]``, ``{}``) dropped. A field path
    (``items.sku``) matches when its parts occur as a contiguous run in the violation path, so the
    root type name and any namespace in front do not matter. A violation on the root itself (a path
    of one part, e.g. the record renamed) concerns every field.
    """
    return any(touched_by(path, field_path) for field_path in fields) or len(_path_parts(path)) <= 1


def touched_by(path: str, field_path: str) -> bool:
    """Whether the violation at ``path`` concerns the one field ``field_path`` (see ``violation_touches``)."""
    parts = _path_parts(path)
    if len(parts) <= 1:
        return True
    wanted = _path_parts(field_path)
    return any(parts[start : start + len(wanted)] == wanted for start in range(len(parts) - len(wanted) + 1))


def _path_parts(path: str) -> list[str]:
    return [re.sub(r"\[[^\]]*\]|\{[^}]*\}", "", part) for part in path.split(".")]
