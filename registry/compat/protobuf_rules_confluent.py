"""Confluent Schema Registry's Protobuf rules (category ``CONFLUENT``, meshgate's default).

They follow ``io.confluent.kafka.schemaregistry.protobuf.diff``: Confluent compares a writer schema
("original") with a reader schema ("update"), so the rules are directional (``CheckContext.writer`` and
``reader``). Ids are Confluent's difference names, so people can look them up there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from registry.compat.protobuf_compile import MAIN_FILE
from registry.compat.protobuf_rule_types import (
    CONFLUENT,
    CheckContext,
    Finding,
    RuleList,
)
from registry.compat.protobuf_schema import (
    SCALAR_NAMES,
    FieldInfo,
    FieldProto,
    FileInfo,
    MessageInfo,
    ProtobufSchema,
)
from registry.compat.protobuf_walk import Pair, field_pairs

RULES = RuleList()
rule = RULES.rule


@rule("PACKAGE_CHANGED", "The package of the schema must not change.", CONFLUENT, "file")
def package_changed(ctx: CheckContext, pair: Pair[FileInfo]):
    if pair.old.package != pair.new.package:
        yield Finding(
            "package",
            f'Package changed from "{pair.old.package}" to "{pair.new.package}": every message changes its '
            "full name, so existing readers and writers no longer match. Keep the old package, or register "
            "the new package under a new subject.",
        )


# -- Messages --


@rule(
    "MESSAGE_REMOVED",
    "Every message of the writer schema must exist (same name) in the reader schema.",
    CONFLUENT,
    "message",
    matched_only=False,
)
def message_removed(ctx: CheckContext, pair: Pair[MessageInfo]):
    writer, reader = ctx.writer(pair), ctx.reader(pair)
    if writer is None or reader is not None or writer.is_map_entry:
        return
    parent = writer.path.rpartition(".")[0]
    reader_schema = ctx.new if ctx.backward else ctx.old
    if parent and not any(m.path == parent for m in reader_schema.messages_in([reader_schema.main])):
        return  # like Confluent: a removed message is reported, not each message nested in it
    if ctx.backward:
        advice = "Keep the message (mark it deprecated), or restore its old name."
    else:
        advice = "Old readers do not know this message: add it in a version that readers get first."
    yield Finding(
        writer.path,
        f'Message "{writer.path}" is in the {ctx.writer_label} schema but not in the {ctx.reader_label} '
        f"one (removed or renamed). {advice}",
    )


def _writer_and_reader(check):
    """A message check on (writer, reader), run as a rule on a matched pair.

    Map entries are skipped: the field rules compare maps as a whole.
    """

    @functools.wraps(check)
    def on_pair(ctx: CheckContext, pair: Pair[MessageInfo]) -> Iterable[Finding]:
        if pair.old.is_map_entry or pair.new.is_map_entry:
            return ()
        return check(ctx, ctx.writer(pair), ctx.reader(pair))

    return on_pair


def _required_absent(having: MessageInfo, lacking: MessageInfo) -> list[FieldInfo]:
    """The required fields of ``having`` whose numbers ``lacking`` does not have."""
    return [having.fields[n] for n in sorted(having.required_numbers) if n not in lacking.fields]


@rule(
    "REQUIRED_FIELD_ADDED",
    "The reader schema must not require a field the writer schema does not have (proto2 required).",
    CONFLUENT,
    "message",
)
@_writer_and_reader
def required_field_added(ctx: CheckContext, writer: MessageInfo, reader: MessageInfo):
    for field in _required_absent(reader, writer):
        yield Finding(
            field.path,
            f"{field.description} is required in the {ctx.reader_label} schema but absent from the "
            f"{ctx.writer_label} one: readers reject data without it. Make it optional.",
        )


@rule(
    "REQUIRED_FIELD_REMOVED",
    "A required field of the writer schema must stay in the reader schema (proto2 required).",
    CONFLUENT,
    "message",
)
@_writer_and_reader
def required_field_removed(ctx: CheckContext, writer: MessageInfo, reader: MessageInfo):
    for field in _required_absent(writer, reader):
        yield Finding(
            field.path,
            f"{field.description} is required in the {ctx.writer_label} schema but absent from the "
            f"{ctx.reader_label} one: data written without it is rejected by readers that still "
            "require it. Keep the field.",
        )


@rule(
    "ONEOF_FIELD_REMOVED",
    "A field of a oneof must not disappear from the message (a reader could see an empty oneof).",
    CONFLUENT,
    "message",
)
@_writer_and_reader
def oneof_field_removed(ctx: CheckContext, writer: MessageInfo, reader: MessageInfo):
    reader_oneofs = reader.oneof_members
    for oneof, numbers in sorted(writer.oneof_members.items()):
        if oneof not in reader_oneofs:
            continue
        for number in sorted(numbers - reader_oneofs[oneof]):
            if number not in reader.fields:
                field = writer.fields[number]
                yield Finding(
                    f"{writer.path}.{oneof}",
                    f'{field.description} in oneof "{oneof}" is in the {ctx.writer_label} schema but not '
                    f"in the {ctx.reader_label} one: a value set there is lost. Keep the field in the oneof.",
                )


def _moved_into_oneofs(
    writer: MessageInfo, reader: MessageInfo
) -> Iterable[tuple[str, list[int], list[int]]]:
    """For each oneof of the reader: fields that were plain fields, and fields that were in a oneof."""
    for oneof, numbers in sorted(reader.oneof_members.items()):
        moved = sorted(n for n in numbers if n in writer.fields and writer.fields[n].oneof is None)
        existing = sorted(n for n in numbers if n in writer.fields and writer.fields[n].oneof is not None)
        yield oneof, moved, existing


@rule(
    "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
    "At most one existing field may move into a oneof (data with several set would lose all but one).",
    CONFLUENT,
    "message",
)
@_writer_and_reader
def multiple_fields_moved_to_oneof(ctx: CheckContext, writer: MessageInfo, reader: MessageInfo):
    for oneof, moved, _ in _moved_into_oneofs(writer, reader):
        if len(moved) > 1:
            names = ", ".join(f'"{writer.fields[n].name}" ({n})' for n in moved)
            yield Finding(
                f"{reader.path}.{oneof}",
                f'Fields {names} of message "{reader.path}" are separate in the {ctx.writer_label} schema but '
                f'share oneof "{oneof}" in the {ctx.reader_label} one: data with several set keeps only one. '
                "Move at most one existing field into a new oneof.",
            )


@rule(
    "FIELD_MOVED_TO_EXISTING_ONEOF",
    "An existing field must not move into a oneof that already existed.",
    CONFLUENT,
    "message",
)
@_writer_and_reader
def field_moved_to_existing_oneof(ctx: CheckContext, writer: MessageInfo, reader: MessageInfo):
    for oneof, moved, existing in _moved_into_oneofs(writer, reader):
        if len(moved) == 1 and existing:
            field = writer.fields[moved[0]]
            yield Finding(
                f"{reader.path}.{oneof}",
                f'{field.description} joins oneof "{oneof}", which already had members: data that set it and '
                "a member keeps only one. Add a new field instead.",
            )


# -- Fields: kind, scalar wire group, named type, numeric label --

_CONFLUENT_SCALAR_GROUP = {
    "int32": "varint",
    "int64": "varint",
    "uint32": "varint",
    "uint64": "varint",
    "bool": "varint",
    "enum": "varint",
    "sint32": "zigzag",
    "sint64": "zigzag",
    "string": "length-delimited",
    "bytes": "length-delimited",
    "fixed32": "fixed32",
    "sfixed32": "fixed32",
    "fixed64": "fixed64",
    "sfixed64": "fixed64",
    "float": "float",
    "double": "double",
}


@dataclass(frozen=True)
class _ConfluentType:
    kind: str  # "scalar" (enums included), "message", "map"
    display: str  # what a person reads: "int64", "Money", "map<string, int32>"
    group: str = ""  # scalar wire group
    local_name: str = ""  # message name relative to its package
    key: _ConfluentType | None = None
    value: _ConfluentType | None = None
    message: MessageInfo | None = None


def _confluent_type(field: FieldInfo, schema: ProtobufSchema) -> _ConfluentType:
    if field.type == FieldProto.TYPE_ENUM:
        return _ConfluentType("scalar", field.type_name.rpartition(".")[2], "varint")
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_GROUP):
        message = schema.messages.get(field.type_name)
        if message is not None and message.is_map_entry:
            key = _confluent_type(message.fields[1], schema)
            value = _confluent_type(message.fields[2], schema)
            return _ConfluentType("map", f"map<{key.display}, {value.display}>", key=key, value=value)
        local = message.path if message is not None else field.type_name
        return _ConfluentType("message", local, local_name=local, message=message)
    name = SCALAR_NAMES[field.type]
    return _ConfluentType("scalar", name, _CONFLUENT_SCALAR_GROUP[name])


def _confluent_label(field: FieldInfo) -> int | None:
    """The label as Confluent's parser sees it: proto3 fields without a label have none."""
    proto = field.proto
    if field.message.file.syntax == "proto3" and proto.label == FieldProto.LABEL_OPTIONAL:
        return FieldProto.LABEL_OPTIONAL if proto.proto3_optional else None
    return proto.label


