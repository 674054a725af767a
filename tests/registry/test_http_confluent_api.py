"""The Confluent Schema Registry REST API, spoken over real HTTP to a real server and store.

Each test starts uvicorn on a loopback port over a ``RegistryService`` on SQLite; the lifecycle test
also runs on PostgreSQL. Every route and every Confluent error code is exercised with httpx.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from registry.service import RegistryService
from registry.store import Store, sqlite_url
from tests.registry.http_harness import serve_http
from tests.registry.http_schemas import (
    ORDER_BREAKING,
    ORDER_V1,
    ORDER_V2,
    USER_PROTO_BREAKING,
    USER_PROTO_V1,
    USER_PROTO_V2,
)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@pytest.fixture
def service(tmp_path):
    store = Store(sqlite_url(tmp_path))
    yield RegistryService(store)
    store.close()


@pytest.fixture
def http(service):
    with (
        serve_http(service) as url,
        httpx.Client(base_url=url, headers={"Content-Type": CONTENT_TYPE}) as client,
    ):
        yield client


def register(http, subject, schema, schema_type=None, **params):
    body = {"schema": schema}
    if schema_type:
        body["schemaType"] = schema_type
    return http.post(f"/subjects/{subject}/versions", json=body, params=params)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert body["message"]
    return body["message"]


# -- registering and reading back


def test_register_avro_returns_id_version_and_confluent_content_type(http):
    response = register(http, "orders-value", ORDER_V1)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(CONTENT_TYPE)
    body = response.json()
    assert body["subject"] == "orders-value"
    assert body["version"] == 1
    assert isinstance(body["id"], int)
    assert "schemaType" not in body  # Confluent omits it for Avro


def test_registering_the_same_schema_again_returns_the_same_id_and_version(http):
    first = register(http, "orders-value", ORDER_V1).json()
    again = register(http, "orders-value", ORDER_V1).json()
    assert (again["id"], again["version"]) == (first["id"], first["version"])
    assert http.get("/subjects/orders-value/versions").json() == [1]


def test_the_same_schema_under_another_subject_shares_its_global_id(http):
    first = register(http, "orders-value", ORDER_V1).json()
    other = register(http, "archive.Order", ORDER_V1).json()
    assert other["id"] == first["id"]
    assert other["version"] == 1
    assert sorted(http.get(f"/schemas/ids/{first['id']}/subjects").json()) == [
        "archive.Order",
        "orders-value",
    ]
    pairs = http.get(f"/schemas/ids/{first['id']}/versions").json()
    assert sorted((p["subject"], p["version"]) for p in pairs) == [("archive.Order", 1), ("orders-value", 1)]
    only = http.get(f"/schemas/ids/{first['id']}/subjects", params={"subject": "orders-value"}).json()
    assert only == ["orders-value"]


def test_register_protobuf_and_fetch_it_by_id(http):
    body = register(http, "identity.User", USER_PROTO_V1, "PROTOBUF").json()
    fetched = http.get(f"/schemas/ids/{body['id']}").json()
    assert fetched["schemaType"] == "PROTOBUF"
    assert "message User" in fetched["schema"]


def test_get_schema_by_id_and_its_raw_text(http):
    schema_id = register(http, "orders-value", ORDER_V1).json()["id"]
    by_id = http.get(f"/schemas/ids/{schema_id}")
    assert by_id.status_code == 200
    assert by_id.json()["schema"]
    raw = http.get(f"/schemas/ids/{schema_id}/schema")
    assert raw.status_code == 200
    assert raw.json()["name"] == "Order"  # the Avro schema itself, not wrapped


def test_unknown_schema_id_is_40403(http):
    assert_error(http.get("/schemas/ids/999999"), 404, 40403)
    assert_error(http.get("/schemas/ids/999999/schema"), 404, 40403)
    assert_error(http.get("/schemas/ids/999999/subjects"), 404, 40403)
    assert_error(http.get("/schemas/ids/999999/versions"), 404, 40403)
    assert_error(http.get("/schemas/ids/99999999999999999999"), 404, 40403)  # past 32 bits
    assert_error(http.get("/schemas/ids/0"), 422, 42202)


def test_schema_types_lists_avro_protobuf_and_json(http):
    assert http.get("/schemas/types").json() == ["AVRO", "PROTOBUF", "JSON"]


def test_get_version_by_number_latest_and_minus_one(http):
    register(http, "orders-value", ORDER_V1)
    v2 = register(http, "orders-value", ORDER_V2).json()
    assert v2["version"] == 2
    for version in ("2", "latest", "-1"):
        body = http.get(f"/subjects/orders-value/versions/{version}").json()
        assert (body["subject"], body["version"], body["id"]) == ("orders-value", 2, v2["id"])
    first = http.get("/subjects/orders-value/versions/1").json()
    assert first["version"] == 1
    assert "amount" not in first["schema"]
    raw = http.get("/subjects/orders-value/versions/latest/schema").json()
    assert [f["name"] for f in raw["fields"]] == ["id", "amount"]


def test_unknown_subject_and_version_are_40401_and_40402(http):
    assert_error(http.get("/subjects/nobody-value/versions/1"), 404, 40401)
    assert_error(http.get("/subjects/nobody-value/versions"), 404, 40401)
    register(http, "orders-value", ORDER_V1)
    assert_error(http.get("/subjects/orders-value/versions/7"), 404, 40402)
    assert_error(http.get("/subjects/orders-value/versions/7/schema"), 404, 40402)


@pytest.mark.parametrize("version", ["0", "abc", "-2", "2147483648", "²"])
def test_an_invalid_version_is_42202(http, version):
    register(http, "orders-value", ORDER_V1)
    message = assert_error(http.get(f"/subjects/orders-value/versions/{version}"), 422, 42202)
    assert version in message


def test_list_subjects_with_prefix(http):
    register(http, "orders-value", ORDER_V1)
    register(http, "orders-key", ORDER_V1)
    register(http, "identity.User", USER_PROTO_V1, "PROTOBUF")
    assert sorted(http.get("/subjects").json()) == ["identity.User", "orders-key", "orders-value"]
    assert sorted(http.get("/subjects", params={"subjectPrefix": "orders"}).json()) == [
        "orders-key",
        "orders-value",
    ]
    assert http.get("/subjects", params={"offset": 1, "limit": 1}).json() == [
        sorted(http.get("/subjects").json())[1]
    ]


def test_lookup_finds_a_registered_schema(http):
    registered = register(http, "orders-value", ORDER_V1).json()
    register(http, "orders-value", ORDER_V2)
    found = http.post("/subjects/orders-value", json={"schema": ORDER_V1}, params={"normalize": "False"})
    assert found.status_code == 200, found.text
    assert (found.json()["id"], found.json()["version"]) == (registered["id"], 1)


def test_lookup_of_unknown_subject_is_40401_and_of_unknown_schema_40403(http):
    assert_error(http.post("/subjects/nobody-value", json={"schema": ORDER_V1}), 404, 40401)
    register(http, "orders-value", ORDER_V1)
    assert_error(http.post("/subjects/orders-value", json={"schema": ORDER_V2}), 404, 40403)


# -- invalid schemas


def test_an_unknown_schema_type_is_refused_with_42201_naming_the_types(http):
    message = assert_error(register(http, "orders-value", '{"type": "object"}', "XML"), 422, 42201)
    assert "'XML' is not supported" in message and "AVRO, PROTOBUF, JSON" in message


def test_invalid_json_schema_is_42201_naming_the_json_pointer(http):
    message = assert_error(register(http, "orders-value", '{"type": "nope"}', "JSON"), 422, 42201)
    assert "#/type" in message and "draft-07" in message


def test_invalid_avro_is_42201_naming_the_problem(http):
    message = assert_error(register(http, "orders-value", '{"type": "record", "name": "X"}'), 422, 42201)
    assert "fields" in message


def test_invalid_protobuf_is_42201_with_the_line(http):
    broken = 'syntax = "proto3";\nmessage User {\n  strin id = 1;\n}\n'
    message = assert_error(register(http, "identity.User", broken, "PROTOBUF"), 422, 42201)
    assert message == 'identity.User:3:3: "strin" is not defined.'


def test_a_request_without_schema_is_42201(http):
    assert_error(http.post("/subjects/orders-value/versions", json={"schemaType": "AVRO"}), 422, 42201)


@pytest.mark.parametrize(
    "references, field",
    [
        ("nope", "references"),
        ([{"name": "x.avsc", "subject": "common.Money"}], "references[0].version"),
        ([{"subject": "common.Money", "version": 1}], "references[0].name"),
    ],
)
def test_malformed_references_are_refused_naming_the_field(http, references, field):
    response = http.post(
        "/subjects/orders-value/versions", json={"schema": ORDER_V1, "references": references}
    )
    message = assert_error(response, 422, 42202)
    assert field in message


def test_avro_references_resolve_named_types_of_another_subject(http):
    money = '{"type": "record", "name": "Money", "namespace": "common", "fields": [{"name": "cents", "type": "long"}]}'
    register(http, "common.Money", money)
    order = (
        '{"type": "record", "name": "Priced", "namespace": "shop",'
        ' "fields": [{"name": "price", "type": "common.Money"}]}'
    )
    reference = {"name": "common.Money", "subject": "common.Money", "version": 1}
    response = http.post("/subjects/shop.Priced/versions", json={"schema": order, "references": [reference]})
    assert response.status_code == 200, response.text
    fetched = http.get("/subjects/shop.Priced/versions/1").json()
    assert fetched["references"] == [reference]
    by_id = http.get(f"/schemas/ids/{fetched['id']}").json()
    assert by_id["references"] == [reference]


# -- compatibility


def test_incompatible_registration_is_409_with_the_reason(http):
    register(http, "orders-value", ORDER_V1)
    message = assert_error(register(http, "orders-value", ORDER_BREAKING), 409, 409)
    assert "currency" in message


def test_compatibility_check_against_latest_a_version_and_all(http):
    register(http, "orders-value", ORDER_V1)
    for path in ("versions/latest", "versions/1", "versions"):
        ok = http.post(f"/compatibility/subjects/orders-value/{path}", json={"schema": ORDER_V2})
        assert ok.json() == {"is_compatible": True}, path
        bad = http.post(f"/compatibility/subjects/orders-value/{path}", json={"schema": ORDER_BREAKING})
        assert bad.json() == {"is_compatible": False}, path


def test_verbose_compatibility_check_explains_each_violation(http):
    register(http, "orders-value", ORDER_V1)
    response = http.post(
        "/compatibility/subjects/orders-value/versions/latest",
        json={"schema": ORDER_BREAKING},
        params={"verbose": "true"},
    )
    body = response.json()
    assert body["is_compatible"] is False
    assert any("currency" in message for message in body["messages"])


def test_protobuf_compatibility_follows_wire_rules(http):
    register(http, "identity.User", USER_PROTO_V1, "PROTOBUF")
    compatible = {"schema": USER_PROTO_V2, "schemaType": "PROTOBUF"}
    breaking = {"schema": USER_PROTO_BREAKING, "schemaType": "PROTOBUF"}
    assert http.post("/compatibility/subjects/identity.User/versions/latest", json=compatible).json()[
        "is_compatible"
    ]
    result = http.post(
        "/compatibility/subjects/identity.User/versions/latest", json=breaking, params={"verbose": "true"}
    ).json()
    assert result["is_compatible"] is False
    assert result["messages"]
    assert_error(register(http, "identity.User", USER_PROTO_BREAKING, "PROTOBUF"), 409, 409)


def test_compatibility_check_of_unknown_subject_or_version(http):
    # Like Confluent: nothing registered yet means nothing to break against "latest".
    unknown_latest = http.post(
        "/compatibility/subjects/nobody-value/versions/latest", json={"schema": ORDER_V1}
    )
    assert unknown_latest.json() == {"is_compatible": True}
    assert_error(
        http.post("/compatibility/subjects/nobody-value/versions/1", json={"schema": ORDER_V1}), 404, 40401
    )
    register(http, "orders-value", ORDER_V1)
    assert_error(
        http.post("/compatibility/subjects/orders-value/versions/9", json={"schema": ORDER_V2}), 404, 40402
    )
    assert_error(
        http.post("/compatibility/subjects/orders-value/versions/zero", json={"schema": ORDER_V2}), 422, 42202
    )


# -- config


def test_global_config_defaults_to_backward_and_can_be_changed(http):
    assert http.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert http.put("/config", json={"compatibility": "full"}).json() == {"compatibility": "FULL"}
    assert http.get("/config").json() == {"compatibilityLevel": "FULL"}


def test_subject_config_overrides_the_global_level(http):
    register(http, "orders-value", ORDER_V1)
    assert http.put("/config/orders-value", json={"compatibility": "NONE"}).json() == {
        "compatibility": "NONE"
    }
    assert http.get("/config/orders-value").json() == {"compatibilityLevel": "NONE"}
    assert register(http, "orders-value", ORDER_BREAKING).status_code == 200
    assert http.get("/config/orders-value", params={"defaultToGlobal": "true"}).json() == {
        "compatibilityLevel": "NONE"
    }
    deleted = http.delete("/config/orders-value")
    assert deleted.json() == {"compatibilityLevel": "NONE"}
    assert_error(http.get("/config/orders-value"), 404, 40408)
    assert http.get("/config/orders-value", params={"defaultToGlobal": "true"}).json() == {
        "compatibilityLevel": "BACKWARD"
    }


def test_subject_without_its_own_config_is_40408_unless_default_to_global(http):
    register(http, "orders-value", ORDER_V1)
    http.put("/config", json={"compatibility": "FORWARD"})
    message = assert_error(http.get("/config/orders-value"), 404, 40408)
    assert "'orders-value'" in message and "defaultToGlobal" in message
    assert_error(http.get("/config/orders-value", params={"defaultToGlobal": "false"}), 404, 40408)
    assert_error(http.get("/config/never-registered-value"), 404, 40408)
    for flag in ("true", "TRUE"):
        assert http.get("/config/orders-value", params={"defaultToGlobal": flag}).json() == {
            "compatibilityLevel": "FORWARD"
        }
    assert http.get("/config/never-registered-value", params={"defaultToGlobal": "true"}).json() == {
        "compatibilityLevel": "FORWARD"
    }
    assert_error(http.delete("/config/orders-value"), 404, 40401)


def test_default_to_global_must_be_a_boolean(http):
    message = assert_error(http.get("/config/orders-value", params={"defaultToGlobal": "yes"}), 422, 42202)
    assert "defaultToGlobal" in message


def test_global_config_answers_whether_set_or_the_server_default(http):
    assert http.get("/config", params={"defaultToGlobal": "false"}).json() == {
        "compatibilityLevel": "BACKWARD"
    }
    http.put("/config", json={"compatibility": "FULL"})
    assert http.delete("/config").json() == {"compatibilityLevel": "FULL"}
    assert http.get("/config").json() == {"compatibilityLevel": "BACKWARD"}


def test_an_unknown_compatibility_level_is_42203(http):
    message = assert_error(http.put("/config", json={"compatibility": "SIDEWAYS"}), 422, 42203)
    assert "SIDEWAYS" in message
    assert_error(http.put("/config/orders-value", json={}), 422, 42203)


# -- mode


def test_read_only_mode_refuses_registration_with_42205(http):
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    assert http.put("/mode", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert http.get("/mode").json() == {"mode": "READONLY"}
    assert_error(register(http, "orders-value", ORDER_V1), 422, 42205)
    http.put("/mode", json={"mode": "READWRITE"})
    assert register(http, "orders-value", ORDER_V1).status_code == 200


def test_subject_mode_and_an_unknown_mode_is_42204(http):
    register(http, "orders-value", ORDER_V1)
    assert http.put("/mode/orders-value", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert http.get("/mode/orders-value").json() == {"mode": "READONLY"}
    assert_error(register(http, "orders-value", ORDER_V2), 422, 42205)
    assert register(http, "payments-value", ORDER_V1).status_code == 200
    assert_error(http.put("/mode", json={"mode": "SOMETIMES"}), 422, 42204)
    assert_error(http.put("/mode", json={}), 422, 42202)


# -- deletes


def test_soft_delete_of_a_subject_hides_it_and_permanent_delete_removes_it(http):
    register(http, "orders-value", ORDER_V1)
    register(http, "orders-value", ORDER_V2)
    assert_error(http.delete("/subjects/orders-value", params={"permanent": "true"}), 404, 40405)
    assert http.delete("/subjects/orders-value").json() == [1, 2]
    assert "orders-value" not in http.get("/subjects").json()
    assert "orders-value" in http.get("/subjects", params={"deleted": "true"}).json()
    assert http.get("/subjects", params={"deleted_only": "true"}).json() == ["orders-value"]
    assert_error(http.get("/subjects/orders-value/versions"), 404, 40401)
    assert http.get("/subjects/orders-value/versions", params={"deleted": "true"}).json() == [1, 2]
    assert http.get("/subjects/orders-value/versions/1", params={"deleted": "true"}).json()["version"] == 1
    assert http.delete("/subjects/orders-value", params={"permanent": "true"}).json() == [1, 2]
    assert "orders-value" not in http.get("/subjects", params={"deleted": "true"}).json()
    assert_error(http.delete("/subjects/orders-value"), 404, 40401)


def test_delete_a_version_soft_then_permanent(http):
    register(http, "orders-value", ORDER_V1)
    register(http, "orders-value", ORDER_V2)
    assert_error(http.delete("/subjects/orders-value/versions/2", params={"permanent": "true"}), 404, 40407)
    assert http.delete("/subjects/orders-value/versions/2").json() == 2
    assert http.get("/subjects/orders-value/versions").json() == [1]
    assert http.get("/subjects/orders-value/versions/latest").json()["version"] == 1
    assert http.get("/subjects/orders-value/versions", params={"deleted_only": "true"}).json() == [2]
    assert http.delete("/subjects/orders-value/versions/2", params={"permanent": "true"}).json() == 2
    assert http.get("/subjects/orders-value/versions", params={"deleted": "true"}).json() == [1]
    assert_error(http.delete("/subjects/orders-value/versions/5"), 404, 40402)
    assert_error(http.delete("/subjects/orders-value/versions/x"), 422, 42202)
    assert_error(http.delete("/subjects/nobody-value/versions/1"), 404, 40401)


def test_subject_names_may_hold_slashes_sent_percent_encoded(http):
    # Confluent's reference strategy names subjects after import paths, like "common/money.proto".
    subject = quote("common/money.proto", safe="")
    assert register(http, subject, ORDER_V1).json()["subject"] == "common/money.proto"
    assert http.get(f"/subjects/{subject}/versions/latest").json()["version"] == 1
    assert http.get(f"/subjects/{subject}/versions/1/schema").json()["name"] == "Order"
    assert http.post(f"/subjects/{subject}", json={"schema": ORDER_V1}).json()["version"] == 1
    assert http.put(f"/config/{subject}", json={"compatibility": "NONE"}).status_code == 200
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "NONE"}
    assert http.delete(f"/subjects/{subject}").json() == [1]


def test_confluent_data_contract_fields_are_stored_and_returned(http):
    metadata = {"properties": {"team": "payments"}, "tags": {"amount": ["MONEY"]}}
    rule = {"name": "checkAmount", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "true"}
    body = {"schema": ORDER_V1, "metadata": metadata, "ruleSet": {"domainRules": [rule]}}
    assert http.post("/subjects/orders-value/versions", json=body).status_code == 200
    latest = http.get("/subjects/orders-value/versions/latest").json()
    assert latest["metadata"] == metadata
    assert latest["ruleSet"] == {"domainRules": [rule]}


@pytest.mark.parametrize(
    "extra",
    [
        {"metadata": {"properties": {"owner": 1}}},
        {"ruleSet": {"domainRules": [{"name": "checkAmount", "kind": "CONDITION", "type": "CEL"}]}},
        {"ruleSet": {"domainRules": [{"name": "a", "mode": "UPGRADE", "type": "CEL"}]}},
    ],
    ids=["property-not-text", "rule-without-mode", "domain-rule-in-migration-mode"],
)
def test_malformed_confluent_data_contract_fields_are_42201(http, extra):
    message = assert_error(
        http.post("/subjects/orders-value/versions", json={"schema": ORDER_V1, **extra}), 422, 42201
    )
    assert next(iter(extra)) in message


def test_empty_confluent_metadata_is_accepted(http):
    body = {"schema": ORDER_V1, "metadata": {"properties": {}}, "ruleSet": None}
    assert http.post("/subjects/orders-value/versions", json=body).status_code == 200


def test_a_schema_that_breaks_a_registered_consumer_is_409_naming_it(http, service):
    register(http, "orders-value", ORDER_V1)
    http.put("/config/orders-value", json={"compatibility": "NONE"})
    service.register_consumer("billing", "orders-value", version=1)
    without_id = json.dumps(
        {
            "type": "record",
            "name": "Order",
            "namespace": "shop",
            "fields": [{"name": "amount", "type": "double", "default": 0.0}],
        }
    )
    message = assert_error(register(http, "orders-value", without_id), 409, 409)
    assert "billing" in message
    check = http.post(
        "/compatibility/subjects/orders-value/versions/latest",
        json={"schema": without_id},
        params={"verbose": "true"},
    ).json()
    assert check["is_compatible"] is False and check["messages"]


def test_a_referenced_version_cannot_be_deleted_42206(http):
    money = '{"type": "record", "name": "Money", "namespace": "common", "fields": [{"name": "cents", "type": "long"}]}'
    register(http, "common.Money", money)
    priced = '{"type": "record", "name": "Priced", "fields": [{"name": "price", "type": "common.Money"}]}'
    reference = {"name": "common.Money", "subject": "common.Money", "version": 1}
    assert http.post(
        "/subjects/shop.Priced/versions", json={"schema": priced, "references": [reference]}
    ).is_success
    message = assert_error(http.delete("/subjects/common.Money/versions/1"), 422, 42206)
    assert "shop.Priced" in message
    assert_error(http.delete("/subjects/common.Money"), 422, 42206)


def test_a_schema_over_one_mebibyte_is_413(http):
    fields = [{"name": f"f{i}", "type": "string", "doc": "x" * 200} for i in range(5200)]
    huge = json.dumps({"type": "record", "name": "Huge", "fields": fields})
    assert len(huge) > 1024 * 1024
    assert_error(register(http, "huge-value", huge), 413, 41301)


def test_protobuf_sent_as_a_broken_serialized_descriptor_is_42201(http):
    message = assert_error(register(http, "users-value", "AAAAAAAAAAAAAAAA/w==", "PROTOBUF"), 422, 42201)
    assert "FileDescriptorProto" in message
