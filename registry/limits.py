"""The registry's input limits and the text checks every entry point runs before any parsing.

Each limit is named (``LIMITS``, the table in docs/registry.md); a breach raises ``LimitExceeded``
carrying the limit's name and where it was hit, malformed text raises ``MalformedText``. The checks
here work on text without knowing the schema format: sizes, nesting depth, number literals and
well-formed Unicode. What needs a format's structure (fields, names, ``fixed`` sizes, decimals) is
``registry.compat.limits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from registry.compat import MAX_SCHEMA_BYTES
from registry.errors import HeadersTooLarge, LimitExceeded, MalformedText


@dataclass(frozen=True)
class Limit:
    name: str
    value: int
    unit: str
    applies_to: str


MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 32
MAX_STRING_CHARS = 65_536
MAX_LIST_ITEMS = 1_000
MAX_REFERENCES = 100
MAX_REFERENCE_DEPTH = 10
MAX_SUBJECT_CHARS = 255

LIMITS = (
    Limit("body size", MAX_BODY_BYTES, "bytes", "REST request body (413 before it is read further)"),
    Limit("message size", MAX_MESSAGE_BYTES, "bytes", "gRPC request message (RESOURCE_EXHAUSTED)"),
    Limit("header size", MAX_HEADER_BYTES, "bytes", "HTTP request head, gRPC metadata"),
    Limit(
        "nesting depth",
        MAX_JSON_DEPTH,
        "levels",
        "REST body JSON, schema text ({ [ nesting); YAML files (contracts, ODCS, meshgate.yaml)",
    ),
    Limit(
        "schema size", MAX_SCHEMA_BYTES, "bytes", "schema and reader schema text (RESOURCE_EXHAUSTED, 413)"
    ),
    Limit("number literal", MAX_NUMBER_DIGITS, "digits", "any number in a body or schema text"),
    Limit("string field", MAX_STRING_CHARS, "characters", "every string field but the schema texts"),
    Limit("list items", MAX_LIST_ITEMS, "items", "every repeated field (fields, domains, event types)"),
    Limit("references", MAX_REFERENCES, "per schema", "a schema's references"),
    Limit("reference depth", MAX_REFERENCE_DEPTH, "levels", "references of references, transitively"),
    Limit("subject length", MAX_SUBJECT_CHARS, "characters", "subject names (see the grammar)"),
)

SUBJECT_GRAMMAR = r"[A-Za-z0-9_:][A-Za-z0-9_.\-/:@+$]*"
"""Every subject, on every transport: a letter, digit, ``_`` or ``:`` (Confluent contexts), then
letters, digits and ``. _ - / : @ + $``; at most ``MAX_SUBJECT_CHARS`` characters."""
_SUBJECT = re.compile(SUBJECT_GRAMMAR)

# One token of JSON-like text: a double-quoted string, a bracket, or a number.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|\d+', re.S)
_ESCAPE = re.compile(
    r"\\(?:u[dD][89aAbB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[dD][89a-fA-F][0-9a-fA-F]{2}|.)", re.S
)
_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


def check_subject(subject: str, where: str = "subject") -> str:
    """``subject`` when it follows ``SUBJECT_GRAMMAR``; else ``InvalidArgument`` naming it."""
    check_text(subject, where)
    if not subject:
        raise LimitExceeded("subject length", where, "required")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise LimitExceeded("subject length", where, f"{len(subject)} characters, over {MAX_SUBJECT_CHARS}")
    if not _SUBJECT.fullmatch(subject):
        raise MalformedText(
            f"{where}: {subject!r} is not a subject name: letters, digits and . _ - / : @ + $, "
            "starting with a letter, digit, _ or : (docs/registry.md, Subject names)"
        )
    return subject


def check_text(text: str, where: str) -> str:
    """``text`` when it is well-formed Unicode (no lone surrogate); else ``MalformedText``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedText(
            f"{where}: not well-formed Unicode: a lone surrogate U+{ord(text[exc.start]):04X} "
            f"at character {exc.start + 1}"
        ) from None
    return text


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as text; bytes that are not UTF-8 are ``MalformedText`` naming the offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedText(f"{where}: not valid UTF-8 at byte {exc.start}") from None


