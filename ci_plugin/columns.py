"""The top-level fields of a contract's schema: the columns its Bronze table has, which dbt models read."""

from __future__ import annotations

from collections.abc import Mapping

from registry.compat import get_format


def top_level_fields(
    format_name: str, text: str, subject: str, references: Mapping[str, str] | None = None
) -> list[str]:
    """Field names of the record or message the subject names, in schema order.

    Where a schema defines several (Protobuf), the one named like the subject's last part, else the
    main one (``ParsedSchema.columns``). The schema has already been parsed by its format, so it is
    known to be valid here.
    """
    schema = get_format(format_name).parse(text, references)
    return list(schema.columns(subject.rsplit(".", 1)[-1]))
