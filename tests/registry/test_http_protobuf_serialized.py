"""Confluent's serialized Protobuf schemas (base64 descriptors) translated to and from .proto source.

Each case compiles source with the real protoc (grpc_tools), serializes its descriptor as Confluent's
serializers do, prints it back to source, compiles that again and requires the same descriptor.
"""

from __future__ import annotations

import base64

import pytest
from google.protobuf import descriptor_pb2

from registry.compat.protobuf_compile import compile_proto
from registry.compat.protobuf_serialized import is_serialized, serialized_from_source, source_from_serialized
from registry.errors import InvalidSchema

PROTO3 = """
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";

enum Status {
  option allow_alias = true;
  reserved 7, 9 to 11, 40 to max;
  reserved "OLD";
  STATUS_UNSPECIFIED = 0;
  STATUS_OPEN = 1;
  STATUS_STARTED = 1;
}

message Order {
  reserved 20, 30 to 35, 100 to max;
  reserved "legacy", "old_name";
  enum Kind { KIND_UNSPECIFIED = 0; KIND_FAST = 1; }
  message Line { string sku = 1; int32 qty = 2 [json_name = "quantity"]; }
  string id = 1;
  map<string, int64> tags = 2;
  repeated Line lines = 3;
  repeated int32 codes = 4 [packed = false];
  optional string note = 5;
  oneof payment { string card = 6; bytes token = 7; }
  google.protobuf.Timestamp created_at = 8;
  Kind kind = 9;
  Status status = 10;
  sint64 delta = 11;
  fixed32 f32 = 12;
  sfixed64 sf64 = 13;
  double d = 14;
  float fl = 15;
  bool b = 16;
  uint64 u = 17;
}

service Orders { rpc Watch(stream Order) returns (stream Order); }
"""

PROTO2 = r"""
syntax = "proto2";
package legacy;
message Rec {
  required string id = 1;
  optional int32 n = 2 [default = -5];
  optional string s = 3 [default = "a\"b"];
  optional bytes raw = 4 [default = "\001x"];
  optional E e = 5 [default = TWO];
  repeated double xs = 6 [packed = true];
  oneof choice { int32 left = 7; string right = 8; }
  enum E { ONE = 1; TWO = 2; }
}
"""


# protoc adds map entry types to the nested types where the map field is declared.
MAPS_BETWEEN_NESTED = """
syntax = "proto3";
message A {
  string id = 1;
  map<string, string> tags = 2;
  message B { int32 x = 1; }
  B b = 3;
  map<int32, B> more = 4;
  oneof o { string p = 5; string q = 6; }
  message C { map<string, B> inner = 1; }
}
"""


def descriptor_of(source: str, imports: dict | None = None) -> descriptor_pb2.FileDescriptorProto:
    main = descriptor_pb2.FileDescriptorProto()
    main.CopyFrom(
        compile_proto(source, imports).file[-1]
    )  # a copy, so clearing source info touches nothing shared
    main.ClearField("source_code_info")
    return main


def serialized(descriptor: descriptor_pb2.FileDescriptorProto) -> str:
    return base64.b64encode(descriptor.SerializeToString()).decode("ascii")


@pytest.mark.parametrize(
    "source", [PROTO3, PROTO2, MAPS_BETWEEN_NESTED], ids=["proto3", "proto2", "maps-between-nested"]
)
def test_printed_source_compiles_to_the_same_descriptor(source):
    original = descriptor_of(source)
    printed = source_from_serialized(serialized(original))
    assert descriptor_of(printed) == original


def test_serialized_from_source_is_the_compiled_descriptor_with_its_imports():
    money = 'syntax = "proto3";\npackage acme;\nmessage Money { int64 cents = 1; }\n'
    order = 'syntax = "proto3";\nimport "acme/money.proto";\nmessage Order { acme.Money total = 1; }\n'
    imports = {"acme/money.proto": money}
    text = serialized_from_source(order, imports)
    assert is_serialized(text)
    decoded = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text))
    assert decoded == descriptor_of(order, imports)
    assert list(decoded.dependency) == ["acme/money.proto"]


def test_source_text_is_never_taken_for_serialized():
    assert not is_serialized(PROTO3)
    assert not is_serialized('syntax="proto3";message A{}')
    assert is_serialized(serialized(descriptor_of(PROTO3)))


def test_undecodable_base64_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match="base64 serialized FileDescriptorProto"):
        source_from_serialized("AAAA" * 3 + "/w==")


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda d: setattr(d, "syntax", "editions"), "editions"),
        (lambda d: d.message_type[0].field.add(name="g", number=9, type=10, label=1), "groups"),
        (lambda d: d.message_type[0].extension_range.add(start=100, end=200), "extensions"),
        (
            lambda d: d.extension.add(name="x", number=100, type=5, label=1, extendee=".legacy.Rec"),
            "extensions",
        ),
    ],
    ids=["editions", "group", "extension-range", "top-level-extension"],
)
def test_unsupported_descriptor_features_are_refused_by_name(build, reason):
    descriptor = descriptor_of(PROTO2)
    build(descriptor)
    with pytest.raises(InvalidSchema, match=reason):
        source_from_serialized(serialized(descriptor))


def test_serializing_leaves_the_compile_cache_with_its_source_locations():
    serialized_from_source(PROTO3)
    assert compile_proto(PROTO3).file[-1].HasField("source_code_info")
