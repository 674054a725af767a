"""The entry points under fuzz, each a strategy of hostile inputs and a check of the one property
every entry point keeps: an input is answered (or refused with a 4xx / a gRPC status naming the
problem, or the entry point's own error type), never a 500, INTERNAL, UNKNOWN or a traceback.

A server's unexpected exception also fails the test through the autouse fixture of
tests/registry/conftest.py (the server logs it with a request id).
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st

from ci_plugin.config import ConfigError, load_config
from lakehouse.contracts import resolve_contract
from lakehouse.decode import read_batch
from registry.api import registry_pb2 as pb
from registry.contract import load_contract
from registry.errors import MeshgateError
from registry.odcs import load_contract_file
from tests.registry.fuzz.gate_inputs import GATE_CHECKS

SERVICE = pb.DESCRIPTOR.services_by_name["ContractRegistry"]
# AddWebhook would make the server POST to whatever URL was drawn: it is fuzzed with loopback URLs only.
METHODS = [m for m in SERVICE.methods if m.name != "AddWebhook"]
BAD_GRPC = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

# -- strategies

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
"""Any text protobuf can carry (no surrogates: they are not Unicode scalar values)."""
hostile_text = st.one_of(
    text,
    st.sampled_from(["\\ud800", "\\udfff\\ud800", "%FF", "%C0%AF", "\x00", "a" * 300, "1" * 5000, "\u202e"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20,
)

AVRO_TYPES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]


@st.composite
def avro_schemas(draw, depth: int = 0) -> Any:
    """Avro-shaped JSON: records, enums, fixed, arrays, maps, unions, logical types; odd values."""
    names = st.text(string.ascii_letters + "_", min_size=1, max_size=8) | hostile_text
    numbers = st.integers() | st.sampled_from([10**30, 10**20, -1, 0, 39, 2**63])
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from(AVRO_TYPES) | hostile_text)
    kind = draw(st.sampled_from(["record", "enum", "fixed", "array", "map", "union", "decimal"]))
    if kind == "record":
        fields = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"name": names, "type": avro_schemas(depth + 1)},
                    optional={"default": json_values, "doc": text},
                ),
                max_size=4,
            )
        )
        return {"type": "record", "name": draw(names), "fields": fields}
    if kind == "enum":
        return {"type": "enum", "name": draw(names), "symbols": draw(st.lists(names, max_size=4))}
    if kind == "fixed":
        return {"type": "fixed", "name": draw(names), "size": draw(numbers)}
    if kind == "array":
        return {"type": "array", "items": draw(avro_schemas(depth + 1))}
    if kind == "map":
        return {"type": "map", "values": draw(avro_schemas(depth + 1))}
    if kind == "decimal":
        base = draw(st.sampled_from([{"type": "bytes"}, {"type": "fixed", "name": "D", "size": 16}]))
        return {**base, "logicalType": "decimal", "precision": draw(numbers), "scale": draw(numbers)}
    return draw(st.lists(avro_schemas(depth + 1), max_size=3))


PROTO_SNIPPETS = [
    'syntax = "proto3";',
    "package p;",
    "message M {",
    "}",
    "string a = 1;",
    "int64 b = 2 [default = 1" + "0" * 5000 + "];",
    "repeated M c = 3;",
    "oneof o { int32 d = 4; }",
    "enum E { A = 0; }",
    'import "x.proto";',
    "map<string, M> m = 5;",
    "reserved 1 to max;",
    "{" * 100,
]
_integers = st.integers() | st.sampled_from([10**30, -1, 0, 2**63])
_json_leaves = st.one_of(
    st.sampled_from(
        [{"type": t} for t in ("string", "integer", "number", "boolean", "null", "object", "array")]
    ),
    st.sampled_from(
        [True, False, {}, {"$ref": "#"}, {"$ref": "#/definitions/x"}, {"$ref": "http://127.0.0.1:9/x"}]
    ),
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={
            "pattern": st.sampled_from(["^(a+)+$", "((", "^[a-z]+$", "\\p{L}"]) | hostile_text,
            "format": st.sampled_from(["date-time", "date", "uuid", "email", "ipv4", "nope"]) | hostile_text,
            "minLength": _integers,
            "maxLength": _integers,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["number", "integer"])},
        optional={
            "minimum": _integers,
            "maximum": _integers,
            "multipleOf": _integers | st.floats(1e-300, 1e300),
        },
    ),
    st.fixed_dictionaries({"enum": st.lists(json_values, max_size=4)}),
)
_json_names = st.text(string.ascii_letters + "_", min_size=1, max_size=8) | hostile_text
json_schemas = st.recursive(
    _json_leaves,
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("object")},
            optional={
                "properties": st.dictionaries(_json_names, inner, max_size=4),
                "required": st.lists(_json_names, max_size=3),
                "additionalProperties": st.booleans() | inner,
                "definitions": st.dictionaries(st.just("x"), inner, max_size=1),
                "$schema": st.sampled_from(
                    [
                        "http://json-schema.org/draft-07/schema#",
                        "https://json-schema.org/draft/2020-12/schema",
                    ]
                )
                | hostile_text,
            },
        ),
        st.fixed_dictionaries({"type": st.just("array"), "items": inner}, optional={"minItems": _integers}),
        st.lists(inner, max_size=3).map(lambda branches: {"anyOf": branches}),
        st.lists(inner, max_size=3).map(lambda branches: {"oneOf": branches}),
        st.lists(inner, max_size=3).map(lambda branches: {"allOf": branches}),
    ),
    max_leaves=12,
)
"""JSON Schema documents: objects, arrays, combinators, ``$ref`` (recursive, dangling, remote) and
keywords with odd values (catastrophic patterns, huge bounds, unknown formats and dialects)."""

gate_lines = st.lists(
    st.dictionaries(st.sampled_from(["id", "a", "b", "x", "n"]) | _json_names, json_values, max_size=4).map(
        json.dumps
    )
    | hostile_text,
    max_size=4,
)
"""A JSON Lines batch for a drawn contract: objects with likely property names, and odd lines."""

proto_sources = st.lists(st.sampled_from(PROTO_SNIPPETS) | hostile_text, max_size=12).map("\n".join)
schema_texts = st.one_of(
    avro_schemas().map(json.dumps),
    avro_schemas().map(lambda s: json.dumps(s)[:-1]),  # truncated
    st.integers(1, 5_000).map(lambda n: "[" * n + "]" * n),
    hostile_text,
)
schemas = st.one_of(
    st.tuples(st.just("AVRO"), schema_texts),
    st.tuples(st.just("PROTOBUF"), proto_sources),
    st.tuples(st.just("JSON"), json_schemas.map(json.dumps) | schema_texts),
)

ROUTES = [
    ("GET", "/schemas/ids/{n}"),
    ("GET", "/schemas/ids/{n}/schema"),
    ("GET", "/schemas/ids/{n}/subjects"),
    ("GET", "/subjects"),
    ("GET", "/subjects/{s}/versions"),
    ("GET", "/subjects/{s}/versions/{v}"),
    ("GET", "/subjects/{s}/versions/{v}/schema"),
    ("POST", "/subjects/{s}/versions"),
    ("POST", "/subjects/{s}"),
    ("DELETE", "/subjects/{s}"),
    ("DELETE", "/subjects/{s}/versions/{v}"),
    ("POST", "/compatibility/subjects/{s}/versions/{v}"),
    ("POST", "/compatibility/subjects/{s}/versions"),
    ("GET", "/config/{s}"),
    ("PUT", "/config/{s}"),
    ("DELETE", "/config/{s}"),
    ("GET", "/mode/{s}"),
    ("PUT", "/mode/{s}"),
    ("GET", "/healthz"),
    ("POST", "/{s}"),
]
path_parts = st.one_of(
    st.sampled_from(["fuzz.Subject", "orders-value", "a/b", "latest", "-1", "0", "99999999999999999999"]),
    text.map(lambda t: quote(t, safe="")),
    st.sampled_from(["%FF", "%ED%A0%80", "%00", "%2e%2e", "..", "%", "%zz"]),
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "schema": schema_texts,
            "schemaType": st.sampled_from(["AVRO", "PROTOBUF", "JSON", "avro"]) | hostile_text,
            "references": json_values,
            "compatibility": st.sampled_from(["NONE", "FULL", "BACKWARD"]) | hostile_text,
            "mode": st.sampled_from(["READWRITE", "IMPORT"]) | hostile_text,
            "metadata": json_values,
        },
    ).map(lambda body: json.dumps(body).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.integers(1, 20_000).map(lambda n: b'{"schema":' + b"[" * n + b"]" * n + b"}"),
)
rest_requests = st.tuples(
    st.sampled_from(ROUTES),
    path_parts,
    path_parts,
    st.lists(st.tuples(hostile_text, hostile_text), max_size=3),
    bodies,
)


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        value = st.sampled_from(["fuzz.Subject", "AVRO", "PROTOBUF", "FULL", "READONLY", ""]) | text
        if field.name in ("schema", "reader_schema"):
            value = schema_texts
        elif field.name == "url":
            value = st.just("http://127.0.0.1:9/hook")
    elif kind == FieldDescriptor.TYPE_BOOL:
        value = st.booleans()
    elif kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_ENUM):
        value = st.integers(-(2**31), 2**31 - 1)
    elif kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
        value = st.integers(-(2**63), 2**63 - 1)
    elif kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64):
        value = st.integers(0, 2**32 - 1)
    elif kind == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.GetOptions().map_entry:
            value = st.none()
        elif depth > 2:
            value = st.none()
        else:
            value = message_fields(field.message_type, depth + 1)
    elif kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        value = st.floats(allow_nan=False, width=32)
    else:
        value = st.none()
    return st.lists(value, max_size=3) if field.is_repeated else value


def message_fields(descriptor, depth: int = 0) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={f.name: _field_values(f, depth) for f in descriptor.fields})


grpc_messages = st.sampled_from(METHODS).flatmap(
    lambda method: st.tuples(st.just(method.name), message_fields(method.input_type))
)
grpc_raw = st.tuples(st.sampled_from([m.name for m in METHODS]), st.binary(max_size=300))

yaml_texts = st.one_of(
    hostile_text,
    json_values.map(json.dumps),
    st.lists(
        st.sampled_from(
            [
                "subject: a.B",
                "format: AVRO",
                "schema: s.avsc",
                "- x",
                "[",
                "&a [*a]",
                "key:",
                "apiVersion: v3.0.0",
                "kind: DataContract",
                "id: a.B",
                "schema:",
                "  - name: R",
                "    properties:",
                "      - name: x",
                "        logicalType: integer",
                "        physicalType: decimal(100000000000000000000,2)",
                "        required: yes",
                "references: [{name: a, subject: b.C, version: x}]",
                "customProperties: [1]",
            ]
        )  # fmt: skip
        | hostile_text,
        max_size=8,
    ).map("\n".join),
    st.integers(1, 3_000).map(lambda n: "[" * n + "]" * n),
)

# -- checks


class Targets:
    """The connections every check uses: a server's REST URL and gRPC channel, and a scratch folder."""

    def __init__(self, http_url: str, grpc_target: str):
        self.http = httpx.Client(base_url=http_url, timeout=30)
        self.channel = grpc.insecure_channel(grpc_target)
        self.scratch = Path(tempfile.mkdtemp(prefix="meshgate-fuzz-"))
        self.console: Any = None  # console_inputs.ConsoleSite, set by the fixture

    def close(self) -> None:
        self.http.close()
        self.channel.close()

    def rest(self, method: str, path: str, body: bytes | None = None, params=None) -> httpx.Response:
        response = self.http.request(method, path, content=body, params=params)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        if response.status_code >= 400:
            error = response.json()
            assert isinstance(error["error_code"], int) and isinstance(error["message"], str)
        assert "Traceback" not in response.text
        return response

    def grpc(self, method: str, payload: bytes, stream: bool = False) -> None:
        path = f"/{SERVICE.full_name}/{method}"
        try:
            if stream:
                call = self.channel.unary_stream(path)(payload, timeout=0.3)
                for _ in call:
                    pass
            else:
                self.channel.unary_unary(path)(payload, timeout=30)
        except grpc.RpcError as exc:
            if stream and exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                return
            assert exc.code() not in BAD_GRPC, (method, exc.code(), exc.details())


