"""A JSON Schema compiled into Arrow compute checks that pick the lines the compiled validator must see.

``vector_check(schema)`` reads the schema once into one check per property (nested objects and array
items too): its JSON type, ``required``, ``enum``/``const``, numeric bounds and ``multipleOf``,
``minLength``/``maxLength`` (code points), ``pattern`` and the formats ``date-time``, ``date``,
``time``, ``uuid`` and ``email``. Run over a block read by pyarrow with ``read_schema`` (or the
fast path's table, when its columns have those types), it returns the rows that *may* break the
schema. The checks never pass a row jsonschema-rs would refuse
(tests/lakehouse/test_gate_json_schema_vector.py compares both on generated records); a row they
flag goes to jsonschema-rs, which decides and names the violations, so a check may flag a row
that turns out valid where Arrow cannot be exact:

- a value equal to a ``number`` bound (the JSON digits may lie either side of the double), any
  ``number`` with ``enum``/``const``/``multipleOf``, a non-integer ``multipleOf``;
- a ``pattern`` outside the syntax ECMA-262 and RE2 read alike (``.``, ``\\s``, ``\\b``,
  lookarounds, back-references, ``\\u`` escapes ...), a format other than the five, a string
  that matches its format only in a rarer form (``23:59:60``, February 29, quoted e-mail names);
- a null where the schema refuses one (Arrow cannot tell a null sent from a property left out),
  on a line whose text sends that member's name with ``null`` (or holds a backslash, which may
  escape a name); a null in a ``required`` property.

A schema using anything else (``oneOf``/``anyOf``/``allOf``/``not``, ``if``/``then``, ``$ref``,
``dependentRequired``, ``patternProperties``, ``additionalProperties`` with a schema,
``unevaluated*``, tuples, untyped properties, draft-04's boolean ``exclusiveMinimum`` ...) has no
vector check: ``vector_check`` returns None and every line goes to the validator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"}
)
_ROOT_ONLY = frozenset({"$schema", "$id", "$defs", "definitions"})  # unreachable without ``$ref``
_KEYWORDS = {
    "string": {"minLength", "maxLength", "pattern", "format"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "boolean": set(),
    "object": {"properties", "required", "additionalProperties"},
    "array": {"items", "minItems", "maxItems", "uniqueItems"},
}
_ARROW = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}

_DAY = r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
FORMATS = {
    "date-time": f"^{_DAY}[Tt]{_TIME}$",
    "date": f"^{_DAY}$",
    "time": f"^{_TIME}$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "email": rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*$",
}
"""RE2 patterns of the common form of each format; every string they match jsonschema-rs accepts."""
_EMAIL_MAX = 64  # within every length limit of RFC 5321 (local part, label, whole address)

_CLASS_ITEM = r"\\[dDwWntrf]|\\[^A-Za-z0-9]|[^\\\[\]]"
_SAFE_PATTERN = re.compile(
    rf"(?:\\[dDwWntrf]|\\[^A-Za-z0-9]|\[\^?(?:{_CLASS_ITEM})+\]|\{{\d+(?:,\d*)?\}}|\(\?:|[()|*+?^$]|[^\\\[\](){{}}.|*+?^$])*"
)
"""Pattern syntax with one meaning in ECMA-262 (as jsonschema-rs reads it) and in RE2: literals,
classes, ``\\d``/``\\w`` (ASCII in both), groups, alternation, quantifiers, ``^``/``$`` (whole
input in both); ``.`` and ``\\s`` differ (line terminators, Unicode spaces) and are left out."""


class _Unsupported(Exception):
    """The schema says something without an Arrow check: the validator sees every line."""


Suspects = tuple[np.ndarray, dict[str, np.ndarray]]
"""Per value: may break the schema; and per member name, breaks it if that member's null was sent."""
Check = Callable[[pa.Array], Suspects]


@dataclass(frozen=True)
class VectorCheck:
    """``read_schema`` reads a block (``unexpected`` fields: ``error`` when an object is closed).
    ``suspects`` of that table: the rows for the validator, and per member name the rows for it
    if their line sends that member as ``null`` (pyarrow reads a member left out as null too)."""

    read_schema: pa.Schema
    unexpected: str
    check: Check

    def suspects(self, table: pa.Table) -> Suspects:
        return self.check(table.to_struct_array().combine_chunks())


