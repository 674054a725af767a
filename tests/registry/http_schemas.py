"""Schemas shared by the HTTP API tests and the Confluent client tests."""

from __future__ import annotations

import json

ORDER_V1 = json.dumps(
    {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}
)
# BACKWARD compatible with v1: the new field has a default.
ORDER_V2 = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double", "default": 0.0}],
    }
)
# Breaks BACKWARD: a reader of this schema cannot fill ``currency`` from v1 data (no default).
ORDER_BREAKING = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "fields": [{"name": "id", "type": "string"}, {"name": "currency", "type": "string"}],
    }
)

USER_PROTO_V1 = 'syntax = "proto3";\npackage identity;\n\nmessage User {\n  string id = 1;\n}\n'
USER_PROTO_V2 = (
    'syntax = "proto3";\npackage identity;\n\nmessage User {\n  string id = 1;\n  string email = 2;\n}\n'
)
# Field 1 changes from a length-delimited string to a varint: old data no longer decodes.
USER_PROTO_BREAKING = 'syntax = "proto3";\npackage identity;\n\nmessage User {\n  int64 id = 1;\n}\n'

# JSON Schema (draft-07, Confluent's default dialect): a closed content model (no other properties).
PAGE_VIEW_V1 = json.dumps(
    {
        "title": "PageViewed",
        "type": "object",
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "url": {"type": "string"},
            "duration_ms": {"type": "integer", "minimum": 0},
        },
        "required": ["event_id", "url"],
        "additionalProperties": False,
    },
    indent=2,
)
# BACKWARD compatible with v1: v1 data never holds the new optional property.
PAGE_VIEW_V2 = json.dumps(
    {
        **json.loads(PAGE_VIEW_V1),
        "properties": {**json.loads(PAGE_VIEW_V1)["properties"], "referrer": {"type": "string"}},
    },
    indent=2,
)
# Breaks BACKWARD: v1 data may hold duration_ms, which this closed model no longer allows.
PAGE_VIEW_BREAKING = json.dumps(
    {
        **json.loads(PAGE_VIEW_V1),
        "properties": {
            name: schema
            for name, schema in json.loads(PAGE_VIEW_V1)["properties"].items()
            if name != "duration_ms"
        },
    },
    indent=2,
)

# A Protobuf schema that imports another subject's (as "common/money.proto"): for referencedby.
MONEY_PROTO = 'syntax = "proto3";\npackage common;\n\nmessage Money {\n  int64 cents = 1;\n}\n'
SHOP_ORDER_PROTO = (
    'syntax = "proto3";\npackage shop;\nimport "common/money.proto";\n\n'
    "message Order {\n  string id = 1;\n  common.Money total = 2;\n}\n"
)
