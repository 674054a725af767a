"""The top-level fields of a contract's schema: the columns its Bronze table has, which dbt models read."""

from __future__ import annotations

import json
from collections.abc import Mapping

from registry.compat.protobuf_compile import compile_proto


def top_level_fields(
    format_name: str, text: str, subject: str, references: Mapping[str, str] | None = None
) -> list[str]:
    """Field names of the record (Avro) or message (Protobuf) the subject names, in schema order.

    Protobuf: the message named like the subject's last part, else the file's first message.
    The schema has already been parsed by its format, so it is known to be valid here.
    """
    if format_name == "AVRO":
        schema = json.loads(text)
        if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
            return [f["name"] for f in schema["fields"] if isinstance(f, dict) and "name" in f]
        return []
    main = compile_proto(text, references).file[-1]
    wanted = subject.rsplit(".", 1)[-1]
    messages = list(main.message_type)
    message = next((m for m in messages if m.name == wanted), messages[0] if messages else None)
    return [f.name for f in message.field] if message else []
