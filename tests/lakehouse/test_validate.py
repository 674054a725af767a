"""validate(): required fields, enum symbols and every quality rule, over Arrow tables."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.validate import REDACTED, Chunk, UniqueTracker, column_values, validate
from registry.contract import Contract, ContractMetadata, QualityRule
from registry.errors import InvalidArgument

ADDRESS = pa.struct([pa.field("city", pa.string()), pa.field("zip", pa.string(), nullable=False)])
ITEM = pa.struct([pa.field("sku", pa.string()), pa.field("quantity", pa.int32())])
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("email", pa.string()),
        pa.field("amount", pa.float64()),
        pa.field("currency", pa.string(), metadata={b"enum": json.dumps(["EUR", "USD"]).encode()}),
        pa.field("shipping", ADDRESS),
        pa.field("items", pa.list_(ITEM)),
    ]
)


def contract(*rules: QualityRule, pii: list[str] | None = None) -> Contract:
    metadata = ContractMetadata(pii_fields=pii or [], quality_rules=list(rules))
    return Contract(subject="t.Row", format="AVRO", schema="{}", metadata=metadata)


def table(*rows: dict) -> pa.Table:
    base = {"id": "a", "email": "a@x.io", "amount": 1.0, "currency": "EUR", "shipping": None, "items": []}
    return pa.Table.from_pylist([{**base, **row} for row in rows], schema=SCHEMA)


def check(data: pa.Table, rules_contract: Contract, first_row: int = 1, **options):
    """validate() with the table's own schema as the declared one (these contracts carry no schema)."""
    return validate(data, rules_contract, first_row, schema=data.schema, **options)


def found(violations) -> list[tuple]:
    return [(v.row, v.field, v.rule, v.value) for v in violations]


def test_a_clean_table_has_no_violations():
    rules = [QualityRule("amount", "min", value=0), QualityRule("id", "unique")]

    assert check(table({"id": "a"}, {"id": "b"}), contract(*rules)) == []


def test_not_null_names_row_and_field():
    violations = check(table({}, {"amount": None}), contract(QualityRule("amount", "not_null")), first_row=10)

    assert found(violations) == [(11, "amount", "not_null", "null")]
    assert violations[0].message == "amount must not be null"


def test_accepted_values_min_max_and_regex_each_report_the_value():
    rules = [
        QualityRule("currency", "accepted_values", values=("EUR",)),
        QualityRule("amount", "min", value=0),
        QualityRule("amount", "max", value=100),
        QualityRule("id", "regex", value="^[a-z]+$"),
    ]
    rows = table({}, {"currency": "USD"}, {"amount": -1.5}, {"amount": 250.0}, {"id": "A-1"})

    assert found(check(rows, contract(*rules))) == [
        (2, "currency", "accepted_values", "USD"),
        (3, "amount", "min", "-1.5"),
        (4, "amount", "max", "250.0"),
        (5, "id", "regex", "A-1"),
    ]


@pytest.mark.parametrize("pattern", ["^https://", "^a b-c_d:", "^", "^https.", "^http(s)?://", "https://"])
def test_a_literal_prefix_rule_flags_the_same_rows_as_re2(pattern):
    """``^`` plus plain characters is checked as a prefix; anything else (``.``, groups, no
    anchor) still goes to RE2: both give the same rows."""
    ids = ["https://x", "http://x", "xhttps://", "a b-c_d:e", "httpsX//", "", None]
    rows = pa.Table.from_pylist([{"id": i} for i in ids], schema=pa.schema([pa.field("id", pa.string())]))
    rule = QualityRule("id", "regex", value=pattern)
    expected = [
        row for row, value in enumerate(ids, 1) if value is not None and not re.search(pattern, value)
    ]

    assert [v.row for v in check(rows, contract(rule))] == expected


def test_enum_symbols_come_from_the_schema():
    violations = check(table({"currency": "XXX"}), contract())

    assert found(violations) == [(1, "currency", "enum", "XXX")]
    assert "not a symbol of the enum (EUR, USD)" in violations[0].message


def test_nested_struct_path_is_checked_only_where_the_parent_is_present():
    rows = table({}, {"shipping": {"city": None, "zip": "1"}}, {"shipping": {"city": "Oslo", "zip": "2"}})

    assert found(check(rows, contract(QualityRule("shipping.city", "not_null")))) == [
        (2, "shipping.city", "not_null", "null")
    ]


def test_required_field_inside_a_struct_is_reported_with_its_path():
    rows = pa.Table.from_pylist(
        [{"id": "a", "shipping": {"city": "x", "zip": None}}],
        schema=pa.schema([SCHEMA.field("id"), pa.field("shipping", ADDRESS)]),
    )

    assert found(check(rows, contract())) == [(1, "shipping.zip", "required", "null")]


def test_list_element_path_maps_each_element_back_to_its_row():
    rows = table(
        {"items": [{"sku": "s1", "quantity": 1}]},
        {"items": [{"sku": "s2", "quantity": 0}, {"sku": "s3", "quantity": -2}]},
    )

    assert found(check(rows, contract(QualityRule("items[].quantity", "min", value=1)))) == [
        (2, "items[].quantity", "min", "0"),
        (2, "items[].quantity", "min", "-2"),
    ]


def test_unique_within_a_table_names_the_first_row():
    violations = check(table({"id": "a"}, {"id": "b"}, {"id": "a"}), contract(QualityRule("id", "unique")))

    assert found(violations) == [(3, "id", "unique", "a")]
    assert "repeats the value of row 1" in violations[0].message


