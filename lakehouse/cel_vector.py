"""CEL conditions evaluated on a whole Arrow batch with pyarrow.compute, with cel-python's results.

``compile_condition(tree, variables)`` turns a parsed CEL expression (cel-python's syntax tree) into
a function of a table that returns, per row, whether the condition is ``true``. It covers what maps
to Arrow compute: field access (nested structs too), literals, ``== != < <= > >=``, ``&& || !``,
``in`` a list literal, ``size()``, ``startsWith`` / ``endsWith`` / ``contains`` / ``matches`` with a
literal argument, ``double()``, and null checks (``x == null``, ``type(x) == null_type``). Anything
else raises ``Unsupported`` and the caller evaluates the rule per record through the interpreter.

Each value is three-valued per row: a value, a CEL ``null`` (an Arrow null), or an error. The rules
are cel-python's (checked by tests/lakehouse/test_cel_vector.py against the interpreter): no
implicit numeric conversion (``int == double`` is an error), ``null`` equals only ``null`` and is an
error beside any other operand, ``&&`` and ``||`` absorb errors (``false && error`` is false), a null
boolean operand counts as an error, ``size(null)`` is 0, a field of a null struct is an error,
``double(null)`` is 0.0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import celpy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lark import Token, Tree

_COMPARISONS = {
    "relation_eq": "equal",
    "relation_ne": "not_equal",
    "relation_lt": "less",
    "relation_le": "less_equal",
    "relation_gt": "greater",
    "relation_ge": "greater_equal",
}
_STRING_METHODS = {"startsWith": "starts_with", "endsWith": "ends_with", "contains": "match_substring"}
_LITERALS = {"INT_LIT": int, "FLOAT_LIT": float, "STRING_LIT": str, "BOOL_LIT": bool}


class Unsupported(Exception):
    """The expression uses something without an Arrow form: evaluate it per record instead."""


@dataclass
class Value:
    """One value per row: ``kind`` is int, double, string, bool, struct, null (a null literal),
    type (the result of ``type(x)``: ``data`` says where x is null) or other (a field of a type
    without an Arrow form, usable only in a null check). ``data`` is an Arrow array, or a Python
    value for a literal; ``error`` marks the rows where evaluating it is an error."""

    kind: str
    data: Any
    error: np.ndarray | None = None
    literal: bool = False


@dataclass(frozen=True)
class Field:
    """An identifier bound to the record (``path=""``) or to one field of it (``"a.b"``: null when
    a record on the way is null, as CEL_FIELD binds ``value``)."""

    path: str = ""


Condition = Callable[[pa.Table], np.ndarray]
"""A compiled condition: the table's rows where it is ``true``. Support can depend on the field
types, known only with the table: a condition may also raise ``Unsupported`` when it runs."""


def compile_condition(tree: Tree, variables: dict[str, Field | str]) -> Condition:
    """``variables`` binds each identifier to a ``Field`` or to a text constant (such as a
    CEL_FIELD rule's ``name``)."""
    compiled = _node(tree, variables)

    def condition(table: pa.Table) -> np.ndarray:
        value = compiled(_Batch(table))
        if value.kind != "bool":
            return np.zeros(table.num_rows, dtype=bool)
        true, _ = _truth(value, table.num_rows)
        return true

    return condition


class _Batch:
    def __init__(self, table: pa.Table):
        self.table = table
        self.rows = table.num_rows


Node = Callable[[_Batch], Value]


def _node(tree: Tree | Token, variables: dict) -> Node:
    if isinstance(tree, Token):
        raise Unsupported(f"token {tree.type}")
    handler = _HANDLERS.get(tree.data)
    if handler is None:
        raise Unsupported(tree.data)
    return handler(tree, variables)


def _single(tree: Tree, variables: dict) -> Node:
    """Grammar levels with one child (``expr`` without ``?:``, ``addition`` without ``+``, ...)."""
    if len(tree.children) != 1:
        raise Unsupported(f"{tree.data} with {len(tree.children)} operands")
    return _node(tree.children[0], variables)


def _logic(tree: Tree, variables: dict) -> Node:
    if len(tree.children) == 1:
        return _node(tree.children[0], variables)
    left, right = (_node(child, variables) for child in tree.children)
    both = tree.data == "conditionaland"

    def run(batch: _Batch) -> Value:
        left_true, left_false = _truth(left(batch), batch.rows)
        right_true, right_false = _truth(right(batch), batch.rows)
        if both:
            true, false = left_true & right_true, left_false | right_false
        else:
            true, false = left_true | right_true, left_false & right_false
        return Value("bool", pa.array(true), ~(true | false))

    return run


def _unary(tree: Tree, variables: dict) -> Node:
    if len(tree.children) == 1:
        return _node(tree.children[0], variables)
    operator, operand = tree.children
    if not isinstance(operator, Tree) or operator.data != "unary_not":
        raise Unsupported("unary minus")
    inner = _node(operand, variables)

    def run(batch: _Batch) -> Value:
        true, false = _truth(inner(batch), batch.rows)
        return Value("bool", pa.array(false), ~(true | false))

    return run


def _relation(tree: Tree, variables: dict) -> Node:
    """``relation`` is one operand, or ``[relation_OP(left), right]``."""
    if len(tree.children) == 1:
        return _node(tree.children[0], variables)
    operator, right = tree.children
    (left,) = operator.children
    if operator.data in _COMPARISONS:
        return _comparison(operator.data, _node(left, variables), _node(right, variables))
    if operator.data == "relation_in":
        return _membership(_node(left, variables), right)
    raise Unsupported(operator.data)


def _comparison(operator: str, left: Node, right: Node) -> Node:
    function = _COMPARISONS[operator]
    equality = function in ("equal", "not_equal")

    def run(batch: _Batch) -> Value:
        a, b = left(batch), right(batch)
        rows = batch.rows
        error = _either(a.error, b.error, rows)
        if a.kind == "type" or b.kind == "type":
            return _type_check(a, b, function, error, rows)
        if not {a.kind, b.kind} <= _SCALARS:
            raise Unsupported(f"comparing {a.kind} with {b.kind}")
        kinds = {a.kind, b.kind} - {"null"}
        if len(kinds) > 1:  # cel-python's mixed-type comparisons follow Python's, not CEL's
            raise Unsupported(f"comparing {a.kind} with {b.kind}")
        kind = kinds.pop() if kinds else "null"
        a_null, b_null = _nulls(a, rows), _nulls(b, rows)
        both, one = a_null & b_null, a_null ^ b_null
        if not equality:
            if kind == "null":
                return _errors(rows)
            error = error | a_null | b_null
            result = _filled(getattr(pc, function)(_operand(a, kind), _operand(b, kind)), rows)
        else:
            # null equals null; beside a value it is unequal to text and booleans, an error otherwise
            if kind == "null":
                equal = np.ones(rows, dtype=bool)
            else:
                equal = both | _filled(pc.equal(_operand(a, kind), _operand(b, kind)), rows)
                if kind in ("int", "double"):
                    error = error | one
            result = equal if function == "equal" else ~equal
        return Value("bool", pa.array(result), error)

    return run


def _type_check(a: Value, b: Value, function: str, error: np.ndarray, rows: int) -> Value:
    """``type(x) == null_type`` (or ``!=``): whether x is null."""
    if function not in ("equal", "not_equal") or {a.kind, b.kind} != {"type", "null_type"}:
        raise Unsupported("type() compared with something other than null_type")
    is_null = (a if a.kind == "type" else b).data
    return Value("bool", pa.array(is_null if function == "equal" else ~is_null), error)


def _membership(needle: Node, haystack: Tree) -> Node:
    items = _list_literal(haystack)
    kinds = {kind for kind, _ in items}
    if len(kinds) > 1 or kinds & {"null"}:
        raise Unsupported("a list of mixed types")
    kind = kinds.pop() if kinds else None
    values = [value for _, value in items]

    def run(batch: _Batch) -> Value:
        a = needle(batch)
        rows = batch.rows
        if kind is None:  # x in []: false, even for an error-free null
            return Value("bool", pa.array(np.zeros(rows, dtype=bool)), a.error)
        if a.kind not in _SCALARS or a.kind == "null":
            raise Unsupported(f"{a.kind} in a list")
        if a.kind != kind:
            return _errors(rows)
        error = _either(a.error, None, rows) | _nulls(a, rows)
        found = _filled(pc.is_in(_operand(a, kind), value_set=pa.array(values, _ARROW[kind])), rows)
        return Value("bool", pa.array(found), error)

    return run


def _list_literal(tree: Tree) -> list[tuple[str, Any]]:
    """The (kind, value) items of a list literal of literals: ``addition > ... > primary > list_lit``."""
    node = tree
    while isinstance(node, Tree) and node.data != "list_lit" and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, Tree) or node.data != "list_lit":
        raise Unsupported("in over something other than a list literal")
    if not node.children:
        return []
    (exprlist,) = node.children
    items = []
    for expr in exprlist.children:
        literal = expr
        while isinstance(literal, Tree) and literal.data != "literal" and len(literal.children) == 1:
            literal = literal.children[0]
        if not isinstance(literal, Tree) or literal.data != "literal":
            raise Unsupported("a list item that is not a literal")
        value = _literal(literal)
        items.append((value.kind, value.data))
    return items


