"""Confluent's own Python client and Kafka serializers, unchanged, against meshgate's REST API.

The real ``SchemaRegistryClient`` (confluent-kafka) talks over HTTP to a real server on a loopback port
over a SQLite store: what teams already run must work as it does against Confluent Schema Registry.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import sys

import pytest
from confluent_kafka.schema_registry import (
    ConfigCompatibilityLevel,
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    ServerConfig,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from registry.service import RegistryService
from registry.store import Store, sqlite_url
from tests.registry.http_harness import serve_http
from tests.registry.http_schemas import (
    ORDER_BREAKING,
    ORDER_V1,
    ORDER_V2,
    PAGE_VIEW_BREAKING,
    PAGE_VIEW_V1,
    PAGE_VIEW_V2,
    USER_PROTO_BREAKING,
    USER_PROTO_V1,
    USER_PROTO_V2,
)
from tests.registry.registry_harness import meshgate_serve


@pytest.fixture
def registry_url(tmp_path):
    store = Store(sqlite_url(tmp_path))
    with serve_http(RegistryService(store)) as url:
        yield url
    store.close()


def new_client(url: str) -> SchemaRegistryClient:
    """A fresh client: nothing cached, so every answer below came over HTTP."""
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def test_avro_register_fetch_check_configure_and_delete(registry_url):
    client = new_client(registry_url)
    first_id = client.register_schema("orders-value", Schema(ORDER_V1, "AVRO"))
    second_id = client.register_schema("orders-value", Schema(ORDER_V2, "AVRO"))
    assert first_id != second_id

    reader = new_client(registry_url)
    assert '"amount"' in reader.get_schema(second_id).schema_str
    latest = reader.get_latest_version("orders-value")
    assert (latest.version, latest.schema_id, latest.subject) == (2, second_id, "orders-value")
    assert reader.get_version("orders-value", 1).schema_id == first_id
    assert reader.lookup_schema("orders-value", Schema(ORDER_V1, "AVRO")).version == 1
    assert reader.get_subjects() == ["orders-value"]
    assert reader.get_versions("orders-value") == [1, 2]
    assert reader.get_subjects_by_schema_id(first_id) == ["orders-value"]
    assert [(v.subject, v.version) for v in reader.get_schema_versions(first_id)] == [("orders-value", 1)]
    assert sorted(reader.get_schema_types()) == ["AVRO", "JSON", "PROTOBUF"]

    assert reader.test_compatibility("orders-value", Schema(ORDER_V2, "AVRO")) is True
    assert reader.test_compatibility("orders-value", Schema(ORDER_BREAKING, "AVRO")) is False
    assert reader.test_compatibility("orders-value", Schema(ORDER_BREAKING, "AVRO"), version=1) is False
    assert reader.test_compatibility_all_versions("orders-value", Schema(ORDER_BREAKING, "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema("orders-value", Schema(ORDER_BREAKING, "AVRO"))
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)

    assert reader.get_compatibility() == "BACKWARD"
    reader.set_compatibility("orders-value", "none")
    assert reader.get_compatibility("orders-value") == "NONE"
    assert reader.test_compatibility("orders-value", Schema(ORDER_BREAKING, "AVRO")) is True
    reader.set_config("orders-value", ServerConfig(compatibility=ConfigCompatibilityLevel.FULL))
    assert str(reader.get_config("orders-value").compatibility_level) == "FULL"
    assert str(reader.delete_config("orders-value").compatibility_level) == "FULL"
    for no_level_of_its_own in (reader.get_compatibility, reader.get_config):
        with pytest.raises(SchemaRegistryError) as missing:
            no_level_of_its_own("orders-value")
        assert (missing.value.http_status_code, missing.value.error_code) == (404, 40408)
    reader.set_compatibility(level="FORWARD")
    assert str(reader.get_config().compatibility_level) == "FORWARD"

    assert reader.delete_version("orders-value", 2) == 2
    assert reader.get_versions("orders-value") == [1]
    assert reader.delete_version("orders-value", 2, permanent=True) == 2
    assert reader.delete_subject("orders-value") == [1]
    assert reader.get_subjects(deleted=True) == ["orders-value"]
    assert reader.delete_subject("orders-value", permanent=True) == [1]
    assert reader.get_subjects(deleted=True) == []


def test_client_errors_carry_confluent_codes(registry_url):
    client = new_client(registry_url)
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO"))
    cases = [
        (lambda: client.get_schema(987654), 404, 40403),
        (lambda: client.get_version("orders-value", 9), 404, 40402),
        (lambda: client.get_latest_version("missing-value"), 404, 40401),
        (lambda: client.lookup_schema("orders-value", Schema(ORDER_V2, "AVRO")), 404, 40403),
        (lambda: client.register_schema("orders-value", Schema('{"type": "nope"}', "AVRO")), 422, 42201),
        (lambda: client.register_schema("orders-value", Schema('{"type": "nope"}', "JSON")), 422, 42201),
        (lambda: client.set_compatibility("orders-value", "SIDEWAYS"), 422, 42203),
        (lambda: client.delete_subject("orders-value", permanent=True), 404, 40405),
        (lambda: client.get_compatibility("orders-value"), 404, 40408),
        (lambda: client.delete_config("orders-value"), 404, 40401),
    ]
    for call, status, code in cases:
        with pytest.raises(SchemaRegistryError) as error:
            call()
        assert (error.value.http_status_code, error.value.error_code) == (status, code), error.value


def test_mode_calls(registry_url):
    client = new_client(registry_url)
    assert client.get_global_mode() == "READWRITE"
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO"))
    assert client.update_mode("orders-value", "READONLY") == "READONLY"
    assert client.get_mode("orders-value") == "READONLY"
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("orders-value", Schema(ORDER_V2, "AVRO"))
    assert refused.value.error_code == 42205
    assert client.update_global_mode("READONLY") == "READONLY"
    assert client.get_global_mode() == "READONLY"


def test_protobuf_register_fetch_check_and_delete(registry_url):
    client = new_client(registry_url)
    first_id = client.register_schema("identity.User", Schema(USER_PROTO_V1, "PROTOBUF"))
    client.register_schema("identity.User", Schema(USER_PROTO_V2, "PROTOBUF"))

    reader = new_client(registry_url)
    fetched = reader.get_schema(first_id)
    assert fetched.schema_type == "PROTOBUF"
    assert "message User" in fetched.schema_str
    latest = reader.get_latest_version("identity.User")
    assert latest.version == 2 and latest.schema.schema_type == "PROTOBUF"
    assert reader.get_version("identity.User", 1).schema_id == first_id
    assert reader.test_compatibility("identity.User", Schema(USER_PROTO_V2, "PROTOBUF")) is True
    assert reader.test_compatibility("identity.User", Schema(USER_PROTO_BREAKING, "PROTOBUF")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema("identity.User", Schema(USER_PROTO_BREAKING, "PROTOBUF"))
    assert refused.value.error_code == 409
    assert reader.delete_subject("identity.User") == [1, 2]


def test_protobuf_import_through_a_reference(registry_url):
    client = new_client(registry_url)
    money = 'syntax = "proto3";\npackage common;\n\nmessage Money {\n  int64 cents = 1;\n}\n'
    client.register_schema("common.Money", Schema(money, "PROTOBUF"))
    order = (
        'syntax = "proto3";\npackage shop;\nimport "common/money.proto";\n\n'
        "message Order {\n  string id = 1;\n  common.Money total = 2;\n}\n"
    )
    references = [SchemaReference("common/money.proto", "common.Money", 1)]
    order_id = client.register_schema("shop.Order", Schema(order, "PROTOBUF", references))
    fetched = new_client(registry_url).get_schema(order_id)
    assert [(r.name, r.subject, r.version) for r in fetched.references] == [
        ("common/money.proto", "common.Money", 1)
    ]


def test_avro_serializer_and_deserializer_round_trip(registry_url):
    context = SerializationContext("orders", MessageField.VALUE)
    serializer = AvroSerializer(new_client(registry_url), ORDER_V1)
    payload = serializer({"id": "order-1"}, context)

    schema_id = new_client(registry_url).get_latest_version("orders-value").schema_id
    assert payload[0] == 0 and int.from_bytes(payload[1:5], "big") == schema_id

    # A consumer with its own client finds the writer schema by the id in the message.
    assert AvroDeserializer(new_client(registry_url))(payload, context) == {"id": "order-1"}
    # A consumer already on v2 reads v1 data: the new field takes its default.
    upgraded = AvroDeserializer(new_client(registry_url), ORDER_V2)
    assert upgraded(payload, context) == {"id": "order-1", "amount": 0.0}


MONEY_PROTO = 'syntax = "proto3";\npackage acme.types;\n\nmessage Money {\n  int64 cents = 1;\n  string currency = 2;\n}\n'
SIGNUP_PROTO = """syntax = "proto3";
package acme.identity;

