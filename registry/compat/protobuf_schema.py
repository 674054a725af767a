"""A compiled Protobuf schema: an index of its messages, fields and enums, and its canonical form.

Names: an element's ``path`` is its name relative to the file's package (``UserSignedUp.user_id``,
``UserSignedUp.Plan.PRO``): short, what a person reads in the file, and stable when only the package
changes. ``full_name`` adds the package (``identity.v1.UserSignedUp``), as descriptors spell it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.descriptor import Descriptor, FileDescriptor

from registry.compat import ParsedSchema
from registry.compat.fields import Field
from registry.compat.protobuf_compile import MAIN_FILE
from registry.compat.protobuf_fields import leading_comments, message_fields
from registry.errors import InvalidSchema

FieldProto = descriptor_pb2.FieldDescriptorProto

# Field numbers inside descriptor.proto, used to find source locations (SourceCodeInfo paths).
_FILE_PACKAGE, _FILE_MESSAGE, _FILE_ENUM, _FILE_SYNTAX = 2, 4, 5, 12
_MSG_FIELD, _MSG_NESTED, _MSG_ENUM, _MSG_ONEOF = 2, 3, 4, 8
_ENUM_VALUE = 2

SCALAR_NAMES = {
    FieldProto.TYPE_DOUBLE: "double",
    FieldProto.TYPE_FLOAT: "float",
    FieldProto.TYPE_INT64: "int64",
    FieldProto.TYPE_UINT64: "uint64",
    FieldProto.TYPE_INT32: "int32",
    FieldProto.TYPE_FIXED64: "fixed64",
    FieldProto.TYPE_FIXED32: "fixed32",
    FieldProto.TYPE_BOOL: "bool",
    FieldProto.TYPE_STRING: "string",
    FieldProto.TYPE_GROUP: "group",
    FieldProto.TYPE_MESSAGE: "message",
    FieldProto.TYPE_BYTES: "bytes",
    FieldProto.TYPE_UINT32: "uint32",
    FieldProto.TYPE_ENUM: "enum",
    FieldProto.TYPE_SFIXED32: "sfixed32",
    FieldProto.TYPE_SFIXED64: "sfixed64",
    FieldProto.TYPE_SINT32: "sint32",
    FieldProto.TYPE_SINT64: "sint64",
}


@dataclass(eq=False)
class FileInfo:
    name: str  # import path; the main schema is MAIN_FILE
    proto: descriptor_pb2.FileDescriptorProto
    is_user_file: bool  # the main schema or one of its references (not a well-known type)

    @property
    def package(self) -> str:
        return self.proto.package

    @property
    def syntax(self) -> str:
        return self.proto.syntax or "proto2"

    @cached_property
    def source_lines(self) -> dict[tuple[int, ...], int]:
        """1-based line per SourceCodeInfo path; only for the user's files (well-known types never
        get violations, so their locations are not worth indexing)."""
        locations = self.proto.source_code_info.location if self.is_user_file else ()
        return {tuple(loc.path): loc.span[0] + 1 for loc in locations if loc.span}


@dataclass(eq=False)
class MessageInfo:
    path: str
    full_name: str
    proto: descriptor_pb2.DescriptorProto
    file: FileInfo
    fields: dict[int, FieldInfo] = field(default_factory=dict)
    oneof_names: list[str | None] = field(default_factory=list)  # None for proto3 synthetic oneofs

    @property
    def name(self) -> str:
        return self.proto.name

    @cached_property
    def is_map_entry(self) -> bool:
        """Every rule asks, for every pair of every check: read from the descriptor once."""
        return self.proto.options.map_entry

    @property
    def reserved_names(self) -> list[str]:
        return list(self.proto.reserved_name)

    def reserved_ranges(self) -> list[tuple[int, int]]:
        """Reserved field numbers as inclusive ranges."""
        return [(r.start, r.end - 1) for r in self.proto.reserved_range]

    def number_reserved(self, number: int) -> bool:
        return any(start <= number <= end for start, end in self.reserved_ranges())

    @cached_property
    def required_numbers(self) -> frozenset[int]:
        """The numbers of its proto2 required fields."""
        return frozenset(n for n, f in self.fields.items() if f.is_required)

    @cached_property
    def oneof_members(self) -> dict[str, set[int]]:
        """The field numbers of each real oneof, by oneof name."""
        members: dict[str, set[int]] = {}
        for number, field_info in self.fields.items():
            if field_info.oneof is not None:
                members.setdefault(field_info.oneof, set()).add(number)
        return members


@dataclass(eq=False)
class FieldInfo:
    path: str
    message: MessageInfo
    proto: FieldProto
    type_file: str = ""  # file that defines the field's message or enum type ('' for scalars)

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def number(self) -> int:
        return self.proto.number

    @property
    def type(self) -> int:
        return self.proto.type

    @property
    def type_name(self) -> str:
        """Full name of the message or enum type, without the leading dot ('' for scalars)."""
        return self.proto.type_name.lstrip(".")

    @cached_property
    def oneof(self) -> str | None:
        """The real oneof this field belongs to (proto3 ``optional`` synthetic oneofs excluded)."""
        if not self.proto.HasField("oneof_index"):
            return None
        return self.message.oneof_names[self.proto.oneof_index]

    @property
    def json_name(self) -> str:
        return self.proto.json_name or default_json_name(self.name)

    @property
    def is_required(self) -> bool:
        return self.proto.label == FieldProto.LABEL_REQUIRED

    @property
    def is_repeated(self) -> bool:
        return self.proto.label == FieldProto.LABEL_REPEATED

    @property
    def description(self) -> str:
        return f'Field "{self.number}" ("{self.name}") on message "{self.message.path}"'


@dataclass(eq=False)
class EnumValueInfo:
    path: str
    name: str
    number: int


@dataclass(eq=False)
class EnumInfo:
    path: str
    full_name: str
    proto: descriptor_pb2.EnumDescriptorProto
    file: FileInfo
    values: list[EnumValueInfo] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def reserved_names(self) -> list[str]:
        return list(self.proto.reserved_name)

    def names_by_number(self) -> dict[int, list[str]]:
        result: dict[int, list[str]] = {}
        for value in self.values:
            result.setdefault(value.number, []).append(value.name)
        return result

    def reserved_ranges(self) -> list[tuple[int, int]]:
        """Reserved value numbers as inclusive ranges (enum ranges are inclusive in descriptors)."""
        return [(r.start, r.end) for r in self.proto.reserved_range]

    def number_reserved(self, number: int) -> bool:
        return any(start <= number <= end for start, end in self.reserved_ranges())


class ProtobufSchema(ParsedSchema):
    """A ``.proto`` schema compiled by protoc, with everything the rules need indexed once."""

    format_name = "PROTOBUF"

    def __init__(
        self,
        text: str,
        descriptor_set: descriptor_pb2.FileDescriptorSet,
        references: Mapping[str, str] | None = None,
    ):
        self.text = text
        self.references = dict(references or {})
        self.files: dict[str, FileInfo] = {}
        self.messages: dict[str, MessageInfo] = {}  # by full name
        self.enums: dict[str, EnumInfo] = {}  # by full name
        self._lines: dict[tuple[str, str], int] = {}  # (file name, element path) -> 1-based line
        for file_proto in descriptor_set.file:
            user = file_proto.name == MAIN_FILE or file_proto.name in self.references
            info = FileInfo(file_proto.name, file_proto, user)
            self.files[info.name] = info
            self._index_file(info)
        for message in self.messages.values():
            for field_info in message.fields.values():
                if field_info.type_name:
                    defined = self.messages.get(field_info.type_name) or self.enums.get(field_info.type_name)
                    field_info.type_file = defined.file.name if defined else ""

    @property
    def main(self) -> FileInfo:
        return self.files[MAIN_FILE]

    def user_files(self) -> list[FileInfo]:
        return [f for f in self.files.values() if f.is_user_file]

    def messages_in(self, files: list[FileInfo]) -> list[MessageInfo]:
        names = {f.name for f in files}
        return [m for m in self.messages.values() if m.file.name in names]

    def enums_in(self, files: list[FileInfo]) -> list[EnumInfo]:
        names = {f.name for f in files}
        return [e for e in self.enums.values() if e.file.name in names]

    def line_of(self, path: str, file_name: str = MAIN_FILE) -> int | None:
        """Line of an element, or of its nearest enclosing element that has one."""
        while path:
            line = self._lines.get((file_name, path))
            if line is not None:
                return line
            path = path.rpartition(".")[0]
        return None

    def columns(self, message: str | None = None) -> tuple[str, ...]:
        """Field names of the main file's top-level message named ``message``, else of its first."""
        messages = list(self.main.proto.message_type)
        chosen = next((m for m in messages if m.name == message), messages[0])
        return tuple(f.name for f in chosen.field)

    def fields(self) -> tuple[Field, ...]:
        """The neutral field tree of the contract's message: the first message of the main file."""
        return message_fields(self.message_descriptor(), leading_comments(self.main.proto))

    @cached_property
    def file_descriptor(self) -> FileDescriptor:
        """The main file's descriptor, e.g. to resolve Confluent message indexes."""
        return self._pool.FindFileByName(MAIN_FILE)

    def message_descriptor(self, full_name: str | None = None) -> Descriptor:
        """The descriptor of message ``full_name`` (``identity.v1.UserSignedUp``); by default the
        first message of the main file, the convention the gate documents."""
        if full_name is None:
            return next(iter(self.file_descriptor.message_types_by_name.values()))
        try:
            return self._pool.FindMessageTypeByName(full_name)
        except KeyError:
            raise InvalidSchema(f"no message {full_name!r} in the contract's schema") from None

    def message_class(self, full_name: str | None = None) -> type:
        """The generated Python class of a message (see ``message_descriptor``), to decode records."""
        return message_factory.GetMessageClass(self.message_descriptor(full_name))

    @cached_property
    def _pool(self) -> descriptor_pool.DescriptorPool:
        pool = descriptor_pool.DescriptorPool()
        for info in self.files.values():
            pool.Add(info.proto)
        return pool

    @cached_property
    def canonical(self) -> str:
        """The main file's descriptor as protobuf text format, normalised (see module docs)."""
        return text_format.MessageToString(normalised_file(self.main.proto), as_utf8=True)

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()

    # -- indexing -------------------------------------------------------------------------------

    def _index_file(self, file: FileInfo) -> None:
        proto = file.proto
        self._index_locations(file)
        for i, message in enumerate(proto.message_type):
            self._index_message(file, message, "", (_FILE_MESSAGE, i))
        for i, enum in enumerate(proto.enum_type):
            self._index_enum(file, enum, "", (_FILE_ENUM, i))

    def _index_locations(self, file: FileInfo) -> None:
        for path, key in (("package", (_FILE_PACKAGE,)), ("syntax", (_FILE_SYNTAX,))):
            self._remember_line(file, path, key)

    def _remember_line(self, file: FileInfo, path: str, location: tuple[int, ...]) -> None:
        line = file.source_lines.get(location)
        if line is not None:
            self._lines[(file.name, path)] = line

    def _index_message(
        self, file: FileInfo, proto: descriptor_pb2.DescriptorProto, scope: str, location: tuple[int, ...]
    ) -> None:
        path = f"{scope}{proto.name}"
        full_name = f"{file.package}.{path}" if file.package else path
        message = MessageInfo(path, full_name, proto, file)
        message.oneof_names = _real_oneof_names(proto)
        self.messages[full_name] = message
        self._remember_line(file, path, location)
        for i, field_proto in enumerate(proto.field):
            info = FieldInfo(f"{path}.{field_proto.name}", message, field_proto)
            message.fields[field_proto.number] = info
            self._remember_line(file, info.path, (*location, _MSG_FIELD, i))
        for i, oneof in enumerate(proto.oneof_decl):
            self._remember_line(file, f"{path}.{oneof.name}", (*location, _MSG_ONEOF, i))
        for i, nested in enumerate(proto.nested_type):
            self._index_message(file, nested, f"{path}.", (*location, _MSG_NESTED, i))
        for i, enum in enumerate(proto.enum_type):
            self._index_enum(file, enum, f"{path}.", (*location, _MSG_ENUM, i))

    def _index_enum(
        self, file: FileInfo, proto: descriptor_pb2.EnumDescriptorProto, scope: str, location: tuple[int, ...]
    ) -> None:
        path = f"{scope}{proto.name}"
        full_name = f"{file.package}.{path}" if file.package else path
        enum = EnumInfo(path, full_name, proto, file)
        self.enums[full_name] = enum
        self._remember_line(file, path, location)
        for i, value in enumerate(proto.value):
            info = EnumValueInfo(f"{path}.{value.name}", value.name, value.number)
            enum.values.append(info)
            self._remember_line(file, info.path, (*location, _ENUM_VALUE, i))


def _real_oneof_names(proto: descriptor_pb2.DescriptorProto) -> list[str | None]:
    synthetic = {f.oneof_index for f in proto.field if f.proto3_optional and f.HasField("oneof_index")}
    return [None if i in synthetic else oneof.name for i, oneof in enumerate(proto.oneof_decl)]


def default_json_name(name: str) -> str:
    """protoc's default JSON name: underscores dropped, the letter after each one upper-cased."""
    out: list[str] = []
    upper_next = False
    for char in name:
        if char == "_":
            upper_next = True
        elif upper_next:
            out.append(char.upper())
            upper_next = False
        else:
            out.append(char)
    return "".join(out)


def normalised_file(proto: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """A copy without source info (comments, positions) and without json_name where it is the default."""
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(proto)
    copy.ClearField("source_code_info")
    pending = list(copy.message_type)
    while pending:
        message = pending.pop()
        pending.extend(message.nested_type)
        for field_proto in message.field:
            if field_proto.json_name == default_json_name(field_proto.name):
                field_proto.ClearField("json_name")
    for extension in copy.extension:
        extension.ClearField("json_name")
    return copy
