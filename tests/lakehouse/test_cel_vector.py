"""The vectorised CEL path against cel-python's interpreter: generated expressions over generated
records (nulls, NaN, text beyond ASCII, nested records, a field type without an Arrow form) must
fail exactly the same records both ways, and most of them must take the vectorised path."""

from __future__ import annotations

import datetime
import math
import random

import celpy
import pyarrow as pa
import pytest

from lakehouse.cel_rules import interpreted_failures, vectorised_failures
from lakehouse.cel_vector import Field, Unsupported, compile_condition

SCHEMA = pa.schema(
    [
        ("i", pa.int64()),
        ("j", pa.int32()),
        ("d", pa.float64()),
        ("s", pa.string()),
        ("b", pa.bool_()),
        ("st", pa.struct([("x", pa.int64()), ("y", pa.string())])),
        ("ts", pa.timestamp("us", tz="UTC")),
    ]
)
TEXTS = ["", "a", "ab", "abc", "b", "é", "äbc", "a\n", "xyz", "A1", "ab\u00e9", "zz"]


def records(rng: random.Random, count: int) -> list[dict]:
    def maybe(value):
        return None if rng.random() < 0.2 else value

    rows = []
    for _ in range(count):
        rows.append(
            {
                "i": maybe(rng.randint(-3, 3)),
                "j": maybe(rng.randint(-3, 3)),
                "d": maybe(rng.choice([-1.5, 0.0, 0.5, 2.0, math.nan, 3.0])),
                "s": maybe(rng.choice(TEXTS)),
                "b": maybe(rng.random() < 0.5),
                "st": maybe({"x": maybe(rng.randint(-2, 2)), "y": maybe(rng.choice(TEXTS))}),
                "ts": maybe(datetime.datetime(2026, 1, rng.randint(1, 3), tzinfo=datetime.UTC)),
            }
        )
    return rows


FIELDS = {
    "int": ["message.i", "message.j", "message.st.x", "size(message.s)", "message.s.size()"],
    "double": ["message.d", "double(message.i)", "double(message.d)"],
    "string": ["message.s", "message.st.y"],
    "bool": ["message.b"],
}


def literal(rng: random.Random, kind: str) -> str:
    if kind == "int":
        return str(rng.randint(-3, 3))
    if kind == "double":
        return rng.choice(["0.0", "0.5", "-1.5", "2.0", "3.0"])
    if kind == "string":
        return '"' + rng.choice(TEXTS).replace("\n", "\\n") + '"'
    return rng.choice(["true", "false"])


def operand(rng: random.Random, kind: str) -> str:
    if rng.random() < 0.6:
        return rng.choice(FIELDS[kind])
    return literal(rng, kind)


def condition(rng: random.Random, depth: int = 0) -> str:
    choice = rng.randrange(12 if depth < 3 else 8)
    kinds = list(FIELDS)
    if choice <= 2:  # a comparison, of one kind mostly, mismatched sometimes
        kind = rng.choice(kinds)
        other = kind if rng.random() < 0.85 else rng.choice(kinds)
        op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
        return f"{operand(rng, kind)} {op} {operand(rng, other)}"
    if choice == 3:
        kind = rng.choice(kinds)
        items = ", ".join(literal(rng, kind) for _ in range(rng.randint(0, 3)))
        return f"{rng.choice(FIELDS[kind])} in [{items}]"
    if choice == 4:
        method = rng.choice(["startsWith", "endsWith", "contains", "matches"])
        argument = rng.choice(['"a"', '""', '"b"', '"é"', '"^a"', '"c$"', '"[a-c]+"', '"^.$"'])
        return f"{rng.choice(FIELDS['string'])}.{method}({argument})"
    if choice == 5:
        field = rng.choice(["message.i", "message.s", "message.st", "message.st.y", "message.ts"])
        return f"type({field}) {rng.choice(['==', '!='])} null_type"
    if choice == 6:
        field = rng.choice(["message.i", "message.s", "message.b", "message.st"])
        return f"{field} {rng.choice(['==', '!='])} null"
    if choice == 7:
        return rng.choice(["message.b", "true", "false", "message.i"])
    if choice == 8:
        return f"!({condition(rng, depth + 1)})"
    if choice == 9:
        return f"({condition(rng, depth + 1)})"
    op = rng.choice(["&&", "||"])
    return f"{condition(rng, depth + 1)} {op} {condition(rng, depth + 1)}"


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_conditions_fail_the_same_records_as_the_interpreter(seed):
    rng = random.Random(seed)
    rows = records(rng, 60)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    environment = celpy.Environment()
    vectorised = 0
    for _ in range(150):
        expression = condition(rng)
        rule = {"name": "r", "type": "CEL", "expr": expression}
        tree = environment.compile(expression)
        fast = vectorised_failures(tree, rule, table, {})
        slow = interpreted_failures(environment.program(tree), rule, table.to_pylist(), {})
        if fast is not None:
            vectorised += 1
            assert sorted(fast) == sorted(slow), expression
    assert vectorised >= 120  # the test is about the vectorised path: most expressions take it


def test_cel_field_rules_bind_each_tagged_field_the_same_both_ways():
    rng = random.Random(7)
    table = pa.Table.from_pylist(records(rng, 80), schema=SCHEMA)
    tagged = {"s": {"PII"}, "st.y": {"PII"}, "i": {"OTHER"}}
    environment = celpy.Environment()
    for expression in (
        'value == null || value.startsWith("a")',
        "size(value) < 3",
        'name == "y" || value != "b"',
        'type(value) == null_type || value.matches("^[a-c]+$")',
        'value in ["a", "ab"] && message.i > 0',
    ):
        rule = {"name": "f", "type": "CEL_FIELD", "expr": expression, "tags": ["PII"]}
        tree = environment.compile(expression)
        fast = vectorised_failures(tree, rule, table, tagged)
        slow = interpreted_failures(environment.program(tree), rule, table.to_pylist(), tagged)
        assert fast is not None, expression
        assert sorted(fast) == sorted(slow), expression
        assert {field for _, field in fast} <= {"s", "st.y"}


@pytest.mark.parametrize(
    "expression",
    [
        "message.i + 1 > 2",  # arithmetic
        "message.i > 1 ? true : false",  # conditional
        'message.ts == "x"',  # a field type without an Arrow form
        "message.s.matches('(?=a)')",  # a pattern RE2 refuses
        'message.i in [1, "a"]',  # a list of mixed types
        "message.missing > 1",  # a field the batch does not have
        "has(message.i)",  # a macro
        "type(message.i) == int",
    ],
)
def test_expressions_without_an_arrow_form_go_to_the_interpreter(expression):
    table = pa.Table.from_pylist(records(random.Random(1), 5), schema=SCHEMA)
    tree = celpy.Environment().compile(expression)
    with pytest.raises(Unsupported):
        compile_condition(tree, {"message": Field()})(table)
    assert vectorised_failures(tree, {"name": "r", "type": "CEL", "expr": expression}, table, {}) is None