def _member(tree: Tree, variables: dict) -> Node:
    return _single(tree, variables)


def _member_dot(tree: Tree, variables: dict) -> Node:
    target, name = tree.children
    inner = _node(target, variables)
    name = str(name)

    def run(batch: _Batch) -> Value:
        parent = inner(batch)
        if parent.kind != "struct":
            raise Unsupported("a field of a non-record")
        array = parent.data
        if isinstance(array, pa.Table):
            if name not in array.column_names:
                raise Unsupported(f"unknown field {name}")
            return _column(array.column(name), parent.error)
        if array.type.get_field_index(name) < 0:
            raise Unsupported(f"unknown field {name}")
        error = _either(parent.error, None, batch.rows) | _filled(array.is_null(), batch.rows)
        return _column(pc.struct_field(array, name), error)

    return run


def _member_dot_arg(tree: Tree, variables: dict) -> Node:
    target, method, *rest = tree.children
    method = str(method)
    arguments = rest[0].children if rest and rest[0] is not None else []
    inner = _node(target, variables)
    if method == "size" and not arguments:
        return _size(inner)
    if len(arguments) != 1:
        raise Unsupported(f"method {method}")
    argument = _literal_of(arguments[0])
    if argument.kind != "string":
        raise Unsupported(f"{method} with a non-text argument")
    if method in _STRING_METHODS:
        function = getattr(pc, _STRING_METHODS[method])
        return _string_method(inner, lambda array: function(array, pattern=argument.data))
    if method == "matches":
        try:
            pc.match_substring_regex(pa.array([""]), pattern=argument.data)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise Unsupported("a pattern Arrow's RE2 refuses") from None
        return _string_method(inner, lambda array: pc.match_substring_regex(array, pattern=argument.data))
    raise Unsupported(f"method {method}")


