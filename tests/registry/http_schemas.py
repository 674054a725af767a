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
