"""Reading JSON Schema documents: JSON with positions, the dialect, the metaschema, and ``$ref`` targets.

A schema and the schemas it references (other subjects' schemas, by reference name) are read into
``SchemaDocument``s. Each document is validated against the metaschema of its dialect (``$schema``;
draft-07 when absent, as Confluent Schema Registry does) with ``jsonschema``, then turned into a tree
of ``SchemaNode``s (``json_schema_model``) whose ``$ref``s are resolved once, here: a ``$ref`` that
points nowhere is an ``InvalidSchema`` naming its JSON pointer and line, not a surprise at check time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urldefrag, urljoin

import jsonschema
import jsonschema.exceptions

from registry.compat import MAX_SCHEMA_BYTES
from registry.compat.avro_json import JsonDocument, read_json
from registry.errors import InvalidSchema, SourceLocation


@dataclass(frozen=True)
class Dialect:
    """A JSON Schema draft: its name, metaschema URI, validator and how it spells ``$id``."""

    name: str
    uri: str
    validator: type
    id_keyword: str  # "id" in draft-04, "$id" after

    @property
    def ref_overrides(self) -> bool:
        """Whether a ``$ref`` makes its sibling keywords ignored (draft-07 and before)."""
        return self.name in ("draft-04", "draft-06", "draft-07")


DRAFT_04 = Dialect("draft-04", "http://json-schema.org/draft-04/schema#", jsonschema.Draft4Validator, "id")
DRAFT_06 = Dialect("draft-06", "http://json-schema.org/draft-06/schema#", jsonschema.Draft6Validator, "$id")
DRAFT_07 = Dialect("draft-07", "http://json-schema.org/draft-07/schema#", jsonschema.Draft7Validator, "$id")
DRAFT_2019_09 = Dialect(
    "2019-09", "https://json-schema.org/draft/2019-09/schema", jsonschema.Draft201909Validator, "$id"
)
DRAFT_2020_12 = Dialect(
    "2020-12",
    "https://json-schema.org/draft/2020-12/schema",
    jsonschema.Draft202012Validator,
    "$id",
)
DIALECTS = (DRAFT_04, DRAFT_06, DRAFT_07, DRAFT_2019_09, DRAFT_2020_12)
DEFAULT_DIALECT = DRAFT_07


def _dialect_key(uri: str) -> str:
    """``$schema`` spellings that mean the same draft: http or https, with or without the empty fragment."""
    return uri.strip().removesuffix("#").removeprefix("https://").removeprefix("http://")


_DIALECTS_BY_KEY = {_dialect_key(dialect.uri): dialect for dialect in DIALECTS}


def pointer(parent: str, *keys: str | int) -> str:
    """``parent`` (a ``#``-rooted JSON pointer) extended by ``keys``, escaped per RFC 6901."""
    parts = [str(key).replace("~", "~0").replace("/", "~1") for key in keys]
    return "/".join([parent, *parts])


@dataclass
class SchemaDocument:
    """One schema text: its JSON (with positions), dialect, base URI and name."""

    name: str  # the source name of the main schema, or the reference name of a referenced one
    json: JsonDocument
    dialect: Dialect
    base_uri: str  # the document's ``$id`` (or its name): what relative ``$ref``s resolve against
    nodes: dict[str, object] = field(default_factory=dict)  # JSON pointer -> SchemaNode
    anchors: dict[str, object] = field(default_factory=dict)  # "$anchor" name -> SchemaNode

    @property
    def value(self):
        return self.json.value

    def line_at(self, json_pointer: str) -> int | None:
        """1-based line of the value at ``json_pointer`` (``#/properties/a``), where known."""
        container, key = None, None
        value = self.value
        for part in pointer_parts(json_pointer):
            if isinstance(value, dict) and part in value:
                container, key, value = value, part, value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                container, key, value = value, int(part), value[int(part)]
            else:
                break
        return 1 if container is None else self.json.line(container, key)


def pointer_parts(json_pointer: str) -> list[str]:
    text = unquote(json_pointer.removeprefix("#"))
    if not text:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in text.removeprefix("/").split("/")]