def check_schema(targets: Targets, value: tuple[str, str]) -> None:
    schema_format, text_ = value
    body = json.dumps({"schema": text_, "schemaType": schema_format}).encode()
    targets.rest("POST", "/subjects/fuzz.Schema/versions", body)
    targets.rest("POST", "/compatibility/subjects/fuzz.Schema/versions/latest", body)
    for method, request in (
        ("Register", pb.RegisterRequest(subject="fuzz.Schema", schema=text_, format=schema_format)),
        (
            "CheckCompatibility",
            pb.CheckCompatibilityRequest(subject="fuzz.Schema", schema=text_, format=schema_format),
        ),
        (
            "RegisterConsumer",
            pb.RegisterConsumerRequest(
                name="fuzz.r", subject="fuzz.Schema", reader_schema=text_, format=schema_format
            ),
        ),
    ):
        targets.grpc(method, request.SerializeToString())


def check_rest(targets: Targets, value) -> None:
    (method, template), first, second, query, body = value
    path = template.replace("{n}", first).replace("{s}", first).replace("{v}", second)
    targets.rest(method, path, body if method in ("POST", "PUT") else None, params=list(query))


def check_grpc_message(targets: Targets, value) -> None:
    method, fields = value
    descriptor = SERVICE.methods_by_name[method]
    message = _build(descriptor.input_type, fields)
    targets.grpc(method, message.SerializeToString(), stream=descriptor.server_streaming)


