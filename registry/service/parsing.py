"""Schemas parsed with their references, and the parsed forms the compatibility checks reuse.

References name another subject's live version; they are resolved transitively into
``{name: schema text}`` (dependencies first) for the format's parser. Parsed stored schemas are
cached by id and parsed reader schemas by text, both in bounded LRUs. A schema id never names
another schema (schema rows are never deleted, and a referenced version cannot be), so the cache
by id needs no invalidation; a registration hands its freshly parsed schema over once it committed,
so checking the next version against it parses nothing. The parsed forms also carry what the checks
compute once per schema (signatures, field keys), so a transitive check against 100 versions costs
little more than one against 10.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from registry.compat import ParsedSchema, SchemaFormat, get_format
from registry.compat.limits import check_structure
from registry.compat.lru import LruCache
from registry.contract import Reference
from registry.errors import InvalidSchema, LimitExceeded, SourceLocation
from registry.limits import MAX_REFERENCE_DEPTH, MAX_REFERENCES
from registry.service.caches import SchemaCache
from registry.store import Store

PARSED_CACHE_SIZE = 2_048  # parsed stored schemas, by id
READER_CACHE_SIZE = 512  # parsed consumer reader schemas, by (format, text)


class SchemaParser:
    def __init__(self, store: Store, schemas: SchemaCache, size: int = PARSED_CACHE_SIZE):
        self.store = store
        self.schemas = schemas
        self.stored = LruCache(size)
        """Parsed stored schemas by id (``parsed`` fills it, ``remember`` hands one over)."""
        self.reader = functools.lru_cache(maxsize=READER_CACHE_SIZE)(self._parse_reader)
        """``reader(format_name, text)``: a consumer's own reader schema, parsed (cached)."""

    def parsed(self, schema_id: int) -> ParsedSchema:
        """The stored schema with that id, parsed (cached)."""
        schema = self.stored.get(schema_id)
        if schema is None:
            schema = self._parse_stored(schema_id)
            self.stored.put(schema_id, schema)
        return schema

    def remember(self, schema_id: int, schema: ParsedSchema) -> None:
        """``schema`` is the parsed form of stored schema ``schema_id`` (its text and references), committed."""
        self.stored.put(schema_id, schema)

    def parse(
        self, session, schema_format: SchemaFormat, text: str, refs: Sequence[Reference], source: str
    ) -> ParsedSchema:
        """Parse ``text`` with its references resolved in ``session``; the structure limits
        (``registry.compat.limits``) are checked first."""
        if len(refs) > MAX_REFERENCES:
            raise LimitExceeded("references", "references", f"{len(refs)} references, over {MAX_REFERENCES}")
        check_structure(schema_format.name, text, source)
        return schema_format.parse(text, self.reference_texts(session, refs), source_name=source)

    def reference_texts(self, session, refs: Sequence[Reference]) -> dict[str, str]:
        """``{name: schema text}`` of the references and of what they reference, dependencies first."""
        texts: dict[str, str] = {}

        def visit(ref: Reference, trail: tuple[str, ...]) -> None:
            if ref.name in texts or ref.name in trail:
                return
            if len(trail) >= MAX_REFERENCE_DEPTH:
                raise LimitExceeded(
                    "reference depth",
                    f"references {' -> '.join((*trail, ref.name))}",
                    f"references nested deeper than {MAX_REFERENCE_DEPTH}",
                )
            stored = self.store.live_version(session, ref.subject, ref.version)
            if stored is None:
                raise InvalidSchema(
                    f"reference {ref.name!r}: version {ref.version} of subject {ref.subject!r} does not exist",
                    SourceLocation(file="references"),
                )
            record = self.schemas.get(stored.schema_id)
            for inner in record.references:
                visit(inner, (*trail, ref.name))
            texts[ref.name] = record.schema

        for ref in refs:
            visit(ref, ())
        return texts

    def _parse_stored(self, schema_id: int) -> ParsedSchema:
        record = self.schemas.get(schema_id)
        with self.store.read() as session:
            return self.parse(
                session, get_format(record.format), record.schema, record.references, f"id {schema_id}"
            )

    def _parse_reader(self, format_name: str, text: str) -> ParsedSchema:
        check_structure(format_name, text, "reader_schema")
        return get_format(format_name).parse(text, source_name="reader_schema")
