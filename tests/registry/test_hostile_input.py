"""Hostile input ends in a 4xx / INVALID_ARGUMENT naming the limit or the malformed field, over both
transports; never in a 500 / INTERNAL (the autouse fixture of conftest.py fails any test whose
server logged an unexpected exception). One test per defect of the probe in issue 20."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import RegistryClient
from registry.errors import InvalidArgument, LimitExceeded, MalformedText
from registry.limits import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS
from tests.registry.registry_harness import V1, running_server, unique_subject

SUBJECT = "probe.Event"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'registry.db'}"
    with running_server(url) as server:
        with RegistryClient(server.grpc_target) as client:
            client.register(SUBJECT, V1)
        yield server


@pytest.fixture
def client(server):
    with RegistryClient(server.grpc_target) as client:
        yield client


def _record(field: dict, doc: str | None = None) -> str:
    schema = {"type": "record", "name": "Event", "fields": [{"name": "id", "type": "string"}, field]}
    if doc is not None:
        schema["doc"] = doc
    return json.dumps(schema)


NESTED = "[" * 10_000 + "]" * 10_000
LONE_SURROGATE = '{"type": "record", "name": "Event", "doc": "\\ud800", "fields": []}'
HUGE_DEFAULT = (
    '{"type": "record", "name": "Event", "fields": [{"name": "n", "type": "long", "default": 1%s}]}'
    % ("0" * 5_000)
)
HUGE_FIXED = _record({"name": "f", "type": {"type": "fixed", "name": "F", "size": 10**30}})
HUGE_DECIMAL = _record(
    {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10**20, "scale": 2}}
)


def _rest(server, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.http_url}{path}", timeout=30, **kwargs)


def test_a_body_nested_ten_thousand_levels_is_422_naming_the_nesting_limit(server):
    body = '{"schema": ' + NESTED + "}"
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", content=body)
    assert answer.status_code == 422
    assert answer.json()["error_code"] == 42209
    assert f"nested deeper than {MAX_JSON_DEPTH}" in answer.json()["message"]
    assert "request body line 1 column 75: " in answer.json()["message"]


def test_a_schema_nested_ten_thousand_levels_is_refused_over_both_transports(server, client):
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", json={"schema": NESTED})
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42209)
    with pytest.raises(LimitExceeded, match="nesting depth"):
        client.register(SUBJECT, NESTED)


def test_an_escaped_lone_surrogate_in_a_doc_is_refused_over_both_transports(server, client):
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", json={"schema": LONE_SURROGATE})
    assert answer.status_code == 422
    assert answer.json()["error_code"] == 42208
    assert "\\ud800 is a lone surrogate" in answer.json()["message"]
    assert "schema line 1 column 45: " in answer.json()["message"]
    with pytest.raises(MalformedText, match="lone surrogate"):
        client.register(SUBJECT, LONE_SURROGATE)
    with pytest.raises(MalformedText, match="lone surrogate"):
        client.check(SUBJECT, LONE_SURROGATE)


def test_a_raw_lone_surrogate_in_a_rest_body_is_refused(server):
    body = b'{"schema": "\xed\xa0\x80"}'  # the UTF-8 form of U+D800: not valid UTF-8
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", content=body)
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42208)
    assert answer.json()["message"] == "request body: not valid UTF-8 at byte 12"


def test_a_five_thousand_digit_default_is_refused_on_register_check_and_consumers(server, client):
    for path in (f"/subjects/{SUBJECT}/versions", f"/compatibility/subjects/{SUBJECT}/versions/latest"):
        answer = _rest(server, "POST", path, json={"schema": HUGE_DEFAULT})
        assert (answer.status_code, answer.json()["error_code"]) == (422, 42209), path
        assert answer.json()["message"].startswith(
            f"schema line 1 column 89: 5001 digits, over {MAX_NUMBER_DIGITS}"
        )
    calls = {
        "Register": lambda: client.register(SUBJECT, HUGE_DEFAULT),
        "CheckCompatibility": lambda: client.check(SUBJECT, HUGE_DEFAULT),
        "RegisterConsumer": lambda: client.register_consumer(
            "probe.reader", SUBJECT, reader_schema=HUGE_DEFAULT
        ),
    }
    for name, call in calls.items():
        with pytest.raises(LimitExceeded, match="number literal") as refused:
            call()
        where = "reader_schema" if name == "RegisterConsumer" else "schema"
        assert refused.value.message.startswith(f"{where} line 1 column 89: 5001 digits"), name


@pytest.mark.parametrize(
    "schema, message",
    [
        (HUGE_FIXED, f"at Event.f.F: size {10**30} is outside 0..1048576 (limit 'fixed size'"),
        (HUGE_DECIMAL, f"at Event.d: precision {10**20} is outside 1..38 (limit 'decimal precision'"),
    ],
    ids=["fixed 10^30", "decimal precision 10^20"],
)
def test_a_fixed_or_decimal_past_the_bounds_never_registers(server, client, schema, message):
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", json={"schema": schema})
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42209)
    assert answer.json()["message"].startswith(f"{SUBJECT} {message}")
    with pytest.raises(LimitExceeded) as refused:
        client.register(SUBJECT, schema)
    assert refused.value.message == answer.json()["message"]
    assert client.list_versions(SUBJECT) == [1]


def test_decimal_precision_38_registers(client):
    subject = unique_subject()
    schema = _record(
        {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 2}}
    )
    assert client.register(subject, schema).version == 1


def _raw_register(server, payload: bytes) -> grpc.RpcError:
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary("/meshgate.registry.v1.ContractRegistry/Register")
        with pytest.raises(grpc.RpcError) as failed:
            call(payload, timeout=10)
    return failed.value


def test_invalid_utf8_in_a_grpc_string_field_is_invalid_argument(server):
    subject = b"probe.\xff"
    payload = b"\x0a" + bytes([len(subject)]) + subject  # field 1 (subject), length-delimited
    failed = _raw_register(server, payload)
    assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.details() == NOT_A_MESSAGE


NOT_A_MESSAGE = (
    "Register request: not a valid message (truncated, nested too deep, or a string field that is not UTF-8)"
)


def test_a_grpc_message_nested_ten_thousand_levels_is_invalid_argument(server):
    group = (99 << 3) | 3  # field 99, start group: unknown fields nest as deep as they are sent
    start, end = (
        bytes([0x80 | (group & 0x7F), group >> 7]),
        bytes([0x80 | ((group + 1) & 0x7F), (group + 1) >> 7]),
    )
    failed = _raw_register(server, start * 10_000 + end * 10_000)
    assert (failed.code(), failed.details()) == (grpc.StatusCode.INVALID_ARGUMENT, NOT_A_MESSAGE)


def test_truncated_grpc_bytes_are_invalid_argument(server):
    failed = _raw_register(server, b"\x0a\x40probe")
    assert (failed.code(), failed.details()) == (grpc.StatusCode.INVALID_ARGUMENT, NOT_A_MESSAGE)


def test_a_percent_ff_subject_in_a_rest_path_is_refused_and_nothing_is_stored(server, client):
    answer = _rest(server, "POST", "/subjects/bad.%FF/versions", json={"schema": V1})
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42208)
    assert answer.json()["message"] == "request path: not valid UTF-8 at byte 14"
    assert all("\ufffd" not in s for s in client.list_subjects())


def test_a_subject_outside_the_grammar_is_refused_over_both_transports(server, client):
    answer = _rest(server, "POST", "/subjects/bad%20name/versions", json={"schema": V1})
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42208)
    assert "'bad name' is not a subject name" in answer.json()["message"]
    with pytest.raises(MalformedText, match="'bad name' is not a subject name"):
        client.register("bad name", V1)
    with pytest.raises(MalformedText, match="is not a subject name"):
        client.get_version("bad\nname", 1)


def test_a_reference_to_a_subject_outside_the_grammar_is_refused(client):
    with pytest.raises(InvalidArgument, match=r"references\[0\].subject"):
        client.register(unique_subject(), V1, references=[{"name": "x", "subject": "a b", "version": 1}])


def test_a_grpc_string_field_over_the_limit_is_refused_naming_it(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.RegisterConsumer(pb.RegisterConsumerRequest(name="x" * 70_000, subject=SUBJECT, version=1))
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details().startswith("name: 70000 characters, over 65536")


def test_a_grpc_list_over_the_limit_is_refused_naming_it(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        request = pb.RegisterConsumerRequest(name="r", subject=SUBJECT, version=1, fields=["a"] * 1_001)
        with pytest.raises(grpc.RpcError) as failed:
            stub.RegisterConsumer(request)
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details().startswith("fields: 1001 items, over 1000")


def test_a_reference_chain_deeper_than_the_limit_is_refused(client):
    domain = unique_subject().split(".")[0]
    previous = None
    for depth in range(12):
        name = f"T{depth}"
        fields = {"name": "inner", "type": f"T{depth - 1}"} if previous else {"name": "v", "type": "int"}
        schema = json.dumps({"type": "record", "name": name, "fields": [fields]})
        refs = [previous] if previous else []
        subject = f"{domain}.{name}"
        try:
            registered = client.register(subject, schema, references=refs)
        except LimitExceeded as exc:
            assert "reference depth" in exc.message and depth > 10
            return
        previous = {"name": name, "subject": subject, "version": registered.version}
    pytest.fail("a chain of 12 references registered")


def test_request_headers_over_the_limit_are_refused_over_both_transports(server):
    answer = _rest(server, "GET", "/subjects", headers={"X-Big": "a" * 20_000})
    assert (answer.status_code, answer.json()["error_code"]) == (431, 43101)
    assert "limit 'header size'" in answer.json()["message"]
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.ListSubjects(pb.ListSubjectsRequest(), metadata=(("x-big", "a" * 21_000),), timeout=10)
    assert failed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_token_lifetime_past_what_a_timedelta_holds_is_refused_not_internal(server):
    """Found by the fuzz harness (regressions/grpc_message-df396b41c4e1.json)."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.CreateToken(
                pb.CreateTokenRequest(name="ci", role="admin", expires_in_seconds=-86_399_999_913_601)
            )
        far = stub.CreateToken(pb.CreateTokenRequest(name="ci", role="admin", expires_in_seconds=2**62))
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details() == "expires in: must be positive"
    assert far.token.expires_at != ""


