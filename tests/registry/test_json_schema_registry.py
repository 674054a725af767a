"""JSON Schema subjects in the registry, over REST (Confluent's API) and gRPC, against one
``meshgate serve`` process: every level both ways, references across subjects, each dialect,
invalid schemas, normalised lookup and ids, versions, deletes, modes, consumers by property path,
Watch events, webhooks and metrics."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import grpc
import httpx
import pytest

from registry.api import registry_pb2 as pb
from registry.api import registry_pb2_grpc as pb_grpc
from registry.client import RegistryClient
from registry.compat import Violation
from registry.contract import Reference, load_contract
from registry.errors import IncompatibleSchema, InvalidSchema, ReadOnlyMode, ReferenceExists
from registry.service.consumers import violation_touches
from tests.registry.registry_harness import Served, meshgate_serve, unique_subject

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples/contracts/web/page_viewed.yaml"


def closed(properties: dict, **keywords) -> str:
    """An object schema with ``id`` and ``properties`` that refuses any other property."""
    return obj(properties, additionalProperties=False, **keywords)


def obj(properties: dict, **keywords) -> str:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}, **properties},
        "required": ["id"],
        **keywords,
    }
    return json.dumps(schema, indent=2)


NOTE = {"note": {"type": "string"}}
BASE = closed({})  # {id}, closed
WITH_NOTE = closed(NOTE)  # {id, note}, closed: a property added
NOTE_AS_INTEGER = closed({"note": {"type": "integer"}})
OPEN = obj({})  # {id}, open: any other property allowed
OPEN_WITH_NOTE = obj(NOTE)
STRINGS_OPEN = obj({}, additionalProperties={"type": "string"})  # partially open: other strings
STRINGS_OPEN_WITH_NOTE = obj(NOTE, additionalProperties={"type": "string"})
REMOVED = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"


@dataclass(frozen=True)
class LevelCase:
    """History registered under NONE, then the level set, then ``candidate``: accepted when
    ``refused_by`` is None, else refused naming that rule. Rule ids are Confluent's."""

    level: str
    history: tuple[str, ...]
    candidate: str
    refused_by: str | None
    why: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.level}-{'refused' if self.refused_by else 'accepted'}-{self.why}"


LEVEL_CASES = [
    LevelCase("NONE", (WITH_NOTE,), BASE, None, "anything"),
    LevelCase("BACKWARD", (BASE,), WITH_NOTE, None, "added to closed: old data lacks it"),
    LevelCase("BACKWARD", (WITH_NOTE,), BASE, REMOVED, "removed from closed: old data has it"),
    LevelCase("BACKWARD", (NOTE_AS_INTEGER, BASE), WITH_NOTE, None, "only the latest"),
    LevelCase("BACKWARD_TRANSITIVE", (BASE,), WITH_NOTE, None, "added to closed"),
    LevelCase("BACKWARD_TRANSITIVE", (NOTE_AS_INTEGER, BASE), WITH_NOTE, "TYPE_CHANGED", "v1 note integer"),
    LevelCase("FORWARD", (WITH_NOTE,), BASE, None, "removed: the old closed reader never sees it"),
    LevelCase("FORWARD", (BASE,), WITH_NOTE, REMOVED, "added: the old closed reader refuses it"),
    LevelCase("FORWARD", (BASE, OPEN), OPEN_WITH_NOTE, None, "the open latest reads it"),
    LevelCase("FORWARD_TRANSITIVE", (WITH_NOTE,), BASE, None, "removed"),
    LevelCase("FORWARD_TRANSITIVE", (BASE, OPEN), OPEN_WITH_NOTE, REMOVED, "the closed v1 refuses it"),
    LevelCase("FULL", (STRINGS_OPEN,), STRINGS_OPEN_WITH_NOTE, None, "covered both ways"),
    LevelCase("FULL", (BASE,), WITH_NOTE, REMOVED, "added to closed"),
    LevelCase("FULL", (NOTE_AS_INTEGER, STRINGS_OPEN), STRINGS_OPEN_WITH_NOTE, None, "only the latest"),
    LevelCase("FULL_TRANSITIVE", (STRINGS_OPEN,), STRINGS_OPEN_WITH_NOTE, None, "covered both ways"),
    LevelCase(
        "FULL_TRANSITIVE", (NOTE_AS_INTEGER, STRINGS_OPEN), STRINGS_OPEN_WITH_NOTE, "TYPE_CHANGED", "v1"
    ),
]