def vector_check(schema: dict) -> VectorCheck | None:
    """The schema's Arrow checks, or None when the validator must see every line."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    closed: list[bool] = []
    root = {key: value for key, value in schema.items() if key not in _ROOT_ONLY}
    try:
        arrow_type, check, _ = _node({**root, "type": "object"}, closed)
    except _Unsupported:
        return None
    return VectorCheck(pa.schema(list(arrow_type)), "error" if closed else "ignore", check)


def _node(schema, closed: list[bool]) -> tuple[pa.DataType, Check, bool]:
    """One property's Arrow type (as pyarrow reads it), its check, and whether a null sent breaks it."""
    if not isinstance(schema, dict):
        raise _Unsupported("a boolean schema")
    kind, nullable = _type(schema.get("type"))
    unknown = set(schema) - _ANNOTATIONS - _KEYWORDS[kind] - {"type", "enum", "const"}
    if unknown:
        raise _Unsupported(", ".join(sorted(unknown)))
    if kind == "object":
        arrow_type, check = _object(schema, closed)
    elif kind == "array":
        arrow_type, check = _array(schema, closed)
    else:
        arrow_type, check = _ARROW[kind], _scalar(kind, schema)
    return arrow_type, check, not nullable or _refuses_null(schema)


def _type(declared) -> tuple[str, bool]:
    names = [declared] if isinstance(declared, str) else declared
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise _Unsupported("a property without one JSON type")
    kinds = [name for name in names if name != "null"]
    if len(kinds) != 1 or kinds[0] not in _KEYWORDS:
        raise _Unsupported(f"type {declared!r}")
    return kinds[0], "null" in names


def _refuses_null(schema: dict) -> bool:
    return ("enum" in schema and None not in schema["enum"]) or (
        "const" in schema and schema["const"] is not None
    )


def _object(schema: dict, closed: list[bool]) -> tuple[pa.DataType, Check]:
    properties = schema.get("properties")
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not properties or extra not in (True, False):
        raise _Unsupported("an object without properties, or additionalProperties with a schema")
    if extra is False:
        closed.append(True)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise _Unsupported("required is not a list of names")
    if not set(required) <= set(properties) or "enum" in schema or "const" in schema:
        raise _Unsupported("required names an undeclared property, or an object enum")
    children = [(name, *_node(sub, closed)) for name, sub in properties.items()]
    arrow_type = pa.struct([pa.field(name, child_type) for name, child_type, _, _ in children])

    def check(values: pa.Array) -> Suspects:
        present = ~_nulls(values)
        suspect, if_null = np.zeros(len(values), bool), {}
        for name, _, child, null_refused in children:
            member = pc.struct_field(values, name)
            child_suspect, child_if_null = child(member)
            suspect |= child_suspect & present
            for inner, rows in child_if_null.items():
                _merge(if_null, inner, rows & present)
            if name in required:
                suspect |= _nulls(member) & present
            elif null_refused:
                _merge(if_null, name, _nulls(member) & present)
        return suspect, if_null

    return arrow_type, check


def _array(schema: dict, closed: list[bool]) -> tuple[pa.DataType, Check]:
    items = schema.get("items")
    if not isinstance(items, dict) or "enum" in schema or "const" in schema:
        raise _Unsupported("an array without one items schema, or an array enum")
    item_type, item_check, null_refused = _node(items, closed)
    low, high = _count(schema.get("minItems")), _count(schema.get("maxItems"))
    unique = schema.get("uniqueItems", False)

    def check(values: pa.Array) -> Suspects:
        lengths = pc.list_value_length(values)
        suspect = _where(_outside(lengths, low, high))
        if unique:
            suspect |= _where(pc.greater(lengths, 1))
        elements = pc.list_flatten(values)
        parents = np.asarray(pc.list_parent_indices(values))
        element_suspect, element_if_null = item_check(elements)
        if null_refused:  # an element is never left out: its null was sent
            element_suspect = element_suspect | _nulls(elements)
        suspect |= _any_per_parent(parents, element_suspect, len(values))
        if_null = {
            name: _any_per_parent(parents, rows, len(values)) for name, rows in element_if_null.items()
        }
        return suspect, if_null

    return pa.list_(item_type), check


def _scalar(kind: str, schema: dict) -> Check:
    """The checks of a string, integer, number or boolean property (nulls pass here; see ``_node``)."""
    tests: list[Callable[[pa.Array], pa.Array]] = []  # each true where the value may break the schema
    if "enum" in schema or "const" in schema:
        tests.append(_membership(kind, schema["enum"] if "enum" in schema else [schema["const"]]))
    if kind == "string":
        tests += _string_tests(schema)
    elif kind == "integer":
        tests += _integer_tests(schema)
    elif kind == "number":
        tests += _number_tests(schema)

    def check(values: pa.Array) -> Suspects:
        suspect = np.zeros(len(values), bool)
        for test in tests:
            suspect |= _where(test(values))
        return suspect, {}

    return check


def _membership(kind: str, allowed: list) -> Callable[[pa.Array], pa.Array]:
    if not isinstance(allowed, list):
        raise _Unsupported("enum is not a list")
    if kind == "number":  # the JSON digits may differ from the double pyarrow read: let the validator say
        return pc.is_valid
    if kind == "string":
        kept = [value for value in allowed if isinstance(value, str)]
    elif kind == "boolean":
        kept = [value for value in allowed if isinstance(value, bool)]
    else:
        kept = [int(v) for v in allowed if _is_number(v) and abs(v) < 2**63 and float(v).is_integer()]
    value_set = pa.array(kept, _ARROW[kind])
    return lambda values: pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=value_set)))


