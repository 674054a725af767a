"""Column renames a new contract version implies, so a renamed field keeps its Bronze column.

Avro: a top-level field whose ``aliases`` name an existing column renames that column. Protobuf: a
field keeps its number when renamed; the table remembers number -> name of the last version it saw
(table property ``meshgate.protobuf-fields``), and a number now carrying another name renames the column.
Nested renames are not followed (the nested field is added as a new one).
"""

from __future__ import annotations

import json

from registry.contract import Contract

PROTOBUF_FIELDS = "meshgate.protobuf-fields"


def column_renames(
    contract: Contract, properties: dict[str, str], references: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(old name -> new name, table properties to set)`` for this contract version.

    ``references`` maps import names to the schema texts the contract imports.
    """
    if contract.format == "AVRO":
        return _avro_aliases(contract), {}
    numbers = _protobuf_numbers(contract, references)
    seen = json.loads(properties.get(PROTOBUF_FIELDS, "{}"))
    renames = {seen[n]: name for n, name in numbers.items() if n in seen and seen[n] != name}
    return renames, {PROTOBUF_FIELDS: json.dumps({**seen, **numbers}, sort_keys=True)}


def _avro_aliases(contract: Contract) -> dict[str, str]:
    schema = json.loads(contract.schema)
    found = {}
    for field in schema.get("fields", []) if isinstance(schema, dict) else []:
        for alias in field.get("aliases") or []:
            found[alias] = field["name"]
    return found


def _protobuf_numbers(contract: Contract, references: dict[str, str] | None) -> dict[str, str]:
    from lakehouse.schema_mapping import message_descriptor

    fields = message_descriptor(contract, references=references).fields
    return {str(field.number): field.name for field in fields}
