"""ProtobufFormat: parsing (protoc in-process, errors translated), canonical form, and checks that go
beyond one rule: directions, imports, well-known types, maps, nested and recursive messages."""

from __future__ import annotations

import threading

import pytest

from registry.compat import MAX_SCHEMA_BYTES, Direction, Level, check_compatibility, get_format
from registry.compat.protobuf import ProtobufSchema
from registry.compat.protobuf_compile import compile_proto
from registry.errors import InvalidArgument, InvalidSchema

FORMAT = get_format("PROTOBUF")

ORDER = """syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

// An order was placed.
message Order {
  string id = 1;
  int64 amount = 2;
  google.protobuf.Timestamp placed_at = 3;
  map<string, string> tags = 4;
  Line line = 5;

  message Line {
    string sku = 1;
    int32 quantity = 2;
  }
}
"""


def parse(text: str, **kwargs) -> ProtobufSchema:
    return FORMAT.parse(text, **kwargs)


def rules(violations) -> list[str]:
    return sorted(v.rule for v in violations)


# -- parsing ------------------------------------------------------------------------------------


def test_get_format_returns_the_protobuf_backend():
    assert FORMAT.name == "PROTOBUF"
    assert isinstance(parse(ORDER), ProtobufSchema)


def test_syntax_error_names_file_line_and_column_without_temporary_paths():
    text = 'syntax = "proto3";\nmessage Order {\n  string id = 1\n  int64 amount = 2;\n}\n'
    with pytest.raises(InvalidSchema) as info:
        parse(text, source_name="contracts/order.proto")
    error = info.value
    assert (error.location.file, error.location.line, error.location.column) == (
        "contracts/order.proto",
        4,
        3,
    )
    assert str(error).startswith("contracts/order.proto:4:3: ")
    assert "Expected" in error.reason
    assert "meshgate" not in str(error) and "/tmp" not in str(error)


def test_undefined_type_error_points_at_its_use():
    with pytest.raises(InvalidSchema) as info:
        parse('syntax = "proto3";\nmessage Order {\n  Money amount = 1;\n}\n', source_name="o.proto")
    assert str(info.value) == 'o.proto:3:3: "Money" is not defined.'


def test_missing_import_says_to_pass_a_reference():
    text = 'syntax = "proto3";\nimport "common/money.proto";\nmessage Order { common.Money amount = 1; }\n'
    with pytest.raises(InvalidSchema) as info:
        parse(text, source_name="o.proto")
    assert info.value.location.line == 2
    assert "common/money.proto" in info.value.reason and "reference" in info.value.reason


def test_error_inside_a_reference_names_the_reference_file():
    text = 'syntax = "proto3";\nimport "common/money.proto";\nmessage Order { common.Money amount = 1; }\n'
    broken = 'syntax = "proto3";\npackage common;\nmessage Money { int64 units = 1 }\n'
    with pytest.raises(InvalidSchema) as info:
        parse(text, references={"common/money.proto": broken}, source_name="o.proto")
    assert info.value.location.file == "common/money.proto"
    assert info.value.location.line == 3
    assert "/tmp" not in str(info.value)


@pytest.mark.parametrize("text", ["", "  \n\t\n"])
def test_empty_schema_is_refused(text):
    with pytest.raises(InvalidSchema, match="empty"):
        parse(text, source_name="e.proto")


def test_schema_without_a_message_is_refused():
    with pytest.raises(InvalidSchema, match="defines no message"):
        parse('syntax = "proto3";\npackage x;\nenum Color { RED = 0; }\n', source_name="e.proto")


def test_binary_garbage_is_refused_with_its_position():
    with pytest.raises(InvalidSchema, match="binary data") as info:
        parse('syntax = "proto3";\n\x89PNG\r\n\x1a\n\x00\x00', source_name="img.proto")
    assert (info.value.location.line, info.value.location.column) == (4, 1)


def test_undecodable_text_is_refused():
    garbage = b"message \xff\xfe {".decode("utf-8", errors="surrogateescape")
    with pytest.raises(InvalidSchema, match="not valid UTF-8"):
        parse(garbage)


