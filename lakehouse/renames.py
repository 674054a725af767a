"""Column renames a new contract version implies, so a renamed field keeps its Bronze column (its id).

Read from the format's neutral field tree, walked side by side with the table's current schema at
every depth (record fields, list elements, map values): a field whose name the table does not have at
that place but whose ``aliases`` name a column there renames that column (Avro); a field keeps its
``number`` when renamed (Protobuf), so the table remembers number path -> name of the last version it
saw (table property ``meshgate.protobuf-fields``, named for the format that numbers fields; keys are
the numbers from the top, dotted: ``"3"``, ``"3.1"``), and a number path now carrying another name
renames the column. Renames are keyed by the column's current dotted Iceberg path (``items.element.sku``)
and give the new name, which is what Iceberg's rename takes: the column keeps its field id and data.
"""

from __future__ import annotations

import json

from pyiceberg.schema import Schema
from pyiceberg.types import IcebergType, ListType, MapType, NestedField, StructType

from lakehouse.schema_mapping import contract_schema
from registry.compat.fields import Field
from registry.contract import Contract

PROTOBUF_FIELDS = "meshgate.protobuf-fields"


def column_renames(
    contract: Contract,
    table_schema: Schema | None,
    properties: dict[str, str],
    references: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(current column path -> new name, table properties to set)`` for this contract version.

    ``table_schema``: the Bronze table's schema, None when the table does not exist yet (nothing to
    rename). ``references`` maps import names to the schema texts the contract imports.
    """
    fields = contract_schema(contract, references).fields()
    numbers = dict(_numbers(fields, ""))
    seen = json.loads(properties.get(PROTOBUF_FIELDS, "{}"))
    renames: dict[str, str] = {}
    if table_schema is not None:
        _pair(fields, table_schema.as_struct(), "", "", seen, renames)
    if not numbers:
        return renames, {}
    return renames, {PROTOBUF_FIELDS: json.dumps({**seen, **numbers}, sort_keys=True)}


def _pair(fields, struct: StructType, path: str, numbers: str, seen: dict, renames: dict) -> None:
    """Match each contract field with the table's column at the same place; record renames, descend."""
    by_name = {column.name: column for column in struct.fields}
    for field in fields:
        number = f"{numbers}{field.number}" if field.number is not None else None
        column = by_name.get(field.name)
        if column is None:
            old = _old_name(field, number, seen, by_name)
            if old is not None:
                column = by_name[old]
                renames[path + old] = field.name
        if column is not None:
            _descend(
                field,
                column.field_type,
                f"{path}{column.name}.",
                f"{number}." if number else "",
                seen,
                renames,
            )


def _old_name(field: Field, number: str | None, seen: dict, columns: dict[str, NestedField]) -> str | None:
    """The name this field had in the table: an alias (Avro), or its number's last name (Protobuf)."""
    for alias in field.aliases:
        if alias in columns:
            return alias
    previous = seen.get(number) if number else None
    return previous if previous in columns else None


def _descend(
    field: Field, column_type: IcebergType, path: str, numbers: str, seen: dict, renames: dict
) -> None:
    """Into records, list elements and map values (a map key is a scalar or is not renamed)."""
    kind = field.type
    if kind.kind == "record" and isinstance(column_type, StructType):
        _pair(kind.fields, column_type, path, numbers, seen, renames)
    elif kind.kind == "list" and isinstance(column_type, ListType):
        _descend(kind.element, column_type.element_type, f"{path}element.", numbers, seen, renames)
    elif kind.kind == "map" and isinstance(column_type, MapType):
        _descend(kind.value, column_type.value_type, f"{path}value.", numbers, seen, renames)


def _numbers(fields, prefix: str):
    """``(number path, name)`` of every numbered field, nested ones (through lists and maps) too."""
    for field in fields:
        if field.number is None:
            continue
        key = f"{prefix}{field.number}"
        yield key, field.name
        yield from _numbers(_children(field), f"{key}.")


def _children(field: Field) -> tuple[Field, ...]:
    kind = field.type
    while kind.kind in ("list", "map"):
        kind = kind.element.type if kind.kind == "list" else kind.value.type
    return kind.fields if kind.kind == "record" else ()
