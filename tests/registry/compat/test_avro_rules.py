"""The Avro rule table: one folder of old/new schemas per rule, plus the resolution cases the spec allows.

Each folder in ``avro_cases/`` is named after a rule id and holds ``old.avsc``, ``new.avsc`` and
``expected.json`` (direction and the exact violations: rule, path, line in the new schema).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.compat import Direction, get_format
from registry.compat.avro import AvroFormat
from registry.compat.avro_rules import RULE_LIST, TARGETS
from registry.errors import InvalidArgument

CASES = Path(__file__).parent / "avro_cases"
AVRO = get_format("AVRO")


def parse(schema: object, name: str = "schema"):
    text = schema if isinstance(schema, str) else json.dumps(schema, indent=2)
    return AVRO.parse(text, source_name=name)


def violations(old: object, new: object, direction: Direction = Direction.BACKWARD, ruleset=None):
    return AVRO.check(parse(old), parse(new), direction, ruleset)


def record(*fields: dict, name: str = "Order", **extra) -> dict:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name: str, type_: object, **extra) -> dict:
    return {"name": name, "type": type_, **extra}


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_rule_case_reports_exactly_the_expected_violations(case):
    folder = CASES / case
    expected = json.loads((folder / "expected.json").read_text())
    old = AVRO.parse((folder / "old.avsc").read_text(), source_name="old.avsc")
    new = AVRO.parse((folder / "new.avsc").read_text(), source_name="new.avsc")
    found = AVRO.check(old, new, Direction(expected["direction"]))
    assert [{"rule": v.rule, "path": v.path, "line": v.line} for v in found] == expected["violations"]
    assert {v["rule"] for v in expected["violations"]} == {case}
    for violation in found:
        assert violation.direction is Direction(expected["direction"])
        assert violation.path.rpartition(".")[2].split("<")[0] in violation.message


def _case(case: str):
    folder = CASES / case
    expected = json.loads((folder / "expected.json").read_text())
    old = AVRO.parse((folder / "old.avsc").read_text(), source_name="old.avsc")
    new = AVRO.parse((folder / "new.avsc").read_text(), source_name="new.avsc")
    return old, new, Direction(expected["direction"])


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_rule_case_is_reported_by_the_rulesets_of_its_categories_only(case):
    old, new, direction = _case(case)
    for ruleset in AVRO.rulesets:
        reported = case in {v.rule for v in AVRO.check(old, new, direction, ruleset)}
        assert reported == (ruleset in AVRO.rules[case].categories), ruleset


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_unchanged_schema_passes_every_ruleset(case):
    old, _, _ = _case(case)
    for direction in Direction:
        for ruleset in (None, *AVRO.rulesets):
            assert AVRO.check(old, old, direction, ruleset) == []


def test_every_rule_is_registered_once_with_a_known_target():
    ids = [spec.rule.id for spec in RULE_LIST]
    assert len(ids) == len(set(ids)) == len(AvroFormat.rules)
    assert {spec.target for spec in RULE_LIST} == set(TARGETS)


def test_every_rule_in_the_table_has_a_case_folder_and_nothing_else():
    assert {p.name for p in CASES.iterdir()} == set(AvroFormat.rules)


def test_rule_table_entries_describe_themselves():
    for rule_id, rule in AvroFormat.rules.items():
        assert rule.id == rule_id
        assert rule.description.endswith(".")
        assert set(rule.categories) <= {"RESOLUTION", "LOGICAL"} and rule.categories


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_promotions_of_the_specification_are_compatible(writer, reader):
    assert violations(record(field("value", writer)), record(field("value", reader))) == []


def test_the_reverse_of_a_promotion_is_reported_with_both_types():
    [found] = violations(record(field("value", "double")), record(field("value", "float")))
    assert found.rule == "TYPE_NARROWED"
    assert "from double to float" in found.message


def test_field_added_with_default_and_field_removed_are_backward_compatible():
    old = record(field("id", "string"), field("legacy", "int"))
    new = record(field("id", "string"), field("coupon", ["null", "string"], default=None))
    assert violations(old, new) == []


def test_field_removed_without_default_in_old_schema_breaks_forward():
    old = record(field("id", "string"), field("legacy", "int"))
    new = record(field("id", "string"))
    [found] = violations(old, new, Direction.FORWARD)
    assert (found.rule, found.path, found.line) == ("FIELD_MISSING_DEFAULT", "Order.legacy", 1)
    assert "removed" in found.message and "default" in found.message


def test_field_renamed_with_reader_alias_resolves_backward_but_not_forward():
    old = record(field("amount", "double"))
    new = record(field("total", "double", aliases=["amount"]))
    assert violations(old, new) == []
    [found] = violations(old, new, Direction.FORWARD)
    assert (found.rule, found.path) == ("FIELD_MISSING_DEFAULT", "Order.amount")


def test_named_type_renamed_with_alias_resolves_and_namespace_alone_may_change():
    old = record(field("to", record(field("city", "string"), name="Address", namespace="a.v1")))
    aliased = record(
        field("to", record(field("city", "string"), name="Location", namespace="a.v1", aliases=["Address"]))
    )
    moved = record(field("to", record(field("city", "string"), name="Address", namespace="b.v2")))
    assert violations(old, aliased) == []
    assert violations(old, moved) == []  # records match by unqualified name (specification)


def test_enum_symbol_added_breaks_forward_unless_old_enum_has_default():
    old_enum = {"type": "enum", "name": "Status", "symbols": ["OPEN", "PAID"]}
    new_enum = {"type": "enum", "name": "Status", "symbols": ["OPEN", "PAID", "REFUNDED"]}
    assert violations(record(field("s", old_enum)), record(field("s", new_enum))) == []
    [found] = violations(record(field("s", old_enum)), record(field("s", new_enum)), Direction.FORWARD)
    assert found.rule == "ENUM_SYMBOL_MISSING" and "REFUNDED" in found.message
    with_default = dict(old_enum, default="OPEN")
    assert violations(record(field("s", with_default)), record(field("s", new_enum)), Direction.FORWARD) == []


def test_unions_branch_added_non_union_widened_and_union_narrowed_to_a_matching_type():
    assert (
        violations(record(field("v", ["null", "int"])), record(field("v", ["null", "int", "string"]))) == []
    )
    assert violations(record(field("v", "int")), record(field("v", ["null", "long"]))) == []
    assert violations(record(field("v", ["int", "long"])), record(field("v", "long"))) == []
    [found] = violations(record(field("v", ["null", "int"])), record(field("v", "int")))
    assert (found.rule, found.path) == ("UNION_BRANCH_MISSING", "Order.v<null>")


def test_union_branch_added_breaks_forward_with_the_branch_named():
    [found] = violations(
        record(field("v", ["null", "int"])), record(field("v", ["null", "int", "string"])), Direction.FORWARD
    )
    assert (found.rule, found.path) == ("UNION_BRANCH_MISSING", "Order.v<string>")
    assert "now allows string" in found.message


def test_paths_name_array_items_map_values_and_union_branches():
    card = record(field("number", "string"), name="Card")
    old = record(
        field("items", {"type": "array", "items": record(field("sku", "string"), name="Item")}),
        field("tags", {"type": "map", "values": "int"}),
        field("payment", ["null", card]),
    )
    new_card = record(field("number", "long"), name="Card")
    new = record(
        field("items", {"type": "array", "items": record(field("sku", "int"), name="Item")}),
        field("tags", {"type": "map", "values": "boolean"}),
        field("payment", ["null", new_card]),
    )
    assert [v.path for v in violations(old, new)] == [
        "Order.items[].sku",
        "Order.tags{}",
        "Order.payment<Card>.number",
    ]


def test_fixed_and_named_mismatches_inside_a_union_are_missing_branches():
    old = record(field("d", ["null", {"type": "fixed", "name": "D", "size": 4}]))
    new = record(field("d", ["null", {"type": "fixed", "name": "D", "size": 8}]))
    [found] = violations(old, new)
    assert (found.rule, found.path) == ("UNION_BRANCH_MISSING", "Order.d<D>")


LINKED_LIST = record(field("value", "long"), field("next", ["null", "Node"], default=None), name="Node")


def test_recursive_schemas_are_checked_without_endless_recursion():
    assert violations(LINKED_LIST, LINKED_LIST) == []
    changed = record(field("value", "int"), field("next", ["null", "Node"], default=None), name="Node")
    [found] = violations(LINKED_LIST, changed)
    assert (found.rule, found.path) == ("TYPE_NARROWED", "Node.value")
    mutual_old = record(
        field("child", ["null", record(field("parent", ["null", "Tree"]), field("n", "int"), name="Leaf")]),
        name="Tree",
    )
    mutual_new = record(
        field(
            "child", ["null", record(field("parent", ["null", "Tree"]), field("n", "string"), name="Leaf")]
        ),
        name="Tree",
    )
    assert [v.path for v in violations(mutual_old, mutual_new)] == ["Tree.child<Leaf>.n"]


def test_decimal_scale_change_message_says_how_values_would_shift():
    old = record(field("p", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 4}))
    new = record(field("p", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}))
    [found] = violations(old, new)
    assert "10^2 times too large" in found.message


def test_resolution_ruleset_keeps_only_specification_rules():
    old = record(field("t", {"type": "long", "logicalType": "timestamp-millis"}))
    new = record(field("t", {"type": "long", "logicalType": "timestamp-micros"}))
    assert [v.rule for v in violations(old, new)] == ["TIME_UNIT_CHANGED"]
    assert violations(old, new, ruleset="RESOLUTION") == []
    assert [v.rule for v in violations(old, new, ruleset="logical")] == ["TIME_UNIT_CHANGED"]


def test_unknown_ruleset_is_refused_with_the_valid_names():
    with pytest.raises(InvalidArgument, match="RESOLUTION, LOGICAL"):
        violations(LINKED_LIST, LINKED_LIST, ruleset="WIRE")


def test_logical_type_added_on_same_underlying_type_is_compatible():
    old = record(field("d", "int"))
    new = record(field("d", {"type": "int", "logicalType": "date"}))
    assert violations(old, new) == []


def test_references_provide_named_types_and_are_compared_through():
    money_v1 = json.dumps(
        {"type": "record", "name": "Money", "namespace": "shared", "fields": [field("units", "long")]}
    )
    money_v2 = json.dumps(
        {"type": "record", "name": "Money", "namespace": "shared", "fields": [field("units", "int")]}
    )
    order = json.dumps(
        {"type": "record", "name": "Order", "namespace": "shop", "fields": [field("total", "shared.Money")]}
    )
    old = AVRO.parse(order, references={"shared.Money": money_v1})
    new = AVRO.parse(order, references={"shared.Money": money_v2})
    assert [(v.rule, v.path) for v in AVRO.check(old, new, Direction.BACKWARD)] == [
        ("TYPE_NARROWED", "Order.total.units")
    ]


def test_checking_a_schema_of_another_format_is_refused():
    proto = get_format("PROTOBUF").parse(
        'syntax = "proto3";\nmessage Order { string id = 1; }\n', source_name="order.proto"
    )
    with pytest.raises(InvalidArgument, match="Avro schemas only"):
        AVRO.check(proto, parse(LINKED_LIST), Direction.BACKWARD)
