"""Avro Parsing Canonical Form (specification, "Parsing Canonical Form for Schemas") and fingerprints.

The transformation rules of the specification, applied to our model:
PRIMITIVES (``{"type":"int"}`` becomes ``"int"``), FULLNAMES (names written in full, ``namespace``
dropped), STRIP (only ``type``, ``name``, ``fields``, ``symbols``, ``items``, ``values``, ``size``
survive: doc, aliases, defaults, order and logical types go), ORDER (``name``, ``type``, ``fields``,
``symbols``, ``items``, ``values``, ``size``), STRINGS (UTF-8, no ``\\u`` escapes), INTEGERS (plain)
and WHITESPACE (none). A named type already written is referred to by its full name.
"""

from __future__ import annotations

import hashlib
import json

from registry.compat.avro_model import Array, AvroType, Enum, Fixed, Map, NamedType, Record, Union


def canonical_form(node: AvroType, with_logical: bool = False) -> str:
    """The Parsing Canonical Form of ``node``.

    ``with_logical`` keeps ``logicalType``, ``precision`` and ``scale`` (after ``size``): not part of
    the specification's form, used by the compatibility walker as a cheap "identical subtree" test.
    """
    parts: list[str] = []
    _write(node, parts, set(), with_logical)
    return "".join(parts)


def fingerprint(canonical: str) -> str:
    """Hex SHA-256 of the canonical form, the fingerprint the specification recommends for large sets."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _write(node: AvroType, parts: list[str], written: set[str], with_logical: bool) -> None:
    if isinstance(node, NamedType):
        if node.fullname in written:
            parts.append(_string(node.fullname))
            return
        written.add(node.fullname)
        parts.append(f'{{"name":{_string(node.fullname)},"type":"{node.kind}"')
        if isinstance(node, Record):
            parts.append(',"fields":[')
            for index, field in enumerate(node.fields):
                parts.append(("," if index else "") + f'{{"name":{_string(field.name)},"type":')
                _write(field.type, parts, written, with_logical)
                parts.append("}")
            parts.append("]")
        elif isinstance(node, Enum):
            parts.append(',"symbols":[' + ",".join(_string(s) for s in node.symbols) + "]")
        elif isinstance(node, Fixed):
            parts.append(f',"size":{node.size}')
    elif isinstance(node, Union):
        parts.append("[")
        for index, branch in enumerate(node.branches):
            if index:
                parts.append(",")
            _write(branch, parts, written, with_logical)
        parts.append("]")
        return
    elif isinstance(node, Array | Map):
        key, child = ("items", node.items) if isinstance(node, Array) else ("values", node.values)
        parts.append(f'{{"type":"{node.kind}","{key}":')
        _write(child, parts, written, with_logical)
    elif with_logical and node.logical:
        parts.append(f'{{"type":"{node.kind}"')
    else:
        parts.append(f'"{node.kind}"')
        return
    if with_logical and node.logical:
        parts.append(f',"logicalType":{_string(node.logical)}')
        if node.logical == "decimal":
            parts.append(f',"precision":{node.precision},"scale":{node.scale}')
    parts.append("}")


def signature(node: AvroType) -> str:
    """Canonical form with logical types, cached on the node: equal signatures mean identical types.

    Two identical types are always compatible, so the walker skips them; this keeps checking a large
    record against many near-identical versions cheap.
    """
    if node._signature is None:
        node._signature = canonical_form(node, with_logical=True)
    return node._signature


def sign_all(root: AvroType) -> None:
    """Compute and cache the signature of every node once, at parse time, so checks only compare."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        signature(node)
        if isinstance(node, Record):
            stack.extend(field.type for field in node.fields)
        elif isinstance(node, Array):
            stack.append(node.items)
        elif isinstance(node, Map):
            stack.append(node.values)
        elif isinstance(node, Union):
            stack.extend(node.branches)