def check_string_field(text: str, where: str, limit: int = MAX_STRING_CHARS) -> str:
    check_text(text, where)
    if len(text) > limit:
        raise LimitExceeded("string field", where, f"{len(text)} characters, over {limit}")
    return text


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """The request's header fields (names and values) fit ``MAX_HEADER_BYTES``."""
    size = sum(len(name) + len(value) for name, value in headers)
    if size > MAX_HEADER_BYTES:
        raise HeadersTooLarge("header size", "request headers", f"{size} bytes, over {MAX_HEADER_BYTES}")


def check_list(items, where: str) -> None:
    if len(items) > MAX_LIST_ITEMS:
        raise LimitExceeded("list items", where, f"{len(items)} items, over {MAX_LIST_ITEMS}")


def check_schema_text(text: str, where: str = "schema") -> None:
    """Well-formed Unicode, nesting depth and number literals of a schema text, before parsing
    (its size is checked before, as ``PayloadTooLarge``).

    Braces and brackets count towards the depth outside double-quoted strings, so the check suits
    JSON (Avro) and Protobuf source alike; inside strings, an escaped lone surrogate (``\\ud800``)
    is refused because a JSON decoder would turn it into one.
    """
    check_text(text, where)
    check_json_text(text, where)


def check_json_text(text: str, where: str) -> None:
    """Nesting depth, number literals and escaped surrogates of JSON(-like) text, without parsing it."""
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in _OPENING:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise LimitExceeded(
                    "nesting depth", _at(where, text, match.start()), f"nested deeper than {MAX_JSON_DEPTH}"
                )
        elif first in _CLOSING:
            depth -= 1
        elif first == '"':
            if "\\u" in token:
                _check_escapes(token, where, text, match.start())
        elif len(token) > MAX_NUMBER_DIGITS:
            raise LimitExceeded(
                "number literal",
                _at(where, text, match.start()),
                f"{len(token)} digits, over {MAX_NUMBER_DIGITS}",
            )


def _check_escapes(token: str, where: str, text: str, offset: int) -> None:
    for escape in _ESCAPE.finditer(token):
        value = escape.group()
        if len(value) == 6 and value[1] == "u":
            raise MalformedText(
                f"{_at(where, text, offset + escape.start())}: the escape {value} is a lone surrogate, "
                "not a character (pair a high surrogate with a low one)"
            )


def _at(where: str, text: str, offset: int) -> str:
    """``where`` with the 1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{where} line {line} column {column}"


def load_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load`` of a file's text once its nesting is within the limit (``check_yaml_depth``),
    integers within the number-literal limit (``file:line:column``, not Python's ``ValueError`` past
    4,300 digits); every YAML file of ours that a person writes goes through here (or
    ``check_yaml_depth``)."""
    check_yaml_depth(text, where)
    loader = _LimitedLoader(text)
    loader.where = where
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _LimitedLoader(yaml.SafeLoader):
    where = "YAML"

    def construct_yaml_int(self, node):
        digits = sum(character.isalnum() for character in node.value)
        if digits > MAX_NUMBER_DIGITS:
            mark = node.start_mark
            raise LimitExceeded(
                "number literal",
                f"{self.where}:{mark.line + 1}:{mark.column + 1}",
                f"{digits} digits, over {MAX_NUMBER_DIGITS}",
            )
        return super().construct_yaml_int(node)


_LimitedLoader.add_constructor("tag:yaml.org,2002:int", _LimitedLoader.construct_yaml_int)


def check_yaml_depth(text: str, where: str) -> None:
    """Refuse YAML nested deeper than ``MAX_JSON_DEPTH`` (block ``- - -`` and flow ``[[[`` alike),
    naming ``where:line:column``, before PyYAML's recursive composer would raise ``RecursionError``.

    PyYAML's event parser is a loop, not a recursion, so counting its start and end events is safe
    at any depth; it stops at the first level over the limit. Malformed YAML raises ``yaml.YAMLError``
    as ``yaml.safe_load`` would.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                mark = event.start_mark
                raise LimitExceeded(
                    "nesting depth",
                    f"{where}:{mark.line + 1}:{mark.column + 1}",
                    f"YAML nested deeper than {MAX_JSON_DEPTH} levels",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
