"""buf's ``WIRE`` and ``WIRE_JSON`` breaking rules (``buf breaking``, bufbuild/buf bufbreakingcheck).

Evolution rules from the old schema to the new one, the same in both directions. Ids are buf's.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

from registry.compat.protobuf_rule_types import (
    JSON_ONLY,
    WIRE_AND_JSON,
    WIRE_ONLY,
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
from registry.compat.protobuf_walk import EnumValuePair, Pair

RULES = RuleList()
rule = RULES.rule


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


# -- Messages --


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
    old_required, new_required = pair.old.required_numbers, pair.new.required_numbers
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
    new_names = set(new.reserved_names)
    for name in old.reserved_names:
        if name not in new_names:
            yield Finding(
                new.path,
                f'Previously reserved name "{name}" on {kind} "{new.path}" was deleted. Keep the reservation.',
                new.file.name,
            )


@rule(
    "RESERVED_MESSAGE_NO_DELETE",
    "Reserved numbers and names must not be removed from a message.",
    WIRE_AND_JSON,
    "message",
)
def reserved_message_no_delete(ctx: CheckContext, pair: Pair[MessageInfo]):
    return _reserved_deleted("message", pair.old, pair.new)


# -- Fields --

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


# -- Enums --


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
    reserved = set(pair.new.reserved_names)
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