def read_document(text: str, name: str) -> SchemaDocument:
    """Parse ``text``, pick its dialect and validate it against that dialect's metaschema."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_SCHEMA_BYTES:
        raise InvalidSchema(
            f"the schema is {size} bytes, over the {MAX_SCHEMA_BYTES} byte cap", SourceLocation(name)
        )
    if not text.strip():
        raise InvalidSchema("the schema is empty; expected a JSON Schema document", SourceLocation(name))
    json_document = read_json(text, name)
    value = json_document.value
    if not isinstance(value, dict | bool):
        raise InvalidSchema(
            f"a JSON Schema is an object or a boolean, not {type(value).__name__}", SourceLocation(name, 1, 1)
        )
    dialect = DEFAULT_DIALECT
    if isinstance(value, dict) and "$schema" in value:
        declared = value["$schema"]
        dialect = _DIALECTS_BY_KEY.get(_dialect_key(declared)) if isinstance(declared, str) else None
        if dialect is None:
            known = ", ".join(d.uri for d in DIALECTS)
            raise InvalidSchema(
                f"#/$schema: unknown dialect {declared!r}; expected one of {known}",
                SourceLocation(name, json_document.line(value, "$schema")),
            )
    base = value.get(dialect.id_keyword) if isinstance(value, dict) else None
    document = SchemaDocument(name, json_document, dialect, base if isinstance(base, str) else name)
    _check_metaschema(document)
    return document


def _check_metaschema(document: SchemaDocument) -> None:
    """The schema must be valid against its dialect's metaschema (``jsonschema`` judges)."""
    try:
        document.dialect.validator.check_schema(document.value)
    except jsonschema.exceptions.SchemaError as error:
        where = pointer("#", *error.path)
        line = document.line_at(where)
        keyword = f" (keyword {error.validator!r})" if error.validator else ""
        raise InvalidSchema(
            f"{where}: not a valid {document.dialect.name} JSON Schema{keyword}: {error.message}",
            SourceLocation(document.name, line),
        ) from None


@dataclass
class DocumentSet:
    """The main document and the documents it may reference, found by name, URI or ``$id``."""

    main: SchemaDocument
    references: list[SchemaDocument]
    by_uri: dict[str, SchemaDocument] = field(default_factory=dict)

    @classmethod
    def read(cls, text: str, references: Mapping[str, str] | None, source_name: str) -> DocumentSet:
        main = read_document(text, source_name)
        others = [read_document(ref_text, ref_name) for ref_name, ref_text in (references or {}).items()]
        documents = cls(main, others)
        for document in [main, *others]:
            documents.by_uri.setdefault(document.name, document)
            documents.by_uri.setdefault(document.base_uri, document)
        return documents

    def find(self, ref: str, base: SchemaDocument) -> tuple[SchemaDocument | None, str]:
        """The document a ``$ref`` names (None: none known) and the fragment inside it."""
        target, fragment = urldefrag(ref)
        if not target:
            return base, fragment
        for candidate in (target, urljoin(base.base_uri, target)):
            document = self.by_uri.get(candidate)
            if document is not None:
                return document, fragment
        return None, fragment


def unresolvable(document: SchemaDocument, at: str, ref: str, reason: str) -> InvalidSchema:
    """The error for a ``$ref`` that points nowhere: the pointer of the ``$ref``, its line, a fix."""
    where = pointer(at, "$ref")
    return InvalidSchema(
        f"{where}: $ref {ref!r} cannot be resolved: {reason}. Define the target in this schema "
        "($defs/definitions) or pass the referenced schema as a reference under that name.",
        SourceLocation(document.name, document.line_at(where)),
    )