def test_schema_over_the_size_cap_is_refused_before_protoc_runs():
    text = 'syntax = "proto3";\nmessage Big {\n' + "// padding\n" * (MAX_SCHEMA_BYTES // 11) + "}\n"
    with pytest.raises(InvalidSchema, match=f"over the {MAX_SCHEMA_BYTES} byte cap"):
        parse(text)


def test_nesting_deeper_than_protoc_allows_is_a_clear_error():
    depth = 40
    text = 'syntax = "proto3";\n' + "".join(f"message M{i} {{\n" for i in range(depth)) + "}\n" * depth
    with pytest.raises(InvalidSchema, match="recursion limit for nested messages") as info:
        parse(text, source_name="deep.proto")
    assert info.value.location.line is not None


def test_nesting_within_the_limit_parses_and_indexes_every_level():
    depth = 30
    text = 'syntax = "proto3";\n' + "".join(f"message M{i} {{\n int32 f{i} = 1;\n" for i in range(depth))
    text += "}\n" * depth
    schema = parse(text)
    deepest = ".".join(f"M{i}" for i in range(depth))
    assert f"{deepest}.f{depth - 1}" in {f.path for m in schema.messages.values() for f in m.fields.values()}
    assert schema.line_of(f"{deepest}.f{depth - 1}") == 2 * depth + 1
    assert FORMAT.check(schema, schema, Direction.BACKWARD, "WIRE_JSON") == []


def test_recursive_messages_check_without_looping():
    old = parse('syntax = "proto3";\nmessage Node { Node next = 1; repeated Node children = 2; }\n')
    new = parse(
        'syntax = "proto3";\nmessage Node { Node next = 1; repeated Node children = 2; int32 x = 3; }\n'
    )
    for ruleset in (None, "WIRE", "WIRE_JSON"):
        assert FORMAT.check(old, new, Direction.BACKWARD, ruleset) == []


def test_reference_import_path_must_be_relative():
    with pytest.raises(InvalidSchema, match="relative .proto import path"):
        parse(ORDER, references={"../etc/passwd.proto": "syntax = 'proto3';"})


def test_protoc_output_on_fd2_does_not_leak_to_the_process_stderr(capfd):
    with pytest.raises(InvalidSchema):
        parse('syntax = "proto3";\nmessage A { int32 x = 1 }\n')
    assert capfd.readouterr().err == ""


def test_parallel_compiles_keep_their_own_errors():
    results: dict[int, str] = {}

    def compile_broken(i: int) -> None:
        text = 'syntax = "proto3";\n' + "\n" * i + f"message A{i} {{ int32 x = 1 }}\n"
        try:
            parse(text, source_name=f"f{i}.proto")
        except InvalidSchema as exc:
            results[i] = str(exc)

    threads = [threading.Thread(target=compile_broken, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i].startswith(f"f{i}.proto:{i + 2}:") for i in range(8))


def test_parsed_schemas_are_cached_by_text_and_references():
    text = ORDER + "\n// cache probe\n"
    assert parse(text) is parse(text)
    with_reference = parse(ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1})
    other_reference = parse(ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1 + "// v2\n"})
    assert with_reference is not other_reference


def test_compile_proto_returns_the_main_file_and_its_imports():
    names = [f.name for f in compile_proto(ORDER).file]
    assert names == ["google/protobuf/timestamp.proto", "meshgate_schema.proto"]


# -- canonical form and line index --------------------------------------------------------------


def test_canonical_form_ignores_comments_and_layout():
    relaid = ORDER.replace("// An order was placed.\n", "").replace("  string id = 1;", "string   id=1 ;")
    assert parse(relaid).canonical == parse(ORDER).canonical
    assert parse(relaid).fingerprint == parse(ORDER).fingerprint
    assert len(parse(ORDER).fingerprint) == 64


