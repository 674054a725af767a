"""The Protobuf rule table: small named checks with stable ids and categories.

Categories: ``CONFLUENT`` (the default: Confluent Schema Registry's Protobuf semantics, directional),
``WIRE`` and ``WIRE_JSON`` (buf's breaking categories of those names: evolution rules, the same in
both directions). Each check receives one matched pair from the walker and returns findings.
Rule ids follow buf's ids for the buf rules and Confluent's difference names for the Confluent ones,
so people can look them up there.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from registry.compat import Direction, Rule
from registry.compat.protobuf_compile import MAIN_FILE
from registry.compat.protobuf_schema import (
    SCALAR_NAMES,
    FieldInfo,
    FieldProto,
    FileInfo,
    MessageInfo,
    ProtobufSchema,
)
from registry.compat.protobuf_walk import EnumValuePair, Pair, field_pairs

CONFLUENT = ("CONFLUENT",)
WIRE_AND_JSON = ("WIRE", "WIRE_JSON")
WIRE_ONLY = ("WIRE",)
JSON_ONLY = ("WIRE_JSON",)


@dataclass(frozen=True)
class Finding:
    path: str  # element path relative to the package, e.g. "UserSignedUp.user_id"
    message: str
    file_name: str | None = None  # the file of the element in the new schema (None: the main file)


@dataclass(frozen=True)
class CheckContext:
    old: ProtobufSchema
    new: ProtobufSchema
    direction: Direction

    @property
    def backward(self) -> bool:
        return self.direction is Direction.BACKWARD

    def writer(self, pair: Pair):
        """Confluent compares a writer (original) with a reader (update): BACKWARD old->new, FORWARD new->old."""
        return pair.old if self.backward else pair.new

    def reader(self, pair: Pair):
        return pair.new if self.backward else pair.old

    @property
    def writer_label(self) -> str:
        return "old" if self.backward else "new"

    @property
    def reader_label(self) -> str:
        return "new" if self.backward else "old"


@dataclass(frozen=True)
class ProtoRule:
    rule: Rule
    target: str  # "file", "message", "field", "enum", "enum_value"
    check: Callable[[CheckContext, object], Iterable[Finding]]
    matched_only: bool = True  # False: also receives message/enum pairs with one side missing


PROTO_RULES: dict[str, ProtoRule] = {}


def rule(rule_id: str, description: str, categories: tuple[str, ...], target: str, matched_only: bool = True):
    def register(check):
        PROTO_RULES[rule_id] = ProtoRule(Rule(rule_id, description, categories), target, check, matched_only)
        return check

    return register


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@rule("PACKAGE_CHANGED", "The package of the schema must not change.", CONFLUENT, "file")
def package_changed(ctx: CheckContext, pair: Pair[FileInfo]):
    if pair.old.package != pair.new.package:
        yield Finding(
            "package",
            f'Package changed from "{pair.old.package}" to "{pair.new.package}": every message changes its '
            "full name, so existing readers and writers no longer match. Keep the old package, or register "
            "the new package under a new subject.",
        )


@rule("FILE_SAME_PACKAGE", "Files must keep their package.", WIRE_AND_JSON, "file")
def file_same_package(ctx: CheckContext, pair: Pair[FileInfo]):
    if pair.old.package != pair.new.package:
        yield Finding(
            "package",
            f'File package changed from "{pair.old.package}" to "{pair.new.package}". Keep the old package; '
            "put new types in a new file or subject.",
            pair.new.name,
        )


@rule(
    "FILE_SAME_SYNTAX",
    "Files must keep their syntax (proto2 and proto3 differ in field presence and enum openness).",
    WIRE_AND_JSON,
    "file",
)
def file_same_syntax(ctx: CheckContext, pair: Pair[FileInfo]):
    if pair.old.syntax != pair.new.syntax:
        yield Finding(
            "syntax",
            f'File syntax changed from "{pair.old.syntax}" to "{pair.new.syntax}": field presence, '
            "defaults and enum handling change meaning. Keep the old syntax.",
            pair.new.name,
        )


# ---------------------------------------------------------------------------------------------
# Messages (Confluent)
# ---------------------------------------------------------------------------------------------


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


def _confluent_message(ctx: CheckContext, pair: Pair[MessageInfo]) -> tuple[MessageInfo, MessageInfo] | None:
    if pair.old.is_map_entry or pair.new.is_map_entry:
        return None
    return ctx.writer(pair), ctx.reader(pair)


@rule(
    "REQUIRED_FIELD_ADDED",
    "The reader schema must not require a field the writer schema does not have (proto2 required).",
    CONFLUENT,
    "message",
)
def required_field_added(ctx: CheckContext, pair: Pair[MessageInfo]):
    sides = _confluent_message(ctx, pair)
    if sides is None:
        return
    writer, reader = sides
    for number, field in sorted(reader.fields.items()):
        if field.is_required and number not in writer.fields:
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
def required_field_removed(ctx: CheckContext, pair: Pair[MessageInfo]):
    sides = _confluent_message(ctx, pair)
    if sides is None:
        return
    writer, reader = sides
    for number, field in sorted(writer.fields.items()):
        if field.is_required and number not in reader.fields:
            yield Finding(
                field.path,
                f"{field.description} is required in the {ctx.writer_label} schema but absent from the "
                f"{ctx.reader_label} one: data written without it is rejected by readers that still "
                "require it. Keep the field.",
            )


def _oneof_members(message: MessageInfo) -> dict[str, set[int]]:
    members: dict[str, set[int]] = {}
    for number, field in message.fields.items():
        if field.oneof is not None:
            members.setdefault(field.oneof, set()).add(number)
    return members


@rule(
    "ONEOF_FIELD_REMOVED",
    "A field of a oneof must not disappear from the message (a reader could see an empty oneof).",
    CONFLUENT,
    "message",
)
def oneof_field_removed(ctx: CheckContext, pair: Pair[MessageInfo]):
    sides = _confluent_message(ctx, pair)
    if sides is None:
        return
    writer, reader = sides
    reader_oneofs = _oneof_members(reader)
    for oneof, numbers in sorted(_oneof_members(writer).items()):
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
    for oneof, numbers in sorted(_oneof_members(reader).items()):
        moved = sorted(n for n in numbers if n in writer.fields and writer.fields[n].oneof is None)
        existing = sorted(n for n in numbers if n in writer.fields and writer.fields[n].oneof is not None)
        yield oneof, moved, existing


@rule(
    "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
    "At most one existing field may move into a oneof (data with several set would lose all but one).",
    CONFLUENT,
    "message",
)
def multiple_fields_moved_to_oneof(ctx: CheckContext, pair: Pair[MessageInfo]):
    sides = _confluent_message(ctx, pair)
    if sides is None:
        return
    writer, reader = sides
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
def field_moved_to_existing_oneof(ctx: CheckContext, pair: Pair[MessageInfo]):
    sides = _confluent_message(ctx, pair)
    if sides is None:
        return
    writer, reader = sides
    for oneof, moved, existing in _moved_into_oneofs(writer, reader):
        if len(moved) == 1 and existing:
            field = writer.fields[moved[0]]
            yield Finding(
                f"{reader.path}.{oneof}",
                f'{field.description} joins oneof "{oneof}", which already had members: data that set it and '
                "a member keeps only one. Add a new field instead.",
            )


# ---------------------------------------------------------------------------------------------
# Fields (Confluent): kind, scalar wire group, named type, numeric label
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Messages (buf WIRE / WIRE_JSON)
# ---------------------------------------------------------------------------------------------


def _deleted_fields(pair: Pair[MessageInfo]) -> list[FieldInfo]:
    return [f for n, f in sorted(pair.old.fields.items()) if n not in pair.new.fields]


@rule(
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "A deleted field must have its number reserved.",
    WIRE_AND_JSON,
    "message",
)
def field_no_delete_unless_number_reserved(ctx: CheckContext, pair: Pair[MessageInfo]):
    for field in _deleted_fields(pair):
        if not pair.new.number_reserved(field.number):
            yield Finding(
                field.path,
                f'{field.description} was deleted without reserving the number "{field.number}": a later '
                f'field could reuse it with another meaning. Add "reserved {field.number};" to the message.',
                pair.new.file.name,
            )


@rule(
    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
    "A deleted field must have its name reserved (JSON uses names).",
    JSON_ONLY,
    "message",
)
def field_no_delete_unless_name_reserved(ctx: CheckContext, pair: Pair[MessageInfo]):
    for field in _deleted_fields(pair):
        if field.name not in pair.new.reserved_names:
            yield Finding(
                field.path,
                f'{field.description} was deleted without reserving the name "{field.name}": JSON data still '
                f"carrying it would fail or be misread. Add 'reserved \"{field.name}\";' to the message.",
                pair.new.file.name,
            )


@rule(
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "Messages must not gain or lose required fields (proto2 required).",
    WIRE_AND_JSON,
    "message",
)
def message_same_required_fields(ctx: CheckContext, pair: Pair[MessageInfo]):
    old_required = {n for n, f in pair.old.fields.items() if f.is_required}
    new_required = {n for n, f in pair.new.fields.items() if f.is_required}
    for number in sorted(old_required - new_required):
        field = pair.old.fields[number]
        yield Finding(
            field.path,
            f'Message "{pair.new.path}" had required field "{number}" ("{field.name}") deleted or made '
            "non-required: readers that still require it reject data without it. Keep it required.",
            pair.new.file.name,
        )
    for number in sorted(new_required - old_required):
        field = pair.new.fields[number]
        yield Finding(
            field.path,
            f'Message "{pair.new.path}" had required field "{number}" ("{field.name}") added: data from '
            "writers that do not know it is rejected. Make it optional.",
            pair.new.file.name,
        )


def _range_text(start: int, end: int) -> str:
    return str(start) if start == end else f"{start} to {end}"


def _reserved_deleted(kind: str, old, new) -> Iterable[Finding]:
    new_ranges = set(new.reserved_ranges())
    for start, end in old.reserved_ranges():
        if (start, end) not in new_ranges:
            yield Finding(
                new.path,
                f'Previously reserved range "{_range_text(start, end)}" on {kind} "{new.path}" was deleted: '
                "those numbers could be reused with another meaning. Keep the reservation.",
                new.file.name,
            )
    new_names = set(_reserved_names(new))
    for name in _reserved_names(old):
        if name not in new_names:
            yield Finding(
                new.path,
                f'Previously reserved name "{name}" on {kind} "{new.path}" was deleted. Keep the reservation.',
                new.file.name,
            )


def _reserved_names(element) -> list[str]:
    return list(element.proto.reserved_name)


@rule(
    "RESERVED_MESSAGE_NO_DELETE",
    "Reserved numbers and names must not be removed from a message.",
    WIRE_AND_JSON,
    "message",
)
def reserved_message_no_delete(ctx: CheckContext, pair: Pair[MessageInfo]):
    return _reserved_deleted("message", pair.old, pair.new)


# ---------------------------------------------------------------------------------------------
# Fields (buf WIRE / WIRE_JSON)
# ---------------------------------------------------------------------------------------------

_WIRE_GROUP = {
    "int32": 1, "int64": 1, "uint32": 1, "uint64": 1, "bool": 1,
    "sint32": 2, "sint64": 2,
    "string": 3, "bytes": 4,
    "fixed32": 5, "sfixed32": 5,
    "fixed64": 6, "sfixed64": 6,
    "double": 7, "float": 8, "group": 9, "message": 10, "enum": 11,
}  # fmt: skip
_WIRE_JSON_GROUP = {
    "int32": 1, "uint32": 1,
    "int64": 2, "uint64": 2,
    "fixed32": 3, "sfixed32": 3,
    "fixed64": 4, "sfixed64": 4,
    "bool": 5, "sint32": 6, "sint64": 7, "string": 8, "bytes": 9,
    "double": 10, "float": 11, "group": 12, "message": 13, "enum": 14,
}  # fmt: skip


def _type_display(field: FieldInfo) -> str:
    return field.type_name if field.type_name else SCALAR_NAMES[field.type]


def _compatible_type_findings(ctx: CheckContext, pair: Pair[FieldInfo], groups: dict[str, int], json: bool):
    old, new = pair.old, pair.new
    old_kind, new_kind = SCALAR_NAMES[old.type], SCALAR_NAMES[new.type]
    if groups[old_kind] != groups[new_kind]:
        if not json and old_kind == "string" and new_kind == "bytes":
            return  # string to bytes is wire-compatible; bytes to string is not (not all bytes are UTF-8)
        what = "wire and JSON" if json else "wire"
        yield Finding(
            new.path,
            f'{new.description} changed type from "{_type_display(old)}" to "{_type_display(new)}", which is '
            f"not {what} compatible. Keep the old type and add a new field with a new number.",
            new.message.file.name,
        )
        return
    if old.type_name == new.type_name:
        return
    if new_kind == "enum" and _enum_still_compatible(ctx, old, new):
        return
    yield Finding(
        new.path,
        f'{new.description} changed type from "{old.type_name}" to "{new.type_name}". Keep the old type and '
        "add a new field with a new number.",
        new.message.file.name,
    )


def _enum_still_compatible(ctx: CheckContext, old: FieldInfo, new: FieldInfo) -> bool:
    """buf allows swapping an enum for one of the same short name that keeps every old value."""
    old_enum, new_enum = ctx.old.enums.get(old.type_name), ctx.new.enums.get(new.type_name)
    if old_enum is None or new_enum is None or old_enum.name != new_enum.name:
        return False
    new_values = {(v.name, v.number) for v in new_enum.values}
    return all((v.name, v.number) in new_values for v in old_enum.values)


@rule("FIELD_WIRE_COMPATIBLE_TYPE", "Fields must keep a wire-compatible type.", WIRE_ONLY, "field")
def field_wire_compatible_type(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _compatible_type_findings(ctx, pair, _WIRE_GROUP, json=False)


@rule(
    "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
    "Fields must keep a wire- and JSON-compatible type.",
    JSON_ONLY,
    "field",
)
def field_wire_json_compatible_type(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _compatible_type_findings(ctx, pair, _WIRE_JSON_GROUP, json=True)


def _cardinality(field: FieldInfo, schema: ProtobufSchema) -> str:
    if field.is_repeated:
        target = schema.messages.get(field.type_name) if field.type_name else None
        return "map" if target is not None and target.is_map_entry else "repeated"
    if field.is_required:
        return "required"
    return "optional"  # explicit or implicit presence: the same on the wire and in JSON


def _cardinality_findings(ctx: CheckContext, pair: Pair[FieldInfo], map_is_repeated: bool):
    if pair.old.message.is_map_entry and pair.new.message.is_map_entry:
        return
    old, new = _cardinality(pair.old, ctx.old), _cardinality(pair.new, ctx.new)
    if map_is_repeated:
        same = {old, new} <= {"map", "repeated"} or old == new
    else:
        same = old == new
    if not same:
        yield Finding(
            pair.new.path,
            f'{pair.new.description} changed cardinality from "{old}" to "{new}". Keep the cardinality and '
            "add a new field with a new number.",
            pair.new.message.file.name,
        )


@rule(
    "FIELD_WIRE_COMPATIBLE_CARDINALITY",
    "Fields must keep a wire-compatible cardinality (optional, required, repeated or map).",
    WIRE_ONLY,
    "field",
)
def field_wire_compatible_cardinality(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _cardinality_findings(ctx, pair, map_is_repeated=True)


@rule(
    "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
    "Fields must keep a wire- and JSON-compatible cardinality (maps and repeated differ in JSON).",
    JSON_ONLY,
    "field",
)
def field_wire_json_compatible_cardinality(ctx: CheckContext, pair: Pair[FieldInfo]):
    return _cardinality_findings(ctx, pair, map_is_repeated=False)


@rule("FIELD_SAME_ONEOF", "Fields must stay in (or out of) the same oneof.", WIRE_AND_JSON, "field")
def field_same_oneof(ctx: CheckContext, pair: Pair[FieldInfo]):
    old, new = pair.old.oneof, pair.new.oneof
    if old == new:
        return
    if old is not None and new is not None:
        change = f'moved from oneof "{old}" to oneof "{new}"'
    else:
        change = "moved into a oneof" if new is not None else "moved out of a oneof"
    yield Finding(
        pair.new.path,
        f"{pair.new.description} {change}: setting it now clears (or no longer clears) other fields. Keep "
        "oneof membership and add a new field instead.",
        pair.new.message.file.name,
    )


@rule("FIELD_SAME_NAME", "Fields must keep their name (JSON uses names).", JSON_ONLY, "field")
def field_same_name(ctx: CheckContext, pair: Pair[FieldInfo]):
    if pair.old.name != pair.new.name:
        yield Finding(
            pair.new.path,
            f'Field "{pair.new.number}" on message "{pair.new.message.path}" changed name from '
            f'"{pair.old.name}" to "{pair.new.name}": JSON data uses the name. Keep the old name.',
            pair.new.message.file.name,
        )


@rule("FIELD_SAME_JSON_NAME", "Fields must keep their JSON name.", JSON_ONLY, "field")
def field_same_json_name(ctx: CheckContext, pair: Pair[FieldInfo]):
    if pair.old.json_name != pair.new.json_name:
        yield Finding(
            pair.new.path,
            f'{pair.new.description} changed its JSON name from "{pair.old.json_name}" to '
            f'"{pair.new.json_name}". Keep the old json_name.',
            pair.new.message.file.name,
        )


def _default(field: FieldInfo, schema: ProtobufSchema):
    """The field's default as a comparable value (explicit proto2 default or the type's zero)."""
    kind = SCALAR_NAMES[field.type]
    text = field.proto.default_value
    has = field.proto.HasField("default_value")
    if kind in ("string", "bytes"):
        return text if has else ""
    if kind == "enum":
        enum = schema.enums.get(field.type_name)
        if enum is None or not enum.values:
            return 0
        by_name = {v.name: v.number for v in enum.values}
        return by_name.get(text, 0) if has else enum.values[0].number  # proto2: the first value
    if kind == "bool":
        return 1 if text == "true" else 0
    if not has:
        return 0
    try:
        return int(text)
    except ValueError:
        return float(text)


def _is_zero(value) -> bool:
    return value == "" if isinstance(value, str) else value == 0


def _defaults_equal(old, new, old_kind: str, new_kind: str) -> bool:
    if isinstance(old, str) or isinstance(new, str):
        return old == new
    if {old_kind, new_kind} == {"float", "double"}:
        old, new = (struct.unpack("f", struct.pack("f", v))[0] for v in (float(old), float(new)))
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return old == new


def _shown_default(field: FieldInfo, value, schema: ProtobufSchema) -> str:
    if field.type == FieldProto.TYPE_ENUM and field.type_name in schema.enums:
        names = [v.name for v in schema.enums[field.type_name].values if v.number == value]
        return names[0] if names else str(value)
    return f'"{value}"' if isinstance(value, str) else str(value)


@rule("FIELD_SAME_DEFAULT", "Fields must keep their default value (proto2 defaults).", WIRE_AND_JSON, "field")
def field_same_default(ctx: CheckContext, pair: Pair[FieldInfo]):
    old, new = pair.old, pair.new
    if any(f.is_repeated or f.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_GROUP) for f in (old, new)):
        return
    old_default, new_default = _default(old, ctx.old), _default(new, ctx.new)
    if _is_zero(old_default) and _is_zero(new_default):
        return  # neither side sets a default: nothing to compare
    if not _defaults_equal(old_default, new_default, SCALAR_NAMES[old.type], SCALAR_NAMES[new.type]):
        yield Finding(
            new.path,
            f"{new.description} changed default value from {_shown_default(old, old_default, ctx.old)} to "
            f"{_shown_default(new, new_default, ctx.new)}: readers "
            "would see a different value for data that leaves it unset. Keep the old default.",
            new.message.file.name,
        )


# ---------------------------------------------------------------------------------------------
# Enums (buf WIRE / WIRE_JSON)
# ---------------------------------------------------------------------------------------------


def _deleted_numbers(pair) -> list[tuple[int, list[str]]]:
    old_names, new_names = pair.old.names_by_number(), pair.new.names_by_number()
    return [(n, names) for n, names in sorted(old_names.items()) if n not in new_names]


@rule(
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "A deleted enum value must have its number reserved.",
    WIRE_AND_JSON,
    "enum",
)
def enum_value_no_delete_unless_number_reserved(ctx: CheckContext, pair):
    for number, names in _deleted_numbers(pair):
        if not pair.new.number_reserved(number):
            yield Finding(
                f"{pair.new.path}.{names[0]}",
                f'Enum value "{number}" ("{names[0]}") on enum "{pair.new.path}" was deleted without reserving '
                f'the number "{number}". Add "reserved {number};" to the enum.',
                pair.new.file.name,
            )


@rule(
    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
    "A deleted enum value must have its name reserved (JSON uses names).",
    JSON_ONLY,
    "enum",
)
def enum_value_no_delete_unless_name_reserved(ctx: CheckContext, pair):
    reserved = set(pair.new.proto.reserved_name)
    for number, names in _deleted_numbers(pair):
        missing = [name for name in names if name not in reserved]
        if missing:
            yield Finding(
                f"{pair.new.path}.{names[0]}",
                f'Enum value "{number}" ("{names[0]}") on enum "{pair.new.path}" was deleted without '
                f'reserving the name "{missing[0]}": JSON data still carrying it fails to parse. Add '
                f"'reserved \"{missing[0]}\";' to the enum.",
                pair.new.file.name,
            )


@rule(
    "RESERVED_ENUM_NO_DELETE",
    "Reserved numbers and names must not be removed from an enum.",
    WIRE_AND_JSON,
    "enum",
)
def reserved_enum_no_delete(ctx: CheckContext, pair):
    return _reserved_deleted("enum", pair.old, pair.new)


@rule("ENUM_VALUE_SAME_NAME", "Enum values must keep their name (JSON uses names).", JSON_ONLY, "enum_value")
def enum_value_same_name(ctx: CheckContext, pair: EnumValuePair):
    if not set(pair.new_names) <= set(pair.old_names):
        old = ", ".join(f'"{n}"' for n in pair.old_names)
        new = ", ".join(f'"{n}"' for n in pair.new_names)
        yield Finding(
            f"{pair.enum.new.path}.{pair.new_names[0]}",
            f'Enum value "{pair.number}" on enum "{pair.enum.new.path}" changed name from {old} to {new}: '
            "JSON data uses the name. Keep the old name (add the new one as an alias with allow_alias).",
            pair.enum.new.file.name,
        )


_CONFLUENT_MESSAGE_CHECKS = (
    required_field_added,
    required_field_removed,
    oneof_field_removed,
    multiple_fields_moved_to_oneof,
    field_moved_to_existing_oneof,
)

RULES: dict[str, Rule] = {rule_id: spec.rule for rule_id, spec in PROTO_RULES.items()}
RULESETS = {None: "CONFLUENT", "WIRE": "WIRE", "WIRE_JSON": "WIRE_JSON"}


def rules_for(ruleset: str | None) -> list[ProtoRule]:
    category = RULESETS[ruleset]
    return [spec for spec in PROTO_RULES.values() if category in spec.rule.categories]