def _build(descriptor, fields: dict):
    from google.protobuf import message_factory

    message = message_factory.GetMessageClass(descriptor)()
    for name, value in fields.items():
        field = descriptor.fields_by_name[name]
        if value is None:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.is_repeated:
                for item in value:
                    if item is not None:
                        getattr(message, name).add().CopyFrom(_build(field.message_type, item))
            else:
                getattr(message, name).CopyFrom(_build(field.message_type, value))
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


def check_grpc_raw(targets: Targets, value) -> None:
    method, payload = value
    targets.grpc(method, payload, stream=SERVICE.methods_by_name[method].server_streaming)


def check_contract(targets: Targets, value: str) -> None:
    folder = targets.scratch
    (folder / "s.avsc").write_text('{"type": "record", "name": "R", "fields": []}')
    path = folder / "contract.yaml"
    path.write_text(value, encoding="utf-8", errors="surrogatepass")
    for load in (load_contract, load_contract_file):  # a meshgate contract file; ODCS v3 or meshgate
        try:
            load(path)
        except MeshgateError:
            pass


def check_gate_contract(targets: Targets, value: tuple) -> None:
    """A schema handed to the gate in an offline contract file (the path that bypasses the registry):
    its contract resolves and a JSON Lines batch decodes, or a ``MeshgateError`` names the problem.
    ``value``: (format, schema text) or (format, schema text, the batch's lines)."""
    schema_format, text_, *drawn = value
    lines = drawn[0] if drawn else ('{"id": "a"}', "{}", "[1]")
    folder = targets.scratch
    (folder / "gate.schema").write_text(text_, encoding="utf-8", errors="surrogatepass")
    contract = folder / "gate.yaml"
    contract.write_text(f"subject: fuzz.Gate\nformat: {schema_format}\nschema: gate.schema\n")
    (folder / "gate.jsonl").write_text(
        "".join(f"{line}\n" for line in lines), encoding="utf-8", errors="surrogatepass"
    )
    try:
        resolved = resolve_contract("fuzz.Gate", contract_file=contract)
        for _ in read_batch(str(folder / "gate.jsonl"), resolved.contract, references=resolved.references):
            pass
    except MeshgateError as refused:
        assert refused.message, refused


def check_meshgate_yaml(targets: Targets, value: str) -> None:
    path = targets.scratch / "meshgate.yaml"
    path.write_text(value, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError:
        pass


CHECKS = {
    "schema": (schemas, check_schema),
    "rest": (rest_requests, check_rest),
    "grpc_message": (grpc_messages, check_grpc_message),
    "grpc_raw_bytes": (grpc_raw, check_grpc_raw),
    "contract_file": (yaml_texts, check_contract),
    "gate_contract": (
        st.tuples(schemas, gate_lines).map(lambda drawn: (*drawn[0], drawn[1])),
        check_gate_contract,
    ),
    "meshgate_yaml": (yaml_texts, check_meshgate_yaml),
    **GATE_CHECKS,
}