def test_a_cli_duration_too_long_for_a_timedelta_is_refused():
    from registry.auth import parse_duration

    with pytest.raises(InvalidArgument, match="too long"):
        parse_duration("99999999999999999d")


@pytest.mark.parametrize(
    "schema, message",
    [
        (HUGE_FIXED, f"event.avsc at Event.f.F: size {10**30} is outside 0..1048576 (limit 'fixed size'"),
        (
            HUGE_DECIMAL,
            f"event.avsc at Event.d: precision {10**20} is outside 1..38 (limit 'decimal precision'",
        ),
        (HUGE_DEFAULT, f"event.avsc line 1 column 89: 5001 digits, over {MAX_NUMBER_DIGITS}"),
        (LONE_SURROGATE, "event.avsc line 1 column 45: the escape \\ud800 is a lone surrogate"),
    ],
    ids=["fixed 10^30", "decimal precision 10^20", "5000-digit default", "lone surrogate"],
)
def test_an_offline_contract_past_the_limits_is_refused_by_the_gate_without_a_traceback(
    tmp_path, schema, message
):
    """``meshgate ingest --contract`` never asks the registry: the gate checks the same limits itself
    (it used to crash with ``OverflowError`` mapping the ``fixed`` or the decimal onto Arrow)."""
    from click.testing import CliRunner

    from meshgate.cli import main

    (tmp_path / "event.avsc").write_text(schema)
    contract = tmp_path / "event.yaml"
    contract.write_text(f"subject: {SUBJECT}\nformat: AVRO\nschema: event.avsc\n")
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"id": "a"}\n')
    args = ["ingest", str(batch), "--subject", SUBJECT, "--contract", str(contract)]
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path / "data")])
    assert (result.exit_code, type(result.exception)) == (2, SystemExit), result.output
    assert result.output.startswith(f"error: {message}")
    assert "Traceback" not in result.output