class Refused(Exception):
    """A registration refused as incompatible: the rule ids, and the consumers it would break."""

    def __init__(self, rules: list[str], consumers: list[str]):
        super().__init__(rules)
        self.rules = rules
        self.consumers = consumers


class Invalid(Exception):
    """A registration refused as an invalid schema (42201 / INVALID_ARGUMENT), with the message."""


class Rest:
    """Confluent's REST API, spoken with httpx."""

    name = "rest"

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, headers={"Content-Type": CONTENT_TYPE})

    def register(self, subject: str, schema: str, references: tuple[Reference, ...] = ()) -> tuple[int, int]:
        body = {"schema": schema, "schemaType": "JSON", "references": [vars(r) for r in references]}
        answer = self.http.post(f"/subjects/{quote(subject, safe='')}/versions", json=body)
        if answer.status_code == 409:
            refused = answer.json()
            assert refused["error_code"] == 409
            raise Refused(
                [v["rule"] for v in refused["violations"]], [c["name"] for c in refused["brokenConsumers"]]
            )
        if answer.status_code == 422 and answer.json()["error_code"] == 42201:
            raise Invalid(answer.json()["message"])
        assert answer.status_code == 200, answer.text
        found = self.version(subject, answer.json()["version"])
        return found["id"], found["version"]

    def check(self, subject: str, schema: str) -> bool:
        answer = self.http.post(
            f"/compatibility/subjects/{quote(subject, safe='')}/versions/latest",
            json={"schema": schema, "schemaType": "JSON"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["is_compatible"]

    def lookup(self, subject: str, schema: str, references: tuple[Reference, ...] = ()) -> tuple[int, int]:
        body = {"schema": schema, "schemaType": "JSON", "references": [vars(r) for r in references]}
        answer = self.http.post(f"/subjects/{quote(subject, safe='')}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["id"], answer.json()["version"]

    def set_level(self, subject: str, level: str) -> None:
        answer = self.http.put(f"/config/{quote(subject, safe='')}", json={"compatibility": level})
        assert answer.status_code == 200, answer.text

    def version(self, subject: str, version: int | str) -> dict:
        answer = self.http.get(f"/subjects/{quote(subject, safe='')}/versions/{version}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self.http.close()


class Grpc:
    """The gRPC API, through meshgate's own client."""

    name = "grpc"

    def __init__(self, target: str):
        self.client = RegistryClient(target)

    def register(self, subject: str, schema: str, references: tuple[Reference, ...] = ()) -> tuple[int, int]:
        try:
            registered = self.client.register(subject, schema, "JSON", references)
        except IncompatibleSchema as exc:
            raise Refused([v.rule for v in exc.violations], exc.consumers) from None
        except InvalidSchema as exc:
            raise Invalid(exc.message) from None
        assert registered.format == "JSON"
        return registered.schema_id, registered.version

    def check(self, subject: str, schema: str) -> bool:
        return self.client.check(subject, schema, "JSON").compatible

    def lookup(self, subject: str, schema: str, references: tuple[Reference, ...] = ()) -> tuple[int, int]:
        found = self.client.lookup(subject, schema, "JSON", references)
        return found.schema_id, found.version

    def set_level(self, subject: str, level: str) -> None:
        self.client.set_config(subject, level)

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    with meshgate_serve(tmp_path_factory.mktemp("meshgate")) as running:
        yield running


@pytest.fixture(params=["rest", "grpc"])
def api(request, served):
    made = Rest(served.http_url) if request.param == "rest" else Grpc(served.grpc_target)
    yield made
    made.close()


@pytest.fixture
def client(served):
    with RegistryClient(served.grpc_target) as made:
        yield made


# ---- levels, both directions, transitive or not


@pytest.mark.parametrize("case", LEVEL_CASES, ids=str)
def test_each_level_accepts_and_refuses_json_schemas_as_confluent_does(api, case):
    subject = unique_subject("PageViewed")
    api.set_level(subject, "NONE")
    for schema in case.history:
        api.register(subject, schema)
    api.set_level(subject, case.level)
    if case.refused_by is None:
        assert api.check(subject, case.candidate) is True
        assert api.register(subject, case.candidate)[1] == len(case.history) + 1
    else:
        with pytest.raises(Refused) as refused:
            api.register(subject, case.candidate)
        assert case.refused_by in refused.value.rules
        assert refused.value.consumers == []


def test_the_example_json_contract_file_registers_with_its_metadata(client):
    contract = load_contract(EXAMPLE)
    assert (contract.subject, contract.format) == ("web.PageViewed", "JSON")
    registered = client.register(contract)
    assert (registered.format, registered.version) == ("JSON", 1)
    metadata = client.latest("web.PageViewed").metadata
    assert (metadata.owner_domain, metadata.primary_key, metadata.pii_fields) == (
        "web",
        ["event_id"],
        ["user_email"],
    )
    assert [(rule.field, rule.rule) for rule in metadata.quality_rules][:2] == [
        ("event_id", "not_null"),
        ("event_id", "unique"),
    ]


# ---- ids, lookup, versions, deletes, modes


def test_identical_json_schemas_share_one_id_and_lookup_is_normalised(api):
    first, second = unique_subject("A"), unique_subject("B")
    schema_id, version = api.register(first, WITH_NOTE)
    relaid = json.dumps(dict(reversed(list(json.loads(WITH_NOTE).items()))))  # other order and spacing
    assert api.register(second, relaid) == (schema_id, 1)
    assert api.lookup(first, relaid) == (schema_id, version)
    assert api.register(first, relaid) == (schema_id, version)  # already there: no new version
    assert api.register(first, OPEN) != (schema_id, version)  # another schema: another id, version 2


def test_normalize_stores_the_canonical_json(served):
    subject = unique_subject()
    schema = closed(NOTE, title=subject)  # registered nowhere yet
    with httpx.Client(base_url=served.http_url) as http:
        answer = http.post(
            f"/subjects/{subject}/versions",
            params={"normalize": "true"},
            json={"schema": schema, "schemaType": "JSON"},
        )
        assert answer.status_code == 200, answer.text
        stored = http.get(f"/schemas/ids/{answer.json()['id']}").json()
    assert stored["schemaType"] == "JSON"
    assert stored["schema"] == json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))


def test_json_versions_list_soft_and_hard_delete_over_grpc_and_rest(served, client):
    subject = unique_subject()
    client.set_config(subject, "NONE")
    for schema in (BASE, WITH_NOTE, OPEN):
        client.register(subject, schema, "JSON")
    assert client.list_versions(subject) == [1, 2, 3]
    assert client.latest(subject).schema == OPEN and client.latest(subject).format == "JSON"
    assert client.delete_version(subject, 3) == 3
    with httpx.Client(base_url=served.http_url) as http:
        assert http.get(f"/subjects/{subject}/versions").json() == [1, 2]
        assert http.get(f"/subjects/{subject}/versions/latest").json()["schema"] == WITH_NOTE
        assert http.delete(f"/subjects/{subject}/versions/3", params={"permanent": "true"}).json() == 3
        assert http.get(f"/subjects/{subject}/versions", params={"deleted": "true"}).json() == [1, 2]
        assert http.delete(f"/subjects/{subject}").json() == [1, 2]
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    assert subject not in client.list_subjects(include_deleted=True)


def test_a_readonly_json_subject_refuses_writes(served, client):
    subject = unique_subject()
    client.register(subject, BASE, "JSON")
    client.set_mode(subject, "READONLY")
    with pytest.raises(ReadOnlyMode):
        client.register(subject, WITH_NOTE, "JSON")
    with httpx.Client(base_url=served.http_url) as http:
        refused = http.post(f"/subjects/{subject}/versions", json={"schema": WITH_NOTE, "schemaType": "JSON"})
    assert (refused.status_code, refused.json()["error_code"]) == (422, 42205)
    client.set_mode(subject, "READWRITE")
    assert client.register(subject, WITH_NOTE, "JSON").version == 2


def test_a_json_subject_refuses_a_schema_of_another_format(served, client):
    subject = unique_subject()
    client.register(subject, BASE, "JSON")
    with pytest.raises(IncompatibleSchema) as refused:
        client.register(subject, '{"type": "string"}', "AVRO")
    assert [v.rule for v in refused.value.violations] == ["FORMAT_CHANGED"]
    assert "holds JSON schemas" in refused.value.violations[0].message
    with httpx.Client(base_url=served.http_url) as http:
        answer = http.post(f"/subjects/{subject}/versions", json={"schema": '"string"'})  # Avro: the default
    assert answer.status_code == 409 and answer.json()["violations"][0]["rule"] == "FORMAT_CHANGED"


# ---- references across subjects

MONEY = json.dumps(
    {
        "$id": "https://schemas.shop.test/money.schema.json",
        "type": "object",
        "properties": {"cents": {"type": "integer"}, "currency": {"type": "string"}},
        "required": ["cents", "currency"],
    },
    indent=2,
)
MONEY_CENTS_AS_STRING = MONEY.replace(
    '"cents": {\n      "type": "integer"', '"cents": {\n      "type": "string"'
)


def invoice(ref: str) -> str:
    return json.dumps(
        {
            "type": "object",
            "properties": {"id": {"type": "string"}, "total": {"$ref": ref}},
            "required": ["id", "total"],
        },
        indent=2,
    )


@pytest.mark.parametrize(
    "name", ["money.schema.json", "https://schemas.shop.test/money.schema.json"], ids=["file name", "$id"]
)
def test_a_ref_to_another_subject_resolves_through_a_reference_of_that_name(api, name):
    money = unique_subject("Money")
    api.register(money, MONEY)
    subject = unique_subject("Invoice")
    references = (Reference(name, money, 1),)
    schema_id, version = api.register(subject, invoice(name), references)
    assert api.lookup(subject, invoice(name), references) == (schema_id, version)
    assert api.register(unique_subject("Copy"), invoice(name), references)[0] == schema_id


def test_a_json_schema_by_id_answers_its_references_over_rest_and_grpc(served, client):
    money = unique_subject("Money")
    client.register(money, MONEY, "JSON")
    references = [Reference("money.json", money, 1)]
    registered = client.register(unique_subject("Invoice"), invoice("money.json"), "JSON", references)
    with httpx.Client(base_url=served.http_url) as http:
        by_id = http.get(f"/schemas/ids/{registered.schema_id}").json()
    assert by_id == {
        "schema": invoice("money.json"),
        "schemaType": "JSON",
        "references": [{"name": "money.json", "subject": money, "version": 1}],
        "guid": by_id["guid"],  # every schema's GUID (Confluent's /schemas/guids/{guid})
    }
    record = client.get_by_id(registered.schema_id)
    assert (record.format, list(record.references)) == ("JSON", references)


def test_a_change_inside_a_referenced_schema_is_checked_with_its_field_path(api, client):
    money = unique_subject("Money")
    api.set_level(money, "NONE")
    api.register(money, MONEY)
    api.register(money, MONEY_CENTS_AS_STRING)
    subject = unique_subject("Invoice")
    api.register(subject, invoice("money.schema.json"), (Reference("money.schema.json", money, 1),))
    with pytest.raises(Refused) as refused:
        api.register(subject, invoice("money.schema.json"), (Reference("money.schema.json", money, 2),))
    assert refused.value.rules == ["TYPE_CHANGED"]
    verdict = client.check(
        subject, invoice("money.schema.json"), "JSON", [Reference("money.schema.json", money, 2)]
    )
    assert [(v.rule, v.path) for v in verdict.violations] == [
        ("TYPE_CHANGED", "#/properties/total/properties/cents")
    ]
    assert "field total.cents" in verdict.violations[0].message


def test_a_referenced_json_subject_cannot_be_deleted(api, client):
    money = unique_subject("Money")
    api.register(money, MONEY)
    api.register(unique_subject("Invoice"), invoice("money.json"), (Reference("money.json", money, 1),))
    with pytest.raises(ReferenceExists):
        client.delete_subject(money)


def test_an_unresolvable_ref_is_invalid_naming_its_json_pointer(api):
    with pytest.raises(Invalid) as invalid:
        api.register(unique_subject("Invoice"), invoice("money.schema.json"))
    assert "#/properties/total/$ref" in str(invalid.value)
    assert "'money.schema.json' cannot be resolved" in str(invalid.value)


def test_a_reference_to_a_missing_version_is_invalid(api):
    missing = (Reference("money.json", unique_subject("Money"), 1),)
    with pytest.raises(Invalid, match="version 1 of subject .* does not exist"):
        api.register(unique_subject("Invoice"), invoice("money.json"), missing)


# ---- dialects and invalid schemas

DIALECTS = {
    "draft-04": ("http://json-schema.org/draft-04/schema#", {"minimum": 0, "exclusiveMinimum": True}),
    "draft-06": ("http://json-schema.org/draft-06/schema#", {"exclusiveMinimum": 0}),
    "draft-07": ("http://json-schema.org/draft-07/schema#", {"exclusiveMinimum": 0}),
    "2019-09": ("https://json-schema.org/draft/2019-09/schema", {"exclusiveMinimum": 0}),
    "2020-12": ("https://json-schema.org/draft/2020-12/schema", {"exclusiveMinimum": 0}),
}


def counter(dialect: str, maximum: int, **count) -> str:
    uri, bounds = DIALECTS[dialect]
    properties = {"count": {"type": "integer", "maximum": maximum, **bounds, **count}}
    return json.dumps({"$schema": uri, "type": "object", "properties": properties}, indent=2)


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_each_dialect_registers_and_is_checked(api, dialect):
    subject = unique_subject()
    schema_id, _ = api.register(subject, counter(dialect, 10))
    assert api.lookup(subject, counter(dialect, 10)) == (schema_id, 1)
    assert api.register(subject, counter(dialect, 20))[1] == 2  # a reader with a wider maximum
    with pytest.raises(Refused) as refused:
        api.register(subject, counter(dialect, 5))
    assert refused.value.rules == ["MAXIMUM_DECREASED"]


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMinimum": 0}, "#/exclusiveMinimum"),
        ({"properties": {"n": {"exclusiveMinimum": True}}}, "#/properties/n/exclusiveMinimum"),
        (
            {"$schema": "https://json-schema.org/draft/2019-09/schema", "dependentRequired": {"a": "b"}},
            "#/dependentRequired/a",
        ),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": {}}, "#/prefixItems"),
        ({"type": "nope"}, "#/type"),
        ({"$schema": "https://example.test/my-dialect"}, "#/$schema"),
        ({"$ref": "#/definitions/missing"}, "#/$ref"),
    ],
    ids=["draft-04", "draft-07", "2019-09", "2020-12", "type", "unknown dialect", "local $ref"],
)
def test_an_invalid_json_schema_is_42201_or_invalid_argument_naming_the_pointer(api, schema, pointer):
    with pytest.raises(Invalid) as invalid:
        api.register(unique_subject(), json.dumps(schema, indent=2))
    assert f"{pointer}:" in str(invalid.value)


