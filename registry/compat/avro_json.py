"""Reading ``.avsc`` JSON while remembering where every value sits in the text.

``json.loads`` gives values but no positions, and violations must name the line in the new schema.
``read_json`` first lets ``json`` judge the syntax (its messages and line/column are good), then walks
the text once more with a small scanner that records the offset of every value, kept in a side table
keyed by the ``id`` of the dict or list holding it. The documents stay alive in ``JsonDocument.value``,
so those ids stay valid.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring

from registry.errors import InvalidSchema, SourceLocation

MAX_NESTING = 200
"""Deepest JSON nesting accepted (objects and arrays). The parser, the model and the compatibility
walker recurse once per level; a fixed cap keeps them far from Python's recursion limit and gives a
clear error instead. 200 JSON levels is about 66 nested records or 200 nested arrays."""

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class JsonDocument:
    """A parsed JSON value with the source offset of every nested value."""

    value: object
    text: str
    source_name: str
    _offsets: dict[int, dict | list] = field(default_factory=dict)
    _line_starts: list[int] = field(default_factory=list)

    def line_of_offset(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    def line(self, container: dict | list, key: str | int) -> int | None:
        """1-based line of ``container[key]``, or None when the key is absent."""
        offsets = self._offsets.get(id(container))
        if offsets is None:
            return None
        if isinstance(offsets, dict):
            offset = offsets.get(key)
        else:
            offset = offsets[key] if isinstance(key, int) and 0 <= key < len(offsets) else None
        return None if offset is None else self.line_of_offset(offset)

    def location(self, line: int | None) -> SourceLocation:
        return SourceLocation(self.source_name, line)


def read_json(text: str, source_name: str) -> JsonDocument:
    """Parse ``text`` as JSON, raising ``InvalidSchema`` with file, line and column on any problem."""
    if not text.strip():
        raise InvalidSchema("the schema is empty; expected Avro schema JSON", SourceLocation(source_name))
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise InvalidSchema(
            "the text contains a NUL byte: is this a binary file?", SourceLocation(source_name, line, column)
        )
    try:
        json.loads(text)  # only to judge the syntax, with json's messages and positions
    except RecursionError:
        pass  # far too deep for json itself; the scan below reports where the limit is crossed
    except json.JSONDecodeError as exc:
        raise InvalidSchema(
            f"invalid JSON: {exc.msg}", SourceLocation(source_name, exc.lineno, exc.colno)
        ) from None
    document = JsonDocument(value=None, text=text, source_name=source_name)
    document._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
    try:
        document.value, _ = _scan(document, _skip(text, 0), 0)
    except (IndexError, ValueError):  # only when json gave up on the depth before judging the syntax
        raise InvalidSchema(
            "invalid JSON, nested too deeply to locate the error", SourceLocation(source_name)
        ) from None
    return document


def _skip(text: str, offset: int) -> int:
    return _WHITESPACE.match(text, offset).end()


def _error_at(document: JsonDocument, offset: int, message: str) -> InvalidSchema:
    line = document.line_of_offset(offset)
    column = offset - document._line_starts[line - 1] + 1
    return InvalidSchema(message, SourceLocation(document.source_name, line, column))


def _scan(document: JsonDocument, offset: int, depth: int) -> tuple[object, int]:
    """Scan one value of JSON already known to be valid; return it and the offset after it.

    Also refuses what ``json`` lets through but a schema must not hold: duplicate keys (the last
    one would silently win) and the non-JSON constants NaN and Infinity.
    """
    text, offsets = document.text, document._offsets
    char = text[offset]
    if char in "[{" and depth >= MAX_NESTING:
        raise _error_at(
            document,
            offset,
            f"the schema nests deeper than {MAX_NESTING} JSON levels, meshgate's limit; "
            "flatten it or define the inner types once and refer to them by name",
        )
    if char == '"':
        return scanstring(text, offset + 1)
    if char == "{":
        result: dict = {}
        positions: dict = {}
        offset = _skip(text, offset + 1)
        if text[offset] == "}":
            offsets[id(result)] = positions
            return result, offset + 1
        while True:
            key_offset = offset
            key, offset = scanstring(text, offset + 1)
            if key in result:
                raise _error_at(document, key_offset, f'duplicate key "{key}" in a JSON object')
            offset = _skip(text, _skip(text, offset) + 1)  # the colon
            positions[key] = offset
            result[key], offset = _scan(document, offset, depth + 1)
            offset = _skip(text, offset)
            if text[offset] == "}":
                offsets[id(result)] = positions
                return result, offset + 1
            offset = _skip(text, offset + 1)  # the comma
    if char == "[":
        items: list = []
        starts: list[int] = []
        offset = _skip(text, offset + 1)
        if text[offset] == "]":
            offsets[id(items)] = starts
            return items, offset + 1
        while True:
            starts.append(offset)
            item, offset = _scan(document, offset, depth + 1)
            items.append(item)
            offset = _skip(text, offset)
            if text[offset] == "]":
                offsets[id(items)] = starts
                return items, offset + 1
            offset = _skip(text, offset + 1)
    for literal, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(literal, offset):
            return value, offset + len(literal)
    number = _NUMBER.match(text, offset)
    if number is None or text.startswith("-Infinity", offset):
        raise _error_at(document, offset, "NaN and Infinity are not JSON numbers")
    token = number.group()
    return (float(token) if any(c in token for c in ".eE") else int(token)), number.end()
