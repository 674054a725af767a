"""The neutral field tree: a schema's shape in a small type vocabulary every format maps into.

Consumers that need a schema's shape (the lakehouse's Arrow/Iceberg mapping, column renames) read
this tree from ``ParsedSchema.fields()`` instead of walking Avro JSON or Protobuf descriptors, so
none of them branches on a format name, and a new format only has to describe itself once. It holds
plain values and imports nothing: the registry stays small (no pyarrow, no pyiceberg).

Kinds (attributes that apply):
- ``boolean``, ``int`` (32-bit), ``long`` (64-bit), ``float``, ``double``, ``string``, ``bytes``,
  ``uuid``, ``date``;
- ``decimal`` (``precision``, ``scale``), ``fixed`` (``size`` in bytes);
- ``time`` (``unit``), ``timestamp`` (``unit``, ``tz``: ``"UTC"`` for an instant, None for local
  time); units are ``millis``, ``micros``, ``nanos``; ``base`` (``date``, ``time``, ``timestamp``):
  ``"int"`` or ``"long"`` when the type is a number underneath (an Avro logical type), so a JSON
  number counted in ``unit`` (``date``: days) fills it as well as an ISO 8601 string;
- ``enum`` (``name``, ``symbols``; ``numbers``: each symbol's number where the format has them,
  Protobuf), ``record`` (``name``, ``fields``);
- ``list`` (``element``: a ``Field`` named ``element``), ``map`` (``key``, ``value``: ``Field``s);
- ``json``: a value with no typed mapping (a free-form JSON Schema object, a heterogeneous union,
  a Protobuf ``Struct`` / ``Value`` / ``ListValue``: then ``name`` is that type's full name),
  kept as its canonical JSON text: a string column;
- ``union`` (``branches``: the non-null types of a union that has more than one), ``null`` (a field
  that can only be null). Neither has an Iceberg equivalent; the mapping refuses them with the path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

KINDS = frozenset(
    {
        "boolean", "int", "long", "float", "double", "string", "bytes", "uuid", "date",
        "decimal", "fixed", "time", "timestamp", "enum", "record", "list", "map", "json", "union", "null",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Type:
    """One type of the vocabulary above; only the attributes of its kind are set."""

    kind: str
    name: str | None = None  # record, enum: the full name; json: the Protobuf type, if one
    precision: int | None = None  # decimal
    scale: int | None = None  # decimal
    size: int | None = None  # fixed
    unit: str | None = None  # time, timestamp
    tz: str | None = None  # timestamp
    base: str | None = dataclasses.field(default=None, compare=False)  # date, time, timestamp: "int"/"long"
    symbols: tuple[str, ...] = ()  # enum
    numbers: tuple[int, ...] = dataclasses.field(default=(), compare=False)  # enum: Protobuf's, by symbol
    fields: tuple[Field, ...] = ()  # record
    element: Field | None = None  # list
    key: Field | None = None  # map
    value: Field | None = None  # map
    branches: tuple[Type, ...] = ()  # union

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown neutral type kind {self.kind!r}")


@dataclass(frozen=True)
class Field:
    """A named slot of a record (or a list element, map key or value) and what it holds.

    ``path`` is dotted from the top-level type's short name, with ``[]`` for list elements and
    ``{}`` for map values (``Order.items[].sku``), as compatibility violations spell paths.
    ``nullable``: the value may be absent or null. ``aliases`` (Avro) and ``number`` (Protobuf) are
    what identifies a field across a rename. ``default`` (when ``has_default``) is the value an absent
    field takes, as a JSON value of its type (bytes for ``bytes``/``fixed``). ``json_name``
    (Protobuf) is the field's name in the proto3 JSON mapping: JSON input may use either name, send
    64-bit integers as strings, and a null there means the default.
    """

    name: str
    path: str
    type: Type
    nullable: bool = False
    has_default: bool = False
    default: object = None
    doc: str | None = None
    aliases: tuple[str, ...] = ()
    number: int | None = None
    json_name: str | None = dataclasses.field(default=None, compare=False)
