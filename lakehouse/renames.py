"""Column renames a new contract version implies, so a renamed field keeps its Bronze column.

Read from the format's neutral field tree: a top-level field whose ``aliases`` name an existing
column renames that column (Avro); a field keeps its ``number`` when renamed (Protobuf), so the table
remembers number -> name of the last version it saw (table property ``meshgate.protobuf-fields``, named
for the format that numbers fields), and a number now carrying another name renames the column.
Nested renames are not followed (the nested field is added as a new one).
"""

from __future__ import annotations

import json

from lakehouse.schema_mapping import contract_schema
from registry.contract import Contract

PROTOBUF_FIELDS = "meshgate.protobuf-fields"


def column_renames(
    contract: Contract, properties: dict[str, str], references: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(old name -> new name, table properties to set)`` for this contract version.

    ``references`` maps import names to the schema texts the contract imports.
    """
    fields = contract_schema(contract, references).fields()
    renames = {alias: field.name for field in fields for alias in field.aliases}
    numbers = {str(field.number): field.name for field in fields if field.number is not None}
    if not numbers:
        return renames, {}
    seen = json.loads(properties.get(PROTOBUF_FIELDS, "{}"))
    renames |= {seen[n]: name for n, name in numbers.items() if n in seen and seen[n] != name}
    return renames, {PROTOBUF_FIELDS: json.dumps({**seen, **numbers}, sort_keys=True)}