def test_unique_across_chunks_through_one_tracker():
    rule = contract(QualityRule("id", "unique"))
    tracker = UniqueTracker()

    first = check(table({"id": "a"}, {"id": "b"}), rule, first_row=1, unique=tracker)
    second = check(table({"id": "c"}, {"id": "b"}, {"id": "c"}), rule, first_row=3, unique=tracker)

    assert first == []
    assert [(v.row, v.message) for v in second] == [
        (4, "id: b repeats the value of row 2 (must be unique within the batch)"),
        (5, "id: c repeats the value of row 3 (must be unique within the batch)"),
    ]


def test_pii_values_never_appear_in_value_or_message():
    rules = [QualityRule("email", "regex", value="^[^@]+@[^@]+$"), QualityRule("email", "unique")]
    rows = table({"email": "bad-address"}, {"email": "x@y.z"}, {"email": "x@y.z"})

    violations = check(rows, contract(*rules, pii=["email"]))

    assert [(v.row, v.rule, v.value) for v in violations] == [(1, "regex", REDACTED), (3, "unique", REDACTED)]
    assert not any("bad-address" in v.message or "x@y.z" in v.message for v in violations)


def test_pii_struct_redacts_its_children():
    rows = table({"shipping": {"city": "", "zip": "1"}})

    violations = check(rows, contract(QualityRule("shipping.city", "regex", value=".+"), pii=["shipping"]))

    assert found(violations) == [(1, "shipping.city", "regex", REDACTED)]


def test_explicit_row_numbers_are_used_when_rows_were_taken_out():
    rows = pa.array([3, 7], pa.int64())

    violations = check(
        table({}, {"amount": -1.0}), contract(QualityRule("amount", "min", value=0)), rows=rows
    )

    assert found(violations) == [(7, "amount", "min", "-1.0")]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (QualityRule("nope", "not_null"), "'nope' is not a column"),
        (QualityRule("shipping.street", "not_null"), "shipping has no field 'street'"),
        (QualityRule("id", "min", value=0), "the field is string, not a number"),
        (QualityRule("amount", "accepted_values", values=("high",)), "do not fit the field's type double"),
        (QualityRule("id", "regex", value="(?=a)"), "not supported by RE2"),
    ],
)
def test_a_rule_that_does_not_fit_the_schema_is_a_contract_error(rule, message):
    with pytest.raises(InvalidArgument, match=message):
        check(table({}), contract(rule))


def test_column_values_flattens_lists_of_structs():
    values, index = column_values(
        table({"items": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": 2}]}, {}), "items.sku"
    )

    assert values.to_pylist() == ["a", "b"]
    assert index.to_pylist() == [0, 0]


def test_chunk_valid_table_drops_the_invalid_rows():
    rows = table({"id": "a"}, {"id": "b"}, {"id": "c"})
    chunk = Chunk(rows, pa.array([1, 2, 3], pa.int64()), [], {2}, {})

    assert chunk.valid_table().column("id").to_pylist() == ["a", "c"]


def test_required_fields_come_from_the_contract_schema_even_on_an_all_nullable_table(checkout_contract):
    from lakehouse.schema_mapping import arrow_schema, nullable

    record = {"event_id": "e1", "order_id": None, "user_id": "u", "email": "a@b.c", "amount": 1.0,
              "currency": "EUR", "completed_at": None, "items": [{"sku": None, "quantity": 1}]}  # fmt: skip
    rows = pa.Table.from_pylist([record], schema=nullable(arrow_schema(checkout_contract)))

    assert found(validate(rows, checkout_contract)) == [
        (1, "order_id", "required", "null"),
        (1, "completed_at", "required", "null"),
        (1, "items[].sku", "required", "null"),
    ]


def reference_duplicates(chunks: list[tuple[list, list]]) -> list[list[tuple[int, int, int]]]:
    """What UniqueTracker must report, the slow and obvious way: a dict of first rows."""
    seen: dict = {}
    reports = []
    for values, rows in chunks:
        in_chunk: dict = {}
        for value, row in zip(values, rows, strict=True):
            if value is not None and value not in seen:
                in_chunk[value] = min(row, in_chunk.get(value, row))
        found = [
            (i, row, seen.get(value, in_chunk.get(value)))
            for i, (value, row) in enumerate(zip(values, rows, strict=True))
            if value is not None and (value in seen or row > in_chunk[value])
        ]
        seen.update(in_chunk)
        reports.append(found)
    return reports


chunk_values = st.lists(st.one_of(st.none(), st.integers(0, 30).map(str)), max_size=40)


class _CappedRuns(UniqueTracker):
    MAX_MERGED = 8  # runs stop merging after a few keys: repeats must be found across many runs


@pytest.mark.parametrize("tracker_type", [UniqueTracker, _CappedRuns])
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(chunk_values, st.lists(st.integers(0, 2), min_size=40, max_size=40)), max_size=8))
def test_unique_tracker_matches_a_plain_dict_over_many_chunks(tracker_type, specs):
    """Sorted-run bookkeeping (merges included, and runs no longer merged past ``MAX_MERGED``)
    reports exactly the repeats a dict would find.

    Row steps of 0 stand for several list elements of one row (a value repeated inside a row is fine).
    """
    chunks, row = [], 1
    for values, steps in specs:
        rows = []
        for step in steps[: len(values)]:
            row += step
            rows.append(row)
        chunks.append((values, rows))
        row += 1
    tracker = tracker_type()
    got = [
        tracker.duplicates("id", pa.array(values, pa.string()), pa.array(rows, pa.int64()))
        for values, rows in chunks
    ]
    assert got == reference_duplicates(chunks)