def test_canonical_form_keeps_meaning():
    assert parse(ORDER.replace("amount = 2", "total = 2")).fingerprint != parse(ORDER).fingerprint
    custom = parse(ORDER.replace("int64 amount = 2;", 'int64 amount = 2 [json_name = "amt"];'))
    assert 'json_name: "amt"' in custom.canonical
    assert "json_name" not in parse(ORDER).canonical  # default JSON names are dropped
    assert "source_code_info" not in parse(ORDER).canonical


def test_line_index_maps_element_paths_to_lines():
    schema = parse(ORDER)
    assert schema.line_of("Order") == 7
    assert schema.line_of("Order.amount") == 9
    assert schema.line_of("Order.Line.quantity") == 16
    assert schema.line_of("Order.no_such_field") == 7  # falls back to the enclosing element
    assert schema.line_of("package") == 2


# -- checks ---------------------------------------------------------------------------------------


def test_adding_removing_and_renaming_fields_is_compatible_by_default():
    new = parse(ORDER.replace("  int64 amount = 2;\n", "").replace("string id = 1", "string order_id = 1"))
    new_with_field = parse(ORDER.replace("Line line = 5;", "Line line = 5;\n  string note = 6;"))
    for candidate in (new, new_with_field):
        assert check_compatibility(FORMAT, Level.FULL_TRANSITIVE, candidate, [parse(ORDER)]).compatible


def test_confluent_rules_are_directional():
    old = parse('syntax = "proto2";\nmessage Order {\n  optional string id = 1;\n}\n')
    new = parse(
        'syntax = "proto2";\nmessage Order {\n  optional string id = 1;\n  required int64 amount = 2;\n}\n'
    )
    assert rules(FORMAT.check(old, new, Direction.BACKWARD)) == ["REQUIRED_FIELD_ADDED"]
    forward = FORMAT.check(old, new, Direction.FORWARD)
    assert rules(forward) == ["REQUIRED_FIELD_REMOVED"]
    assert forward[0].line == 4 and forward[0].direction is Direction.FORWARD


def test_adding_a_message_breaks_forward_like_confluent():
    old = parse('syntax = "proto3";\nmessage Order { string id = 1; }\n')
    new = parse('syntax = "proto3";\nmessage Order { string id = 1; }\nmessage Refund { string id = 1; }\n')
    assert FORMAT.check(old, new, Direction.BACKWARD) == []
    assert rules(FORMAT.check(old, new, Direction.FORWARD)) == ["MESSAGE_REMOVED"]


def test_enum_and_integer_share_the_varint_group_by_default_but_not_in_wire():
    old = parse('syntax = "proto3";\nenum S { A = 0; }\nmessage M { S s = 1; }\n')
    new = parse('syntax = "proto3";\nenum S { A = 0; }\nmessage M { int32 s = 1; }\n')
    assert FORMAT.check(old, new, Direction.BACKWARD) == []
    assert rules(FORMAT.check(old, new, Direction.BACKWARD, "WIRE")) == ["FIELD_WIRE_COMPATIBLE_TYPE"]


def test_proto3_optional_is_not_a_oneof():
    old = parse('syntax = "proto3";\nmessage M { int32 a = 1; int32 b = 2; }\n')
    new = parse('syntax = "proto3";\nmessage M { optional int32 a = 1; optional int32 b = 2; }\n')
    for ruleset in (None, "WIRE", "WIRE_JSON"):
        assert FORMAT.check(old, new, Direction.BACKWARD, ruleset) == [], ruleset


def test_map_key_change_is_reported_on_the_map_field():
    new = parse(ORDER.replace("map<string, string> tags", "map<int64, string> tags"))
    found = FORMAT.check(parse(ORDER), new, Direction.BACKWARD)
    assert [(v.rule, v.path, v.line) for v in found] == [("FIELD_SCALAR_KIND_CHANGED", "Order.tags", 11)]
    wire = FORMAT.check(parse(ORDER), new, Direction.BACKWARD, "WIRE")
    assert [(v.rule, v.path) for v in wire] == [("FIELD_WIRE_COMPATIBLE_TYPE", "Order.TagsEntry.key")]