def test_a_contract_reference_whose_version_is_not_a_number_is_refused_naming_it(tmp_path):
    from registry.contract import load_contract

    (tmp_path / "event.avsc").write_text(V1)
    contract = tmp_path / "event.yaml"
    contract.write_text(
        f"subject: {SUBJECT}\nformat: AVRO\nschema: event.avsc\n"
        "references:\n  - {name: a, subject: common.A, version: x}\n"
    )
    with pytest.raises(InvalidArgument) as refused:
        load_contract(contract)
    assert (
        refused.value.message == f"{contract}: references[0].version: a version number (1, 2, ...), got 'x'"
    )


def _fields(count: int) -> list[dict]:
    return [{"name": f"f{i}", "type": "int"} for i in range(count)]


_PROTO = 'syntax = "proto3";\nmessage %s {\n%s}\n'
LIMIT_BREACHES = [
    # (id, format, schema, message the breach is refused with, on both transports)
    ("name length", "AVRO", json.dumps({"type": "record", "name": "N" * 256, "fields": []}),
     f"{SUBJECT} at {'N' * 256}: name of 256 characters, over 255 (limit 'name length'"),
    ("doc length", "AVRO", json.dumps({"type": "record", "name": "Event", "fields": [], "doc": "d" * 65_537}),
     f"{SUBJECT} at Event: doc of 65537 characters, over 65536 (limit 'doc length'"),
    ("fields", "AVRO", json.dumps({"type": "record", "name": "Event", "fields": _fields(10_001)}),
     f"{SUBJECT} at Event: more than 10000 fields and named types (limit 'elements'"),
    ("enum symbols", "AVRO",
     _record({"name": "e", "type": {"type": "enum", "name": "E", "symbols": [f"S{i}" for i in range(10_001)]}}),
     f"{SUBJECT} at Event.e.E: 10001 enum symbols, over 10000 (limit 'elements'"),
    ("decimal scale", "AVRO",
     _record({"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 11}}),
     f"{SUBJECT} at Event.d: scale 11 is outside 0..10 (the precision) (limit 'decimal scale'"),
    ("protobuf fields", "PROTOBUF", _PROTO % ("M", "".join(f"  int32 f{i} = {i + 1};\n" for i in range(10_001))),
     f"{SUBJECT}: 10001 fields, over 10000 (limit 'elements'"),
    ("protobuf name", "PROTOBUF", _PROTO % ("M" * 256, ""),
     f"{SUBJECT}: a name of 256 characters (limit 'name length'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "schema_format, schema, message", [c[1:] for c in LIMIT_BREACHES], ids=[c[0] for c in LIMIT_BREACHES]
)
def test_each_structure_limit_is_refused_naming_it_over_both_transports(
    server, client, schema_format, schema, message
):
    body = {"schema": schema, "schemaType": schema_format}
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", json=body)
    assert (answer.status_code, answer.json()["error_code"]) == (422, 42209)
    assert answer.json()["message"].startswith(message)
    with pytest.raises(LimitExceeded) as refused:
        client.register(SUBJECT, schema, format=schema_format)
    assert refused.value.message == answer.json()["message"]
    assert client.list_versions(SUBJECT) == [1]


def test_references_subjects_and_schema_size_past_their_limits_are_refused_over_both_transports(
    server, client
):
    references = [{"name": f"r{i}", "subject": SUBJECT, "version": 1} for i in range(101)]
    answer = _rest(
        server, "POST", "/subjects/probe.Other/versions", json={"schema": V1, "references": references}
    )
    assert answer.json() == {
        "error_code": 42209,
        "message": "references: 101 references, over 100 (limit 'references', see docs/registry.md)",
    }
    with pytest.raises(LimitExceeded, match=r"^references: 101 references, over 100"):
        client.register("probe.Other", V1, references=references)
    long = "probe." + "a" * 250
    answer = _rest(server, "POST", f"/subjects/{long}/versions", json={"schema": V1})
    assert (answer.status_code, answer.json()["message"]) == (
        422,
        "path: subject: 256 characters, over 255 (limit 'subject length', see docs/registry.md)",
    )
    with pytest.raises(LimitExceeded, match=r"^subject: 256 characters, over 255"):
        client.register(long, V1)
    huge = json.dumps({"type": "record", "name": "Event", "fields": [], "doc": "x" * (1024 * 1024)})
    answer = _rest(server, "POST", f"/subjects/{SUBJECT}/versions", json={"schema": huge})
    assert (answer.status_code, answer.json()["error_code"]) == (413, 41301)
    assert answer.json()["message"] == f"schema: {len(huge)} bytes is over the limit of 1048576 bytes"
    with grpc.insecure_channel(server.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as failed:
            pb_grpc.ContractRegistryStub(channel).Register(pb.RegisterRequest(subject=SUBJECT, schema=huge))
    assert failed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "probe.Other" not in client.list_subjects() and client.list_versions(SUBJECT) == [1]


def test_a_five_thousand_digit_integer_in_a_yaml_file_is_refused_naming_file_line_and_column(tmp_path):
    """Found by make fuzz (an ODCS contract file): ``load_yaml`` refused deep YAML but let PyYAML's
    ``int()`` raise ``ValueError`` past 4,300 digits."""
    from registry.odcs import load_contract_file

    path = tmp_path / "contract.yaml"
    path.write_text("apiVersion: v3.0.0\nkind: DataContract\nid: " + "1" * 5_000 + "\n")
    with pytest.raises(LimitExceeded) as refused:
        load_contract_file(path)
    assert refused.value.message.startswith(
        f"{path}:3:5: 5000 digits, over {MAX_NUMBER_DIGITS} (limit 'number"
    )