def _string_tests(schema: dict) -> list[Callable[[pa.Array], pa.Array]]:
    tests = []
    low, high = _count(schema.get("minLength")), _count(schema.get("maxLength"))
    if low is not None or high is not None:
        tests.append(lambda values: _outside(pc.utf8_length(values), low, high))
    if "pattern" in schema:
        pattern = schema["pattern"]
        if _re2_reads_alike(pattern):
            tests.append(lambda values: pc.invert(pc.match_substring_regex(values, pattern)))
        else:
            tests.append(pc.is_valid)
    if "format" in schema:
        regex = FORMATS.get(schema["format"]) if isinstance(schema["format"], str) else None
        if regex is None:
            tests.append(pc.is_valid)
        else:
            tests.append(lambda values: pc.invert(pc.match_substring_regex(values, regex)))
            if schema["format"] == "email":
                tests.append(lambda values: pc.greater(pc.utf8_length(values), _EMAIL_MAX))
    return tests


def _re2_reads_alike(pattern) -> bool:
    if not isinstance(pattern, str) or not _SAFE_PATTERN.fullmatch(pattern):
        return False
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _integer_tests(schema: dict) -> list[Callable[[pa.Array], pa.Array]]:
    """Exact on int64: each bound becomes the nearest integer bound on its side."""
    lows = [math.ceil(_bound(schema[k])) for k in ("minimum",) if k in schema]
    lows += [math.floor(_bound(schema[k])) + 1 for k in ("exclusiveMinimum",) if k in schema]
    highs = [math.floor(_bound(schema[k])) for k in ("maximum",) if k in schema]
    highs += [math.ceil(_bound(schema[k])) - 1 for k in ("exclusiveMaximum",) if k in schema]
    low, high = max([-(2**63), *lows]), min([2**63 - 1, *highs])
    tests = []
    if low > high:
        tests.append(pc.is_valid)
    elif lows or highs:
        tests.append(lambda values: _outside(values, low, high))
    if "multipleOf" in schema:
        step = _bound(schema["multipleOf"])
        if float(step).is_integer() and 0 < step < 2**63:

            def not_multiple(values: pa.Array, step=int(step)) -> pa.Array:
                return pa.array(np.remainder(np.asarray(values.fill_null(0)), step) != 0)

            tests.append(not_multiple)
        else:
            tests.append(pc.is_valid)
    return tests


def _number_tests(schema: dict) -> list[Callable[[pa.Array], pa.Array]]:
    """On the doubles pyarrow read: a value equal to a bound may lie on either side of it in its
    JSON digits (rounding is monotonic, so any other comparison holds), and is flagged."""
    tests = []
    for keyword, refused in (
        ("minimum", pc.less_equal),
        ("exclusiveMinimum", pc.less_equal),
        ("maximum", pc.greater_equal),
        ("exclusiveMaximum", pc.greater_equal),
    ):
        if keyword in schema:
            bound = float(_bound(schema[keyword]))
            tests.append(lambda values, refused=refused, bound=bound: refused(values, bound))
    if "multipleOf" in schema:
        _bound(schema["multipleOf"])
        tests.append(pc.is_valid)
    return tests


def _bound(value):
    """A finite bound a double can hold (draft-04's boolean exclusiveMinimum is none, for one)."""
    if not _is_number(value) or abs(value) > 2**1000 or not math.isfinite(value):
        raise _Unsupported(f"bound {value!r}")
    return value


def _count(value):
    """A length bound (``minLength``, ``maxItems`` ...), None when absent."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise _Unsupported(f"length bound {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _outside(values: pa.Array, low, high) -> pa.Array:
    """True where a value is below ``low`` or above ``high`` (either may be None)."""
    if pa.types.is_integer(values.type):
        values = values.cast(pa.int64())
    result = pa.array(np.zeros(len(values), bool))
    if low is not None:
        result = pc.or_(result, pc.less(values, pa.scalar(low, values.type)))
    if high is not None:
        result = pc.or_(result, pc.greater(values, pa.scalar(high, values.type)))
    return result


def _where(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False), dtype=bool)


def _nulls(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.is_null(values), dtype=bool)


def _merge(if_null: dict[str, np.ndarray], name: str, rows: np.ndarray) -> None:
    if_null[name] = if_null[name] | rows if name in if_null else rows


def _any_per_parent(parents: np.ndarray, flags: np.ndarray, count: int) -> np.ndarray:
    result = np.zeros(count, bool)
    result[parents[flags]] = True
    return result
