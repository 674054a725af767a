"""Checks of the arguments every service call validates before it touches the store."""

from __future__ import annotations

from registry.compat import DEFAULT_FORMAT, MAX_SCHEMA_BYTES, Level, SchemaFormat, get_format
from registry.errors import InvalidArgument, InvalidCompatibilityLevel, PayloadTooLarge
from registry.limits import check_schema_text
from registry.limits import check_subject as check_subject_name


def check_subject(subject: str) -> None:
    """A subject name of the one grammar (``registry.limits.SUBJECT_GRAMMAR``)."""
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidArgument("subject: required")
    check_subject_name(subject)


def check_size(text: str, what: str) -> None:
    """``text`` is given, at most ``MAX_SCHEMA_BYTES`` of UTF-8, well-formed, and within the text
    limits (nesting depth, number literals): checked before any parser sees it."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument(f"{what}: required")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCHEMA_BYTES:
        raise PayloadTooLarge(f"{what}: {size} bytes is over the limit of {MAX_SCHEMA_BYTES} bytes")
    check_schema_text(text, what)


def check_schema_id(schema_id: int) -> int:
    if isinstance(schema_id, bool) or not isinstance(schema_id, int) or schema_id < 1:
        raise InvalidArgument(f"schema id: {schema_id!r} is not a positive integer")
    return schema_id


def schema_format(name: str) -> SchemaFormat:
    """The format object by name (empty: ``DEFAULT_FORMAT``); an unknown name is the caller's
    ``InvalidArgument``."""
    try:
        return get_format(name or DEFAULT_FORMAT)
    except ValueError as exc:
        raise InvalidArgument(f"format: {exc}") from None


def parse_level(level: Level | str) -> Level:
    if isinstance(level, Level):
        return level
    try:
        return Level.parse(str(level))
    except ValueError as exc:
        raise InvalidCompatibilityLevel(f"compatibility: {exc}") from None