def _string_method(inner: Node, apply: Callable[[pa.Array], pa.Array]) -> Node:
    def run(batch: _Batch) -> Value:
        value = inner(batch)
        rows = batch.rows
        if value.kind != "string" or value.literal:
            raise Unsupported(f"a text method on {value.kind}")
        error = _either(value.error, None, rows) | _nulls(value, rows)
        return Value("bool", pa.array(_filled(apply(_operand(value, "string")), rows)), error)

    return run


def _size(inner: Node) -> Node:
    def run(batch: _Batch) -> Value:
        value = inner(batch)
        if value.kind != "string" or value.literal:
            raise Unsupported("size() of something other than a text field")
        lengths = pc.fill_null(pc.utf8_length(value.data), 0).cast(pa.int64())  # size(null) is 0
        return Value("int", lengths, value.error)

    return run


def _primary(tree: Tree, variables: dict) -> Node:
    (child,) = tree.children
    if isinstance(child, Tree) and child.data == "literal":
        value = _literal(child)
        return lambda batch: value
    if isinstance(child, Tree) and child.data == "paren_expr":
        return _node(child.children[0], variables)
    if isinstance(child, Tree) and child.data == "ident":
        return _ident(str(child.children[0]), variables)
    if isinstance(child, Tree) and child.data == "ident_arg":
        return _call(child, variables)
    raise Unsupported(child.data if isinstance(child, Tree) else str(child))


def _ident(name: str, variables: dict) -> Node:
    if name == "null_type":
        return lambda batch: Value("null_type", None, literal=True)
    if name not in variables:
        raise Unsupported(f"identifier {name}")
    bound = variables[name]
    if isinstance(bound, str):
        constant = Value("string", bound, literal=True)
        return lambda batch: constant
    path = bound.path

    def run(batch: _Batch) -> Value:
        if not path:
            return Value("struct", batch.table)
        first, *rest = path.split(".")
        if first not in batch.table.column_names:
            raise Unsupported(f"unknown field {first}")
        array = batch.table.column(first)
        for part in rest:
            if not pa.types.is_struct(array.type) or array.type.get_field_index(part) < 0:
                raise Unsupported(f"unknown field {path}")
            array = pc.struct_field(array, part)
        return _column(array, None)

    return run


def _call(tree: Tree, variables: dict) -> Node:
    name, *rest = tree.children
    arguments = rest[0].children if rest and rest[0] is not None else []
    if len(arguments) != 1:
        raise Unsupported(f"function {name}")
    inner = _node(arguments[0], variables)
    if str(name) == "size":
        return _size(inner)
    if str(name) == "type":

        def type_of(batch: _Batch) -> Value:
            value = inner(batch)
            return Value("type", _nulls(value, batch.rows), value.error)

        return type_of
    if str(name) == "double":

        def as_double(batch: _Batch) -> Value:
            value = inner(batch)
            if value.kind not in ("int", "double") or value.literal:
                raise Unsupported("double() of something other than a number field")
            return Value("double", pc.fill_null(value.data.cast(pa.float64()), 0.0), value.error)

        return as_double
    raise Unsupported(f"function {name}")