import "acme_types/money.proto";
import "google/protobuf/timestamp.proto";

message SignedUp {
  string user_id = 1;
  map<string, string> labels = 2;
  acme.types.Money credit = 3;
  google.protobuf.Timestamp at = 4;
  oneof channel {
    string web = 5;
    string app = 6;
  }
}
"""


@pytest.fixture(scope="module")
def signup_pb2(tmp_path_factory):
    """Generated message classes, as a producer's build would make them (grpc_tools' protoc)."""
    from grpc_tools import protoc

    root = tmp_path_factory.mktemp("generated")
    (root / "acme_types").mkdir()
    (root / "acme_types" / "money.proto").write_text(MONEY_PROTO)
    (root / "acme_signup.proto").write_text(SIGNUP_PROTO)
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    for source in ("acme_types/money.proto", "acme_signup.proto"):
        assert protoc.main(["protoc", f"-I{root}", f"-I{well_known}", f"--python_out={root}", source]) == 0
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("acme_signup_pb2")
    finally:
        sys.path.remove(str(root))


def test_protobuf_serializer_and_deserializer_round_trip(registry_url, signup_pb2):
    context = SerializationContext("signups", MessageField.VALUE)
    message = signup_pb2.SignedUp(user_id="u-1", labels={"plan": "pro"}, web="https://example.test")
    message.credit.cents = 1250
    message.credit.currency = "EUR"
    message.at.FromSeconds(1_700_000_000)
    serializer = ProtobufSerializer(
        signup_pb2.SignedUp, new_client(registry_url), {"use.deprecated.format": False}
    )
    payload = serializer(message, context)

    # The serializer sent base64 descriptors; meshgate stored .proto source for them, the import
    # registered under its own subject and referenced by the message's schema.
    reader = new_client(registry_url)
    stored = reader.get_latest_version("signups-value")
    assert "message SignedUp" in stored.schema.schema_str
    assert [(r.name, r.subject) for r in stored.schema.references] == [
        ("acme_types/money.proto", "acme_types/money.proto")
    ]
    assert "message Money" in reader.get_latest_version("acme_types/money.proto").schema.schema_str

    # A consumer with its own client fetches the writer schema (format=serialized) and decodes.
    deserializer = ProtobufDeserializer(
        signup_pb2.SignedUp, {"use.deprecated.format": False}, schema_registry_client=new_client(registry_url)
    )
    assert deserializer(payload, context) == message
    # Serializing again finds the schema already registered: same id, no new version.
    assert (
        ProtobufSerializer(signup_pb2.SignedUp, new_client(registry_url), {"use.deprecated.format": False})(
            message, context
        )
        == payload
    )
    assert reader.get_versions("signups-value") == [1]


# ---- JSON Schema, against a `meshgate serve` process ---------------------------------------------

PAGE_VIEW = {
    "event_id": "5f0c6a4e-8a89-4b55-9b3e-0d5c2b7f3a10",
    "url": "https://shop.test/",
    "duration_ms": 1200,
}


@pytest.fixture(scope="module")
def meshgate_url(tmp_path_factory):
    with meshgate_serve(tmp_path_factory.mktemp("meshgate")) as served:
        yield served.http_url


def test_json_serializer_auto_registers_and_the_deserializer_reads_by_id(meshgate_url):
    context = SerializationContext("pageviews", MessageField.VALUE)
    payload = JSONSerializer(PAGE_VIEW_V1, new_client(meshgate_url))(PAGE_VIEW, context)

    reader = new_client(meshgate_url)
    latest = reader.get_latest_version("pageviews-value")
    assert (latest.version, latest.schema.schema_type) == (1, "JSON")
    assert payload[0] == 0 and int.from_bytes(payload[1:5], "big") == latest.schema_id
    assert reader.get_schema(latest.schema_id).schema_str == PAGE_VIEW_V1  # stored as sent
    # A consumer with its own client fetches the writer schema by the id in the message.
    assert (
        JSONDeserializer(None, schema_registry_client=new_client(meshgate_url))(payload, context) == PAGE_VIEW
    )
    # Serializing again finds the schema registered: same id, no new version.
    assert JSONSerializer(PAGE_VIEW_V1, new_client(meshgate_url))(PAGE_VIEW, context) == payload
    assert reader.get_versions("pageviews-value") == [1]


def test_json_serializer_with_use_latest_version_writes_with_the_latest_schema(meshgate_url):
    client = new_client(meshgate_url)
    client.register_schema("latest-pageviews-value", Schema(PAGE_VIEW_V1, "JSON"))
    latest_id = client.register_schema("latest-pageviews-value", Schema(PAGE_VIEW_V2, "JSON"))
    serializer = JSONSerializer(
        PAGE_VIEW_V1,
        new_client(meshgate_url),
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    viewed = {**PAGE_VIEW, "referrer": "https://search.test/"}
    payload = serializer(viewed, SerializationContext("latest-pageviews", MessageField.VALUE))
    assert int.from_bytes(payload[1:5], "big") == latest_id
    deserializer = JSONDeserializer(PAGE_VIEW_V2, schema_registry_client=new_client(meshgate_url))
    assert deserializer(payload, SerializationContext("latest-pageviews", MessageField.VALUE)) == viewed


def test_json_serializer_in_lookup_only_mode_finds_the_normalised_schema_or_fails(meshgate_url):
    client = new_client(meshgate_url)
    registered = client.register_schema("lookup-pageviews-value", Schema(PAGE_VIEW_V1, "JSON"))
    # The same schema with other key order and spacing: found by its normalised form.
    relaid = json.dumps(dict(reversed(list(json.loads(PAGE_VIEW_V1).items()))))
    serializer = JSONSerializer(relaid, new_client(meshgate_url), conf={"auto.register.schemas": False})
    payload = serializer(PAGE_VIEW, SerializationContext("lookup-pageviews", MessageField.VALUE))
    assert int.from_bytes(payload[1:5], "big") == registered

    unregistered = JSONSerializer(
        PAGE_VIEW_V2, new_client(meshgate_url), conf={"auto.register.schemas": False}
    )
    with pytest.raises(SchemaRegistryError) as missing:
        unregistered(PAGE_VIEW, SerializationContext("lookup-pageviews", MessageField.VALUE))
    assert (missing.value.http_status_code, missing.value.error_code) == (404, 40403)
    assert new_client(meshgate_url).get_versions("lookup-pageviews-value") == [1]


def test_an_incompatible_json_schema_is_refused_with_409_naming_the_rule(meshgate_url):
    client = new_client(meshgate_url)
    client.register_schema("refused-pageviews-value", Schema(PAGE_VIEW_V1, "JSON"))
    assert client.test_compatibility("refused-pageviews-value", Schema(PAGE_VIEW_V2, "JSON")) is True
    assert client.test_compatibility("refused-pageviews-value", Schema(PAGE_VIEW_BREAKING, "JSON")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("refused-pageviews-value", Schema(PAGE_VIEW_BREAKING, "JSON"))
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)
    assert "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" in refused.value.error_message
    assert "#/properties/duration_ms" in refused.value.error_message
    # The serializer's own auto-registration is refused the same way.
    serializer = JSONSerializer(PAGE_VIEW_BREAKING, new_client(meshgate_url))
    with pytest.raises(SchemaRegistryError) as refused_again:
        serializer(
            {"event_id": PAGE_VIEW["event_id"], "url": "https://shop.test/"},
            SerializationContext("refused-pageviews", MessageField.VALUE),
        )
    assert refused_again.value.http_status_code == 409
    assert client.get_versions("refused-pageviews-value") == [1]


MONEY_JSON = json.dumps(
    {
        "type": "object",
        "properties": {"cents": {"type": "integer"}, "currency": {"type": "string"}},
        "required": ["cents", "currency"],
    }
)
INVOICE_JSON = json.dumps(
    {
        "type": "object",
        "properties": {"id": {"type": "string"}, "total": {"$ref": "money.schema.json"}},
        "required": ["id", "total"],
    }
)


def test_json_serializer_and_deserializer_resolve_a_ref_to_another_subject(meshgate_url):
    client = new_client(meshgate_url)
    client.register_schema("common.Money", Schema(MONEY_JSON, "JSON"))
    references = [SchemaReference("money.schema.json", "common.Money", 1)]
    invoice = Schema(INVOICE_JSON, "JSON", references)
    context = SerializationContext("invoices", MessageField.VALUE)
    value = {"id": "inv-1", "total": {"cents": 1250, "currency": "EUR"}}
    payload = JSONSerializer(invoice, new_client(meshgate_url))(value, context)

    stored = new_client(meshgate_url).get_latest_version("invoices-value")
    assert [(r.name, r.subject, r.version) for r in stored.schema.references] == [
        ("money.schema.json", "common.Money", 1)
    ]
    deserializer = JSONDeserializer(None, schema_registry_client=new_client(meshgate_url))
    assert deserializer(payload, context) == value
    with pytest.raises(
        SerializationError, match="'x' is not of type 'integer'"
    ):  # Money's cents, by the $ref
        JSONSerializer(invoice, new_client(meshgate_url))(
            {**value, "total": {"cents": "x", "currency": "EUR"}}, context
        )