def _type_differences(
    ctx: CheckContext, old: _ConfluentType, new: _ConfluentType, visiting: frozenset
) -> Iterable[tuple[str, str, str, str | None]]:
    """(rule id, old display, new display, cause) per incompatible difference, maps compared inside.

    ``cause`` is set when a message type kept its name but its definition in an imported file changed
    incompatibly (Confluent compares referenced types whose subject version changed).
    """
    if old.kind != new.kind:
        yield "FIELD_KIND_CHANGED", old.display, new.display, None
    elif old.kind == "scalar" and old.group != new.group:
        yield "FIELD_SCALAR_KIND_CHANGED", old.display, new.display, None
    elif old.kind == "message" and old.local_name != new.local_name:
        yield "FIELD_NAMED_TYPE_CHANGED", old.display, new.display, None
    elif old.kind == "message" and old.message is not None and new.message is not None:
        cause = _imported_message_break(ctx, Pair(old.message, new.message), visiting)
        if cause is not None:
            where = f"its definition in {new.message.file.name} changed incompatibly: {cause.message}"
            yield "FIELD_NAMED_TYPE_CHANGED", old.display, new.display, where
    elif old.kind == "map":
        yield from _type_differences(ctx, old.key, new.key, visiting)
        yield from _type_differences(ctx, old.value, new.value, visiting)