def test_an_invalid_json_schema_over_grpc_is_invalid_argument(served):
    with grpc.insecure_channel(served.grpc_target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.Register(pb.RegisterRequest(subject=unique_subject(), format="JSON", schema='{"type": 1}'))
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "#/type: not a valid draft-07 JSON Schema" in failed.value.details()


# ---- consumers by dotted property path

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "customer": {
            "type": "object",
            "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
        },
    },
}


def order(email: str = "string", name: str = "string") -> str:
    changed = json.loads(json.dumps(ORDER))
    changed["properties"]["customer"]["properties"]["email"]["type"] = email
    changed["properties"]["customer"]["properties"]["name"]["type"] = name
    return json.dumps(changed, indent=2)


def test_a_consumer_of_customer_email_is_broken_only_by_a_change_to_it(api, client):
    subject = unique_subject("Order")
    api.set_level(subject, "NONE")
    api.register(subject, order())
    client.register_consumer("mailer", subject, version=1, fields=["customer.email"])
    client.register_consumer("ledger", subject, version=1, fields=["id"])

    assert api.register(subject, order(name="integer"))[1] == 2  # no consumer reads customer.name
    with pytest.raises(Refused) as refused:
        api.register(subject, order(email="integer"))
    assert refused.value.consumers == ["mailer"]
    assert refused.value.rules == ["TYPE_CHANGED"]
    verdict = client.check(subject, order(email="integer"), "JSON")
    (broken,) = verdict.broken_consumers
    assert (broken.name, broken.fields) == ("mailer", ("customer.email",))
    assert broken.violations[0].path == "#/properties/customer/properties/email"
    assert broken.violations[0].message.startswith("consumer 'mailer' cannot read it:")


