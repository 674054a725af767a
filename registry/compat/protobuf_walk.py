"""The pairing walker: old and new side by side, each matched pair handed to the rules.

Rules never walk trees themselves (buf's model): they receive a file pair, a message pair, a field
pair (matched by number), an enum pair or an enum value pair (matched by number) and look only at it.
Messages and enums are matched by name: by full name for buf's rule sets (a package change unpairs
everything, and FILE_SAME_PACKAGE says why), by name relative to the package for Confluent's (which
reports PACKAGE_CHANGED once and still compares the messages).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from registry.compat.lru import shared
from registry.compat.protobuf_schema import (
    EnumInfo,
    FieldInfo,
    FieldProto,
    FileInfo,
    MessageInfo,
    ProtobufSchema,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Pair(Generic[T]):
    """The same element in the old and the new schema; one side is None when it exists on one only."""

    old: T | None
    new: T | None


@dataclass(frozen=True)
class EnumValuePair:
    """The names an enum value number has in the old and the new enum (aliases give several)."""

    enum: Pair[EnumInfo]
    number: int
    old_names: list[str]
    new_names: list[str]


@dataclass(frozen=True)
class Scope:
    """What a rule set compares: which files, and how messages and enums are matched."""

    main_file_only: bool  # Confluent: the subject's own file; buf: the file and its references
    match_by_full_name: bool


CONFLUENT_SCOPE = Scope(main_file_only=True, match_by_full_name=False)
BUF_SCOPE = Scope(main_file_only=False, match_by_full_name=True)


def file_pairs(old: ProtobufSchema, new: ProtobufSchema, scope: Scope) -> Iterator[Pair[FileInfo]]:
    yield Pair(old.main, new.main)
    if scope.main_file_only:
        return
    new_files = {f.name: f for f in new.user_files()}
    for file in old.user_files():
        if file is not old.main and file.name in new_files:
            yield Pair(file, new_files[file.name])


def message_pairs(old: ProtobufSchema, new: ProtobufSchema, scope: Scope) -> Iterator[Pair[MessageInfo]]:
    """Every message on either side, matched by name; unmatched ones paired with None."""
    yield from _pair_by_name(_keyed(old, scope, "message"), _keyed(new, scope, "message"))


def enum_pairs(old: ProtobufSchema, new: ProtobufSchema, scope: Scope) -> Iterator[Pair[EnumInfo]]:
    yield from _pair_by_name(_keyed(old, scope, "enum"), _keyed(new, scope, "enum"))


def field_pairs(messages: Pair[MessageInfo]) -> Iterator[Pair[FieldInfo]]:
    """Fields of a matched message pair that exist on both sides with the same number.

    Pairs that provably cannot break any rule are skipped: checking a 300-field message against 100
    versions is mostly comparing unchanged fields. Which those are is one set difference of the two
    messages' ``_settled`` keys, computed once per parsed message (parsed schemas are cached).
    """
    assert messages.old is not None and messages.new is not None
    old, new = messages.old, messages.new
    old_settled, old_unsettled = _settled(old)
    changed = {number for number, _ in old_settled - _settled(new)[0]}
    for number in sorted(changed.union(old_unsettled)):
        new_field = new.fields.get(number)
        if new_field is not None:
            yield Pair(old.fields[number], new_field)


_SETTLED: weakref.WeakKeyDictionary[MessageInfo, tuple[frozenset[tuple[int, tuple]], frozenset[int]]] = (
    weakref.WeakKeyDictionary()
)


def _settled(message: MessageInfo) -> tuple[frozenset[tuple[int, tuple]], frozenset[int]]:
    """``(number, key)`` of the message's fields whose meaning lives in the field itself (``_key``),
    and the numbers of the others (always checked). Kept with the parsed message, so comparing two
    messages is one set difference of hashes computed once."""
    settled = _SETTLED.get(message)
    if settled is None:
        keys = [(number, _key(field_info)) for number, field_info in message.fields.items()]
        settled = (
            frozenset(shared((number, key)) for number, key in keys if key is not None),
            frozenset(number for number, key in keys if key is None),
        )
        _SETTLED[message] = settled
    return settled


def _key(field_info: FieldInfo) -> tuple | None:
    """The field's descriptor and oneof: equal keys on both sides mean no rule can find anything.

    None (always checked) where the meaning depends on other elements: enum-typed fields (their
    default is the enum's first value), repeated message fields (a map's key and value types live in
    its entry message) and fields typed by another file's message (Confluent compares an imported
    type that changed).
    """
    if field_info.type == FieldProto.TYPE_ENUM:
        return None
    if field_info.type == FieldProto.TYPE_MESSAGE and (
        field_info.is_repeated or field_info.type_file != field_info.message.file.name
    ):
        return None
    return field_info.proto.SerializeToString(deterministic=True), field_info.oneof


def enum_value_pairs(enums: Pair[EnumInfo]) -> Iterator[EnumValuePair]:
    """Enum value numbers present on both sides of a matched enum pair."""
    assert enums.old is not None and enums.new is not None
    old_names = enums.old.names_by_number()
    new_names = enums.new.names_by_number()
    for number in sorted(old_names):
        if number in new_names:
            yield EnumValuePair(enums, number, old_names[number], new_names[number])


def _files(schema: ProtobufSchema, scope: Scope) -> list[FileInfo]:
    return [schema.main] if scope.main_file_only else schema.user_files()


_KEYED: weakref.WeakKeyDictionary[ProtobufSchema, dict[tuple, dict]] = weakref.WeakKeyDictionary()


def _keyed(schema: ProtobufSchema, scope: Scope, kind: str) -> dict:
    """The schema's messages (or enums) in ``scope`` by the name they are matched by, in order;
    once per parsed schema and scope."""
    by_scope = _KEYED.get(schema)
    if by_scope is None:
        by_scope = _KEYED[schema] = {}
    keyed = by_scope.get((scope, kind))
    if keyed is None:
        files = _files(schema, scope)
        elements = schema.messages_in(files) if kind == "message" else schema.enums_in(files)
        keyed = {_match_key(element, scope): element for element in elements}
        by_scope[(scope, kind)] = keyed
    return keyed


def _match_key(element, scope: Scope) -> str:
    return element.full_name if scope.match_by_full_name else f"{element.file.name}:{element.path}"


def _pair_by_name(olds: dict, news: dict) -> Iterator[Pair]:
    for key, element in olds.items():
        yield Pair(element, news.get(key))
    for key, element in news.items():
        if key not in olds:
            yield Pair(None, element)