def _literal(tree: Tree) -> Value:
    (token,) = tree.children
    if token.type == "NULL_LIT":
        return Value("null", None, literal=True)
    if token.type not in _LITERALS:
        raise Unsupported(f"literal {token.type}")
    kind = {"INT_LIT": "int", "FLOAT_LIT": "double", "STRING_LIT": "string", "BOOL_LIT": "bool"}[token.type]
    if kind == "string":
        if token.value[:1] in "rRbB" or token.value.startswith(('"""', "'''")):
            raise Unsupported("raw, bytes or triple-quoted text")
        environment = celpy.Environment()  # the interpreter's own reading of escapes
        text = str(environment.program(environment.compile(token.value)).evaluate({}))
        return Value("string", text, literal=True)
    if kind == "bool":
        return Value("bool", token.value == "true", literal=True)
    number = _LITERALS[token.type](token.value)
    if kind == "int" and not -(2**63) <= number < 2**63:
        raise Unsupported("an integer beyond 64 bits")
    return Value(kind, number, literal=True)


def _literal_of(tree: Tree) -> Value:
    node = tree
    while isinstance(node, Tree) and node.data != "literal" and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, Tree) or node.data != "literal":
        raise Unsupported("an argument that is not a literal")
    return _literal(node)


_HANDLERS: dict[str, Callable[[Tree, dict], Node]] = {
    "expr": _single,
    "conditionalor": _logic,
    "conditionaland": _logic,
    "relation": _relation,
    "addition": _single,
    "multiplication": _single,
    "unary": _unary,
    "member": _member,
    "member_dot": _member_dot,
    "member_dot_arg": _member_dot_arg,
    "primary": _primary,
}

_SCALARS = {"int", "double", "string", "bool", "null"}
_ARROW = {"int": pa.int64(), "double": pa.float64(), "string": pa.string(), "bool": pa.bool_()}


def _column(array: pa.Array | pa.ChunkedArray, error: np.ndarray | None) -> Value:
    """A field's values as a CEL value of the kind its Arrow type maps to (as ``json_to_cel`` reads
    the Python values ``to_pylist`` gives)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind_of = array.type
    if pa.types.is_integer(kind_of) and kind_of != pa.uint64():
        return Value("int", array.cast(pa.int64()), error)
    if pa.types.is_floating(kind_of):
        return Value("double", array.cast(pa.float64()), error)
    if pa.types.is_string(kind_of) or pa.types.is_large_string(kind_of):
        return Value("string", array.cast(pa.string()), error)
    if pa.types.is_boolean(kind_of):
        return Value("bool", array, error)
    if pa.types.is_struct(kind_of):
        return Value("struct", array, error)
    return Value("other", array, error)


def _errors(rows: int) -> Value:
    return Value("bool", pa.array(np.zeros(rows, dtype=bool)), np.ones(rows, dtype=bool))


def _operand(value: Value, kind: str):
    """The value as an Arrow array or scalar of ``kind`` (a null literal takes its operand's kind)."""
    if value.literal:
        return pa.scalar(value.data, _ARROW[kind])
    return value.data


def _nulls(value: Value, rows: int) -> np.ndarray:
    if value.literal:
        return np.full(rows, value.data is None)
    if isinstance(value.data, np.ndarray):
        return np.zeros(rows, dtype=bool)
    return _filled(value.data.is_null(), rows)


def _filled(array, rows: int) -> np.ndarray:
    """A boolean Arrow array (or scalar) as numpy, nulls as false."""
    if isinstance(array, pa.Scalar):
        return np.full(rows, bool(array.as_py()))
    return np.asarray(pc.fill_null(array, False), dtype=bool)


def _either(a: np.ndarray | None, b: np.ndarray | None, rows: int) -> np.ndarray:
    error = np.zeros(rows, dtype=bool)
    for mask in (a, b):
        if mask is not None:
            error = error | mask
    return error


def _truth(value: Value, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows where a condition is true and where it is false; the others are errors (a null or a
    non-boolean operand counts as one)."""
    if value.kind != "bool":
        return np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool)
    error = _either(value.error, None, rows) | _nulls(value, rows)
    if value.literal:
        data = np.full(rows, bool(value.data))
    else:
        data = _filled(value.data, rows)
    return data & ~error, ~data & ~error