def _imported_message_break(
    ctx: CheckContext, pair: Pair[MessageInfo], visiting: frozenset
) -> Finding | None:
    """The first Confluent finding inside an imported message type whose definition changed."""
    if MAIN_FILE in (pair.old.file.name, pair.new.file.name) or pair.old.proto == pair.new.proto:
        return None  # the main file's messages are paired by the walker itself
    key = (pair.old.full_name, pair.new.full_name)
    if key in visiting:
        return None  # recursive types: this pair is already being compared further up
    visiting = visiting | {key}
    for check in _CONFLUENT_MESSAGE_CHECKS:
        for finding in check(ctx, pair):
            return finding
    for field_pair in field_pairs(pair):
        for rule_id in _CONFLUENT_TYPE_ADVICE:
            for finding in _confluent_field_findings(ctx, field_pair, rule_id, visiting):
                return finding
        for finding in field_numeric_label_changed(ctx, field_pair):
            return finding
    return None


def _confluent_field_findings(
    ctx: CheckContext, pair: Pair[FieldInfo], rule_id: str, visiting: frozenset = frozenset()
) -> Iterable[Finding]:
    if pair.old.message.is_map_entry or pair.new.message.is_map_entry:
        return
    old_type, new_type = _confluent_type(pair.old, ctx.old), _confluent_type(pair.new, ctx.new)
    for found, old_display, new_display, cause in _type_differences(ctx, old_type, new_type, visiting):
        if found != rule_id:
            continue
        if cause is None:
            change = (
                f'changed type from "{old_display}" to "{new_display}", {_CONFLUENT_TYPE_ADVICE[rule_id]} '
                "Keep the old type and add a new field with a new number."
            )
        else:
            change = f'keeps type "{new_display}", but {cause}'
        yield Finding(pair.new.path, f"{pair.new.description} {change}")


_CONFLUENT_TYPE_ADVICE = {
    "FIELD_KIND_CHANGED": "a different kind (scalar, message or map) that readers cannot decode.",
    "FIELD_SCALAR_KIND_CHANGED": "which is encoded differently on the wire.",
    "FIELD_NAMED_TYPE_CHANGED": "a different message type.",
}


@rule(
    "FIELD_KIND_CHANGED", "A field must keep its kind: scalar (or enum), message or map.", CONFLUENT, "field"
)
def field_kind_changed(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _confluent_field_findings(ctx, pair, "FIELD_KIND_CHANGED")


@rule(
    "FIELD_SCALAR_KIND_CHANGED",
    "A scalar field must stay in its wire group (int32/int64/uint32/uint64/bool/enum, sint32/sint64, "
    "string/bytes, fixed32/sfixed32, fixed64/sfixed64, float, double).",
    CONFLUENT,
    "field",
)
def field_scalar_kind_changed(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _confluent_field_findings(ctx, pair, "FIELD_SCALAR_KIND_CHANGED")


@rule(
    "FIELD_NAMED_TYPE_CHANGED",
    "A message-typed field must keep its message type (same name relative to the package).",
    CONFLUENT,
    "field",
)
def field_named_type_changed(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _confluent_field_findings(ctx, pair, "FIELD_NAMED_TYPE_CHANGED")


@rule(
    "FIELD_NUMERIC_LABEL_CHANGED",
    "A numeric field must keep its label (optional, required or repeated) where both sides declare one.",
    CONFLUENT,
    "field",
)
def field_numeric_label_changed(ctx: CheckContext, pair: Pair[FieldInfo]):
    if pair.old.message.is_map_entry or pair.new.message.is_map_entry:
        return
    old_type, new_type = _confluent_type(pair.old, ctx.old), _confluent_type(pair.new, ctx.new)
    if old_type.kind != "scalar" or new_type.kind != "scalar" or old_type.group != new_type.group:
        return
    if old_type.group == "length-delimited":
        return  # string and bytes may change label: Confluent allows it
    old_label, new_label = _confluent_label(pair.old), _confluent_label(pair.new)
    if old_label is not None and new_label is not None and old_label != new_label:
        yield Finding(
            pair.new.path,
            f'{pair.new.description} changed label from "{_LABELS[old_label]}" to "{_LABELS[new_label]}": '
            "packed repeated numbers do not decode as a single value. Keep the label and add a new field.",
        )


_LABELS = {
    FieldProto.LABEL_OPTIONAL: "optional",
    FieldProto.LABEL_REQUIRED: "required",
    FieldProto.LABEL_REPEATED: "repeated",
}


_CONFLUENT_MESSAGE_CHECKS = (
    required_field_added,
    required_field_removed,
    oneof_field_removed,
    multiple_fields_moved_to_oneof,
    field_moved_to_existing_oneof,
)
