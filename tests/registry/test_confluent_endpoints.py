"""The Confluent endpoints meshgate added for migrating users: ``referencedby``, ``DELETE /mode``,
``/contexts``, schema GUIDs, IMPORT mode and ``force`` on mode changes, through confluent-kafka's
``SchemaRegistryClient`` (and plain HTTP where the client has no call), with Confluent's codes."""

from __future__ import annotations

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from registry.service import RegistryService
from registry.store import Store
from tests.registry.http_harness import serve_http
from tests.registry.http_schemas import MONEY_PROTO as MONEY
from tests.registry.http_schemas import ORDER_V1, ORDER_V2
from tests.registry.http_schemas import SHOP_ORDER_PROTO as ORDER
from tests.registry.registry_harness import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def registry_url(request, tmp_path):
    with database_url(request.param, tmp_path) as database:
        store = Store(database)
        with serve_http(RegistryService(store)) as url:
            yield url
        store.close()


def new_client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def error_of(call) -> tuple[int, int]:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value.http_status_code, caught.value.error_code


def test_referencedby_lists_the_ids_of_the_schemas_that_import_a_version(registry_url):
    client = new_client(registry_url)
    client.register_schema("common.Money", Schema(MONEY, "PROTOBUF"))
    references = [SchemaReference("common/money.proto", "common.Money", 1)]
    order_id = client.register_schema("shop.Order", Schema(ORDER, "PROTOBUF", references))
    assert client.get_referenced_by("common.Money", 1) == [order_id]
    assert client.get_referenced_by("common.Money", "latest") == [order_id]
    assert client.get_referenced_by("shop.Order", 1) == []
    assert error_of(lambda: client.get_referenced_by("common.Money", 7)) == (404, 40402)
    assert error_of(lambda: client.get_referenced_by("nobody", 1)) == (404, 40401)


def test_delete_mode_removes_the_subjects_own_mode_and_answers_it(registry_url):
    client = new_client(registry_url)
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO"))
    client.update_mode("orders-value", "READONLY")
    assert client.delete_mode("orders-value") == "READONLY"
    assert client.get_mode("orders-value") == "READWRITE"  # the global mode again
    assert client.register_schema("orders-value", Schema(ORDER_V2, "AVRO")) > 0
    assert error_of(lambda: client.delete_mode("orders-value")) == (404, 40409)


def test_contexts_lists_the_default_context(registry_url):
    assert new_client(registry_url).get_contexts() == ["."]
    assert httpx.get(f"{registry_url}/contexts").json() == ["."]


def test_every_schema_has_a_guid_that_finds_it(registry_url):
    client = new_client(registry_url)
    registered = client.register_schema_full_response("orders-value", Schema(ORDER_V1, "AVRO"))
    assert len(registered.guid) == 36
    assert client.get_latest_version("orders-value").guid == registered.guid
    found = new_client(registry_url).get_schema_by_guid(registered.guid)
    assert found.schema_str == ORDER_V1
    assert httpx.get(f"{registry_url}/schemas/ids/{registered.schema_id}").json()["guid"] == registered.guid
    missing = httpx.get(f"{registry_url}/schemas/guids/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 40403)


def test_import_mode_keeps_the_given_id_and_version(registry_url):
    client = new_client(registry_url)
    assert client.update_mode("migrated-value", "IMPORT") == "IMPORT"
    body = {"schema": ORDER_V1, "id": 1000, "version": 3}
    answer = httpx.post(f"{registry_url}/subjects/migrated-value/versions", json=body).json()
    assert (answer["id"], answer["version"]) == (1000, 3)
    assert client.get_version("migrated-value", 3).schema_id == 1000
    # Without an id, IMPORT mode refuses the registration; an id that names another schema is 42207.
    assert error_of(lambda: client.register_schema("migrated-value", Schema(ORDER_V2, "AVRO"))) == (
        422,
        42205,
    )
    clash = httpx.post(
        f"{registry_url}/subjects/migrated-value/versions", json={"schema": ORDER_V2, "id": 1000}
    )
    assert (clash.status_code, clash.json()["error_code"]) == (422, 42207)
    # Back in READWRITE, new ids continue past the imported one and a given id is refused.
    client.update_mode("migrated-value", "READWRITE")
    assert client.register_schema("migrated-value", Schema(ORDER_V2, "AVRO")) > 1000
    refused = httpx.post(
        f"{registry_url}/subjects/migrated-value/versions", json={"schema": ORDER_V2, "id": 5}
    )
    assert (refused.status_code, refused.json()["error_code"]) == (422, 42205)


def test_import_mode_over_existing_schemas_needs_force(registry_url):
    client = new_client(registry_url)
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO"))
    assert error_of(lambda: client.update_mode("orders-value", "IMPORT")) == (422, 42205)
    assert error_of(lambda: client.update_global_mode("IMPORT")) == (422, 42205)
    assert client.update_mode("orders-value", "IMPORT", force=True) == "IMPORT"
    assert client.update_global_mode("IMPORT", force=True) == "IMPORT"
