"""The keywords of a JSON Schema contract checked on JSON Lines: what its types alone cannot say.

The Arrow fast path types each line by the contract's neutral field tree (types, required, enums,
formats that become Iceberg types); a JSON Schema says more (``pattern``, bounds, lengths,
``additionalProperties: false``, ``oneOf``, ``dependentRequired``, ``if``/``then``, ...). The lines
are checked against the whole schema by jsonschema-rs, a compiled validator, with format assertions
on; where the schema has Arrow checks (``json_schema_vector``), only the lines those flag
(``benchmarks/gate_json_schema.py`` measures each way, and pure-Python ``jsonschema``). A line the
precise pass already refused is not checked again: it has its reason.

Each error becomes a ``RowViolation`` whose field is the value's JSON pointer and whose rule is the
failing keyword (``pattern``, ``minimum``, ...). Values of PII fields are masked in messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

import jsonschema_rs

from lakehouse.json_schema_vector import VectorCheck, vector_check
from lakehouse.validate import REDACTED, RowViolation, is_pii
from registry.errors import InvalidSchema

_DRAFT_07 = "http://json-schema.org/draft-07/schema#"
"""The dialect of a schema without ``$schema``, as Confluent's JSON Schema support assumes."""


class KeywordCheck:
    """A contract's JSON Schema compiled once per batch, with and without PII masking; ``vector``:
    its Arrow checks, None when every line must go to the validator."""

    def __init__(self, schema_text: str, references: Mapping[str, str], pii: list[str]):
        self._plain = _compiled(schema_text, tuple(references.items()), None)
        self._masked = _compiled(schema_text, tuple(references.items()), REDACTED) if pii else None
        self._pii = pii
        self.vector: VectorCheck | None = _vector(schema_text)

    def violations(self, row: int, offset: int, record: dict) -> list[RowViolation]:
        """Every keyword the record breaks, in the validator's order; [] when it conforms."""
        try:
            return self._violations(row, offset, record)
        except UnicodeEncodeError:  # invalid UTF-8 kept as lone surrogates: the validator takes text only
            return self._violations(row, offset, _replaced(record))

    def _violations(self, row: int, offset: int, record: dict) -> list[RowViolation]:
        if self._plain.is_valid(record):
            return []
        found = []
        errors = (
            zip(self._plain.iter_errors(record), self._masked.iter_errors(record), strict=True)
            if self._masked
            else ((error, None) for error in self._plain.iter_errors(record))
        )
        for error, masked in errors:
            pointer = "/" + "/".join(_escape(part) for part in error.instance_path)
            keyword = _keyword(error.schema_path)
            private = is_pii(_dotted(error.instance_path), self._pii) or _names_pii(error, self._pii)
            message = (masked or error).message if private else error.message
            shown = REDACTED if private else _shown(error.instance)
            found.append(
                RowViolation(row, pointer, keyword, shown, f"{pointer} ({keyword}): {message}", offset)
            )
        return found


def keyword_check(contract, references: Mapping[str, str], pii: list[str]) -> KeywordCheck | None:
    """The check of a JSON Schema contract; None for the other formats (their types say it all)."""
    if contract.format != "JSON":
        return None
    return KeywordCheck(contract.schema, references, pii)


@lru_cache(maxsize=32)
def _compiled(schema_text: str, references: tuple, mask: str | None):
    schema = json.loads(schema_text)
    known = {name: json.loads(text) for name, text in references}

    def retrieve(uri: str):
        if uri in known:
            return known[uri]
        raise InvalidSchema(f"$ref {uri!r} names no reference of the contract")

    if isinstance(schema, dict) and "$schema" not in schema:
        schema = {"$schema": _DRAFT_07, **schema}
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=retrieve, mask=mask)
    except (ValueError, jsonschema_rs.ValidationError) as exc:
        raise InvalidSchema(f"the contract's JSON Schema cannot be compiled: {exc}") from None


@lru_cache(maxsize=32)
def _vector(schema_text: str) -> VectorCheck | None:
    return vector_check(json.loads(schema_text))


def _keyword(schema_path) -> str:
    """The failing keyword: the last name of the schema path (array indexes skipped)."""
    for part in reversed(list(schema_path)):
        if isinstance(part, str):
            return part
    return "schema"


def _dotted(instance_path) -> str:
    """The gate's field path (``page.url``, ``items[].sku``) of a JSON pointer's parts."""
    parts: list[str] = []
    for part in instance_path:
        if isinstance(part, int):
            if parts:
                parts[-1] += "[]"
        else:
            parts.append(part)
    return ".".join(parts)


def _names_pii(error, pii: list[str]) -> bool:
    """An error on an object (``required``, ``additionalProperties``) may quote a PII member's value."""
    prefix = _dotted(error.instance_path)
    return isinstance(error.instance, dict) and any(
        is_pii(f"{prefix}.{name}" if prefix else name, pii) for name in error.instance
    )


def _escape(part) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _shown(value) -> str:
    """The value as the line sent it: a fraction is a ``Decimal`` (``parse_json_line``)."""
    if isinstance(value, str | Decimal):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


def _replaced(value):
    """``value`` with each invalid UTF-8 byte (a lone surrogate of ``parse_json_line``) as U+FFFD: the
    keywords judge the line as the validator can read it; the decoder refuses the bytes where a
    contract field reads them."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_replaced(key): _replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    return value
