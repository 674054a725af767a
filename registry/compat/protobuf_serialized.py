"""Confluent's serialized form of a Protobuf schema: a base64-encoded ``FileDescriptorProto``.

Confluent's Protobuf serializers register the compiled descriptor of the message's ``.proto`` file
instead of its source, and its deserializers ask for schemas with ``format=serialized``. meshgate
stores and checks ``.proto`` source, so the REST layer translates at the edge:
``source_from_serialized`` prints a descriptor as equivalent ``.proto`` source (same packages, names,
numbers, types, labels, oneofs, maps, enums and reserved ranges: everything the wire and the
compatibility rules see; comments and custom options are not in a descriptor and do not come back),
and ``serialized_from_source`` compiles source with its imports back into a descriptor.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from registry.compat.protobuf_compile import compile_proto
from registry.errors import InvalidSchema, SourceLocation

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    _F.TYPE_DOUBLE: "double",
    _F.TYPE_FLOAT: "float",
    _F.TYPE_INT64: "int64",
    _F.TYPE_UINT64: "uint64",
    _F.TYPE_INT32: "int32",
    _F.TYPE_FIXED64: "fixed64",
    _F.TYPE_FIXED32: "fixed32",
    _F.TYPE_BOOL: "bool",
    _F.TYPE_STRING: "string",
    _F.TYPE_BYTES: "bytes",
    _F.TYPE_UINT32: "uint32",
    _F.TYPE_SFIXED32: "sfixed32",
    _F.TYPE_SFIXED64: "sfixed64",
    _F.TYPE_SINT32: "sint32",
    _F.TYPE_SINT64: "sint64",
}
_LABELS = {_F.LABEL_OPTIONAL: "optional ", _F.LABEL_REQUIRED: "required ", _F.LABEL_REPEATED: "repeated "}
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_MAX_FIELD_NUMBER = 536870911  # "to max" in a message's reserved range
_MAX_ENUM_NUMBER = 2147483647  # "to max" in an enum's reserved range


def is_serialized(text: str) -> bool:
    """True when ``text`` is base64 (``.proto`` source always holds spaces, quotes or semicolons)."""
    return bool(_BASE64.match(text.strip()))


def source_from_serialized(text: str, where: str = "schema") -> str:
    """The ``.proto`` source equivalent to a base64 ``FileDescriptorProto``."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        descriptor = descriptor_pb2.FileDescriptorProto.FromString(raw)
    except (binascii.Error, ValueError, DecodeError) as exc:
        raise InvalidSchema(
            f"not .proto source, nor a base64 serialized FileDescriptorProto: {exc}", SourceLocation(where)
        ) from None
    return _FilePrinter(descriptor, where).source()


def serialized_from_source(text: str, imports: Mapping[str, str] | None = None) -> str:
    """Compile ``.proto`` source (``imports``: import path -> source) to a base64 descriptor."""
    main = descriptor_pb2.FileDescriptorProto()
    main.CopyFrom(
        compile_proto(text, imports).file[-1]
    )  # a copy, so clearing source info touches nothing shared
    main.ClearField("source_code_info")
    return base64.b64encode(main.SerializeToString()).decode("ascii")


