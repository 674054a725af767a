"""Limits on a schema's structure, checked before its format parses it (``check_structure``).

The text checks (size, nesting, number literals, Unicode) are ``registry.limits``; these need to
know the format: how many fields and named types, how long a name or a doc, how big a ``fixed``,
what precision a decimal has. The bounds keep every later consumer of a schema safe: the gate maps
``fixed`` and decimals onto Arrow and Iceberg types, whose bounds (decimal precision <= 38) they are.
"""

from __future__ import annotations

import json
import re

from registry.errors import LimitExceeded

MAX_ELEMENTS = 10_000
"""Fields plus named types (records, enums, fixed; Protobuf messages, enums and fields) per schema."""
MAX_NAME_CHARS = 255
MAX_DOC_CHARS = 65_536
MAX_FIXED_SIZE = 1024 * 1024
MAX_DECIMAL_PRECISION = 38
MAX_ENUM_SYMBOLS = 10_000

_PROTO_FIELD = re.compile(r"=\s*-?\d+")
_PROTO_IDENTIFIER = re.compile(rf"[A-Za-z_][A-Za-z0-9_]{{{MAX_NAME_CHARS},}}")


def check_structure(format_name: str, text: str, where: str = "schema") -> None:
    """Raise ``LimitExceeded`` naming the limit and the element when ``text`` breaks one.

    Text that does not parse as its format passes: the parser reports that, with its location.
    """
    if format_name.upper() == "AVRO":
        try:
            document = json.loads(text)
        except ValueError:
            return
        try:
            _avro(document, "", [0])
        except LimitExceeded as exc:  # raised with the element's path: say whose schema it is
            raise LimitExceeded(exc.limit, f"{where} at {exc.where or 'the root'}", exc.detail) from None
    else:
        fields = len(_PROTO_FIELD.findall(text))
        if fields > MAX_ELEMENTS:
            raise LimitExceeded("elements", where, f"{fields} fields, over {MAX_ELEMENTS}")
        long_name = _PROTO_IDENTIFIER.search(text)
        if long_name:
            raise LimitExceeded("name length", where, f"a name of {len(long_name.group())} characters")


def _avro(node, path: str, counter: list[int]) -> None:
    if isinstance(node, list):
        for i, branch in enumerate(node):
            _avro(branch, f"{path}[{i}]", counter)
        return
    if not isinstance(node, dict):
        return
    name = node.get("name")
    here = (f"{path}.{name}" if path else name) if isinstance(name, str) else path
    for key in ("name", "namespace"):
        value = node.get(key)
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            raise LimitExceeded(
                "name length", here, f"{key} of {len(value)} characters, over {MAX_NAME_CHARS}"
            )
    doc = node.get("doc")
    if isinstance(doc, str) and len(doc) > MAX_DOC_CHARS:
        raise LimitExceeded("doc length", here, f"doc of {len(doc)} characters, over {MAX_DOC_CHARS}")
    kind = node.get("type")
    if kind in ("record", "error", "enum", "fixed") or "fields" in node:
        counter[0] += 1
    size = node.get("size")
    if kind == "fixed" and isinstance(size, int) and not 0 <= size <= MAX_FIXED_SIZE:
        raise LimitExceeded("fixed size", here, f"size {size} is outside 0..{MAX_FIXED_SIZE}")
    if node.get("logicalType") == "decimal":
        _decimal(node, here)
    symbols = node.get("symbols")
    if isinstance(symbols, list) and len(symbols) > MAX_ENUM_SYMBOLS:
        raise LimitExceeded("elements", here, f"{len(symbols)} enum symbols, over {MAX_ENUM_SYMBOLS}")
    fields = node.get("fields")
    if isinstance(fields, list):
        counter[0] += len(fields)
        if counter[0] > MAX_ELEMENTS:
            raise LimitExceeded("elements", here, f"more than {MAX_ELEMENTS} fields and named types")
        for field in fields:
            _avro(field, here, counter)
    for key in ("type", "items", "values"):
        if key in node and not isinstance(node[key], str):
            _avro(node[key], here, counter)
    if counter[0] > MAX_ELEMENTS:
        raise LimitExceeded("elements", here, f"more than {MAX_ELEMENTS} fields and named types")


def _decimal(node: dict, where: str) -> None:
    precision, scale = node.get("precision"), node.get("scale", 0)
    if isinstance(precision, int) and not 1 <= precision <= MAX_DECIMAL_PRECISION:
        raise LimitExceeded(
            "decimal precision", where, f"precision {precision} is outside 1..{MAX_DECIMAL_PRECISION}"
        )
    if isinstance(scale, int) and isinstance(precision, int) and not 0 <= scale <= precision:
        raise LimitExceeded(
            "decimal scale", where, f"scale {scale} is outside 0..{precision} (the precision)"
        )