@pytest.mark.parametrize(
    ("field_path", "fields", "touches"),
    [
        ("customer.email", ["customer.email"], True),
        ("customer.email", ["customer"], True),
        ("customer.email", ["customer.name"], False),
        ("customer.email", ["id"], False),
        ("id", ["id"], True),
        ("id", ["customer.email"], False),
        ("", ["id"], True),  # the root: every field
    ],
)
def test_a_json_schema_violation_touches_fields_by_its_dotted_property_path(field_path, fields, touches):
    pointer = "#" + "".join(f"/properties/{part}" for part in field_path.split(".") if part)
    violation = Violation("TYPE_CHANGED", pointer, "changed", field_path=field_path)
    assert violation_touches(violation.element, fields) is touches


def test_a_change_at_the_root_concerns_every_consumer(client):
    subject = unique_subject("Order")
    client.set_config(subject, "NONE")
    client.register(subject, order(), "JSON")
    client.register_consumer("ledger", subject, version=1, fields=["id"])
    closed_order = json.dumps({**ORDER, "additionalProperties": False})
    client.register(subject, closed_order, "JSON")  # a closed model: the open reader reads it
    client.register_consumer("strict", subject, version=2, fields=["id"])
    with pytest.raises(IncompatibleSchema) as refused:
        client.register(subject, json.dumps({**ORDER, "additionalProperties": True}), "JSON")
    assert refused.value.consumers == ["strict"]  # strict's closed reader refuses what the open one allows