class _FilePrinter:
    def __init__(self, descriptor: descriptor_pb2.FileDescriptorProto, where: str):
        self.file = descriptor
        self.where = where
        self.syntax = descriptor.syntax or "proto2"
        self.lines: list[str] = []

    def source(self) -> str:
        if self.syntax not in ("proto2", "proto3"):
            self._refuse(f"syntax {self.syntax!r} (protobuf editions) is not supported; use proto2 or proto3")
        if self.file.extension:
            self._refuse("top-level extensions are not supported")
        self.lines.append(f'syntax = "{self.syntax}";')
        if self.file.package:
            self.lines.append(f"package {self.file.package};")
        public = set(self.file.public_dependency)
        for index, dependency in enumerate(self.file.dependency):
            self.lines.append(f'import {"public " if index in public else ""}"{dependency}";')
        for enum in self.file.enum_type:
            self._enum(enum, "")
        for message in self.file.message_type:
            self._message(message, "")
        for service in self.file.service:
            self._service(service)
        return "\n".join(self.lines) + "\n"

    def _refuse(self, reason: str) -> None:
        raise InvalidSchema(f"serialized Protobuf schema: {reason}", SourceLocation(self.where))

    def _message(self, message: descriptor_pb2.DescriptorProto, indent: str) -> None:
        if message.extension or message.extension_range:
            self._refuse(f"message {message.name}: extensions are not supported")
        inner = indent + "  "
        self.lines.append(f"{indent}message {message.name} {{")
        self._reserved(message.reserved_range, message.reserved_name, inner, _MAX_FIELD_NUMBER)
        map_entries = {nested.name: nested for nested in message.nested_type if nested.options.map_entry}
        for enum in message.enum_type:
            self._enum(enum, inner)
        # protoc adds a map field's entry type to the nested types where the field is declared:
        # interleave fields and nested messages so the nested types keep their order (and the
        # message indexes Confluent's wire format uses).
        printed_oneofs: set[int] = set()
        next_field = 0
        for nested in message.nested_type:
            if nested.name in map_entries:
                map_field = next(
                    i for i, f in enumerate(message.field) if f.type_name.rsplit(".", 1)[-1] == nested.name
                )
                self._fields(message, range(next_field, map_field + 1), map_entries, printed_oneofs, inner)
                next_field = max(next_field, map_field + 1)
            else:
                self._message(nested, inner)
        self._fields(message, range(next_field, len(message.field)), map_entries, printed_oneofs, inner)
        self.lines.append(f"{indent}}}")

    def _fields(
        self, message, indexes: range, map_entries: Mapping, printed_oneofs: set[int], indent: str
    ) -> None:
        for field in (message.field[i] for i in indexes):
            if field.HasField("oneof_index") and not field.proto3_optional:
                if field.oneof_index not in printed_oneofs:
                    printed_oneofs.add(field.oneof_index)
                    self._oneof(message, field.oneof_index, indent)
                continue
            self.lines.append(indent + self._field(field, map_entries, in_oneof=False))

    def _oneof(self, message: descriptor_pb2.DescriptorProto, index: int, indent: str) -> None:
        self.lines.append(f"{indent}oneof {message.oneof_decl[index].name} {{")
        for field in message.field:
            if field.HasField("oneof_index") and field.oneof_index == index and not field.proto3_optional:
                self.lines.append(indent + "  " + self._field(field, {}, in_oneof=True))
        self.lines.append(f"{indent}}}")

    def _field(self, field: descriptor_pb2.FieldDescriptorProto, map_entries: Mapping, in_oneof: bool) -> str:
        if field.type == _F.TYPE_GROUP:
            self._refuse(f"field {field.name}: groups are not supported")
        entry_name = field.type_name.rsplit(".", 1)[-1]
        if field.label == _F.LABEL_REPEATED and field.type == _F.TYPE_MESSAGE and entry_name in map_entries:
            key, value = sorted(map_entries[entry_name].field, key=lambda f: f.number)
            kind = f"map<{self._type(key)}, {self._type(value)}>"
            return f"{kind} {field.name} = {field.number}{self._options(field)};"
        label = ""
        if not in_oneof:
            if self.syntax == "proto2":
                label = _LABELS[field.label]
            elif field.label == _F.LABEL_REPEATED:
                label = "repeated "
            elif field.proto3_optional:
                label = "optional "
        return f"{label}{self._type(field)} {field.name} = {field.number}{self._options(field)};"

    def _type(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        return _SCALARS.get(field.type) or field.type_name

    def _options(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        options = []
        if field.HasField("default_value"):
            options.append(f"default = {self._default(field)}")
        if field.options.HasField("packed"):
            options.append(f"packed = {str(field.options.packed).lower()}")
        if field.HasField("json_name") and field.json_name != _camel_case(field.name):
            options.append(f'json_name = "{field.json_name}"')
        return f" [{', '.join(options)}]" if options else ""

    def _default(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        value = field.default_value
        if field.type == _F.TYPE_STRING:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        if field.type == _F.TYPE_BYTES:
            return f'"{value}"'  # the descriptor holds bytes defaults already C-escaped
        return value  # numbers, booleans, enum value names, inf / nan

    def _enum(self, enum: descriptor_pb2.EnumDescriptorProto, indent: str) -> None:
        inner = indent + "  "
        self.lines.append(f"{indent}enum {enum.name} {{")
        if enum.options.allow_alias:
            self.lines.append(f"{inner}option allow_alias = true;")
        self._reserved(enum.reserved_range, enum.reserved_name, inner, _MAX_ENUM_NUMBER)
        for value in enum.value:
            self.lines.append(f"{inner}{value.name} = {value.number};")
        self.lines.append(f"{indent}}}")

    def _reserved(self, ranges, names, indent: str, largest: int) -> None:
        """Reserved numbers and names; a message range's end is exclusive, an enum range's inclusive."""
        parts = []
        for reserved in ranges:
            end = reserved.end - 1 if largest == _MAX_FIELD_NUMBER else reserved.end
            if end == reserved.start:
                parts.append(str(reserved.start))
            else:
                parts.append(f"{reserved.start} to {'max' if end >= largest else end}")
        if parts:
            self.lines.append(f"{indent}reserved {', '.join(parts)};")
        if names:
            quoted = ", ".join(f'"{name}"' for name in names)
            self.lines.append(f"{indent}reserved {quoted};")

    def _service(self, service: descriptor_pb2.ServiceDescriptorProto) -> None:
        self.lines.append(f"service {service.name} {{")
        for method in service.method:
            request = f"{'stream ' if method.client_streaming else ''}{method.input_type}"
            response = f"{'stream ' if method.server_streaming else ''}{method.output_type}"
            self.lines.append(f"  rpc {method.name}({request}) returns ({response});")
        self.lines.append("}")


def _camel_case(name: str) -> str:
    """protoc's default JSON name: underscores dropped, the letter after each one upper-cased."""
    parts = name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])