def test_nested_message_changes_are_found_with_nested_paths():
    new = parse(ORDER.replace("int32 quantity = 2;", "string quantity = 2;"))
    found = FORMAT.check(parse(ORDER), new, Direction.BACKWARD)
    assert [(v.rule, v.path, v.line) for v in found] == [
        ("FIELD_SCALAR_KIND_CHANGED", "Order.Line.quantity", 16)
    ]


def test_well_known_type_swap_is_a_named_type_change():
    new = parse(
        ORDER.replace('"google/protobuf/timestamp.proto"', '"google/protobuf/duration.proto"').replace(
            "google.protobuf.Timestamp", "google.protobuf.Duration"
        )
    )
    assert rules(FORMAT.check(parse(ORDER), new, Direction.BACKWARD)) == ["FIELD_NAMED_TYPE_CHANGED"]
    assert rules(FORMAT.check(parse(ORDER), new, Direction.BACKWARD, "WIRE")) == [
        "FIELD_WIRE_COMPATIBLE_TYPE"
    ]


MONEY_V1 = 'syntax = "proto3";\npackage common;\nmessage Money {\n  int64 units = 1;\n}\n'
ORDER_WITH_MONEY = (
    'syntax = "proto3";\npackage shop.v1;\nimport "common/money.proto";\n'
    "message Order {\n  common.Money amount = 1;\n}\n"
)


def test_imports_resolve_through_references():
    schema = parse(ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1})
    assert "common.Money" in schema.messages
    assert schema.messages["shop.v1.Order"].fields[1].type_name == "common.Money"


def test_buf_rule_sets_also_check_the_referenced_files():
    old = parse(ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1})
    new = parse(
        ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1.replace("int64 units", "string units")}
    )
    found = FORMAT.check(old, new, Direction.BACKWARD, "WIRE")
    assert [(v.rule, v.path, v.line) for v in found] == [("FIELD_WIRE_COMPATIBLE_TYPE", "Money.units", None)]
    assert found[0].message.endswith("(In the imported file common/money.proto, line 4.)")


def test_confluent_compares_an_imported_message_type_whose_definition_changed():
    old = parse(ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1})
    new = parse(
        ORDER_WITH_MONEY, references={"common/money.proto": MONEY_V1.replace("int64 units", "string units")}
    )
    found = FORMAT.check(old, new, Direction.BACKWARD)
    assert [(v.rule, v.path, v.line) for v in found] == [("FIELD_NAMED_TYPE_CHANGED", "Order.amount", 5)]
    assert (
        'its definition in common/money.proto changed incompatibly: Field "1" ("units")' in found[0].message
    )
    added = parse(
        ORDER_WITH_MONEY,
        references={"common/money.proto": MONEY_V1.replace("}", "  string currency = 2;\n}")},
    )
    assert FORMAT.check(old, added, Direction.BACKWARD) == []


def test_recursive_imported_types_are_compared_once():
    node = 'syntax = "proto3";\npackage common;\nmessage Node {\n  Node next = 1;\n  int32 value = 2;\n}\n'
    order = 'syntax = "proto3";\nimport "common/node.proto";\nmessage Order {\n  common.Node head = 1;\n}\n'
    old = parse(order, references={"common/node.proto": node})
    new = parse(order, references={"common/node.proto": node.replace("int32 value", "string value")})
    assert [v.rule for v in FORMAT.check(old, new, Direction.BACKWARD)] == ["FIELD_NAMED_TYPE_CHANGED"]
    same = parse(
        order,
        references={
            "common/node.proto": node.replace("int32 value = 2;", "int32 value = 2;\n  int32 size = 3;")
        },
    )
    assert FORMAT.check(old, same, Direction.BACKWARD) == []


def test_unknown_rule_set_is_refused():
    schema = parse(ORDER)
    with pytest.raises(InvalidArgument, match="WIRE, WIRE_JSON"):
        FORMAT.check(schema, schema, Direction.BACKWARD, "STRICT")
    assert FORMAT.check(schema, schema, Direction.BACKWARD, "wire_json") == []