def test_a_reader_schema_consumer_of_a_json_subject(client):
    subject = unique_subject("Order")
    client.set_config(subject, "NONE")
    client.register(subject, order(), "JSON")
    client.register_consumer("reporting", subject, reader_schema=order(), fields=["customer.email"])
    (consumer,) = client.list_consumers(subject)
    assert (consumer.format, consumer.fields) == ("JSON", ("customer.email",))
    with pytest.raises(IncompatibleSchema) as refused:
        client.register(subject, order(email="integer"), "JSON")
    assert refused.value.consumers == ["reporting"]


# ---- Watch events, webhooks, metrics


def test_json_registrations_are_watch_events_with_their_format(client):
    subject = unique_subject()
    client.register(subject, BASE, "JSON")
    stream = client.watch(subject_prefix=subject, event_types=["VERSION_REGISTERED"])
    try:
        event = next(stream)
    finally:
        stream.close()
    assert (event.subject, event.version, event.detail) == (subject, 1, {"format": "JSON"})


class Receiver:
    """A loopback HTTP endpoint that records the webhook bodies it is sent."""

    def __init__(self):
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, within: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + within
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_json_registration_is_delivered_to_a_webhook(client):
    receiver = Receiver()
    subject = unique_subject()
    try:
        webhook, _ = client.add_webhook(receiver.url, "whsec-json", subject_prefix=subject)
        client.register(subject, BASE, "JSON")
        (body,) = receiver.wait_for(1)
    finally:
        client.remove_webhook(webhook.id)
        receiver.close()
    assert (body["type"], body["subject"], body["detail"]) == (
        "VERSION_REGISTERED",
        subject,
        {"format": "JSON"},
    )


def test_refused_json_schemas_count_in_the_metrics(served, api):
    subject = unique_subject()
    api.register(subject, WITH_NOTE)
    with pytest.raises(Refused):
        api.register(subject, BASE)
    metrics = httpx.get(f"{served.http_url}/metrics").text
    assert f'meshgate_compatibility_rejections_total{{subject="{subject}"}} 1.0' in metrics