def test_transitive_check_reports_against_every_earlier_version():
    v1 = parse(ORDER)
    v2 = parse(ORDER.replace("  int64 amount = 2;\n", ""))
    v3 = parse(ORDER.replace("  int64 amount = 2;\n", "  string amount = 2;\n"))
    assert check_compatibility(FORMAT, Level.BACKWARD, v3, [v1, v2]).compatible
    result = check_compatibility(FORMAT, Level.BACKWARD_TRANSITIVE, v3, [v1, v2])
    assert [(v.rule, v.path) for v in result.violations] == [("FIELD_SCALAR_KIND_CHANGED", "Order.amount")]


def test_removed_message_is_reported_once_not_per_nested_message():
    old = parse(ORDER + "message Refund {\n  message Reason { string text = 1; }\n  Reason reason = 1;\n}\n")
    found = FORMAT.check(old, parse(ORDER), Direction.BACKWARD)
    assert [(v.rule, v.path) for v in found] == [("MESSAGE_REMOVED", "Refund")]


def test_default_change_names_enum_values():
    old = parse('syntax = "proto2";\nenum S { NEW = 0; PAID = 1; }\nmessage M { optional S s = 1; }\n')
    new = parse(
        'syntax = "proto2";\nenum S { NEW = 0; PAID = 1; }\nmessage M { optional S s = 1 [default = PAID]; }\n'
    )
    (violation,) = FORMAT.check(old, new, Direction.BACKWARD, "WIRE")
    assert "from NEW to PAID" in violation.message


PAYMENT_SPLIT = 'syntax = "proto3";\nmessage Payment {\n  string card = 1;\n  string iban = 2;\n}\n'
PAYMENT_ONEOF = 'syntax = "proto3";\nmessage Payment {\n  oneof method {\n    string card = 1;\n    string iban = 2;\n  }\n}\n'


def test_confluent_oneof_rules_flip_with_the_direction():
    split, oneof = parse(PAYMENT_SPLIT), parse(PAYMENT_ONEOF)
    assert rules(FORMAT.check(split, oneof, Direction.BACKWARD)) == ["MULTIPLE_FIELDS_MOVED_TO_ONEOF"]
    assert FORMAT.check(split, oneof, Direction.FORWARD) == []
    assert rules(FORMAT.check(oneof, split, Direction.FORWARD)) == ["MULTIPLE_FIELDS_MOVED_TO_ONEOF"]
    smaller = parse(PAYMENT_ONEOF.replace("    string iban = 2;\n", ""))
    assert FORMAT.check(smaller, oneof, Direction.BACKWARD) == []
    assert rules(FORMAT.check(smaller, oneof, Direction.FORWARD)) == ["ONEOF_FIELD_REMOVED"]


def test_buf_rule_sets_report_each_finding_once_at_full_levels():
    old, new = parse(PAYMENT_SPLIT), parse(PAYMENT_ONEOF)
    result = check_compatibility(FORMAT, Level.FULL, new, [old], ruleset="WIRE")
    assert [(v.rule, v.path) for v in result.violations] == [
        ("FIELD_SAME_ONEOF", "Payment.card"),
        ("FIELD_SAME_ONEOF", "Payment.iban"),
    ]


def test_protoc_warnings_do_not_hide_the_error():
    """protoc can print warnings (unused imports) before the error; the error is what we report.
    A real compile cannot be made to print both reliably, so the translation is fed protoc's format."""
    from registry.compat.protobuf_compile import MAIN_FILE, _translate_error

    root = "/tmp/meshgate-proto-x/src"
    diagnostics = (
        f"{root}/{MAIN_FILE}:2:1: warning: Import common/a.proto is unused.\n"
        f'{root}/{MAIN_FILE}:5:3: Expected ";".\n'
    )
    error = _translate_error(diagnostics, root, "order.proto")
    assert str(error) == 'order.proto:5:3: Expected ";".'
