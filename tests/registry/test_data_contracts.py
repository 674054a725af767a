"""Confluent data contracts against meshgate with Confluent's own client, serializers and CEL executor:
metadata and rule sets stored and read back, config defaults and overrides merged as Confluent
merges them, ``compatibilityGroup``, and meshgate's quality rules enforced by a stock producer."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import (
    Metadata,
    MetadataProperties,
    MetadataTags,
    Rule,
    RuleKind,
    RuleMode,
    RuleParams,
    RuleSet,
    Schema,
    SchemaRegistryClient,
    ServerConfig,
)
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.rules.cel.cel_executor import CelExecutor
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from registry.client import RegistryClient
from registry.contract import ContractMetadata, QualityRule
from registry.errors import InvalidArgument, SchemaNotFound
from registry.model import DataContractConfig
from registry.service import RegistryService
from registry.store import Store, sqlite_url
from tests.registry.http_harness import serve_http
from tests.registry.http_schemas import ORDER_BREAKING, ORDER_V1, ORDER_V2
from tests.registry.registry_harness import running_server

CelExecutor.register()

PAYMENT = json.dumps(
    {
        "type": "record",
        "name": "PaymentCaptured",
        "namespace": "payments",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "amount", "type": "double"},
            {"name": "currency", "type": "string"},
            {"name": "email", "type": ["null", "string"], "default": None},
        ],
    }
)
PAYMENT_CONTRACT = ContractMetadata(
    owner_domain="payments",
    pii_fields=["email"],
    quality_rules=[
        QualityRule("amount", "min", value=0),
        QualityRule("amount", "max", value=1000),
        QualityRule("currency", "accepted_values", values=("EUR", "USD")),
        QualityRule("email", "not_null"),
        QualityRule("id", "regex", value="^pay-[0-9]+$"),
        QualityRule("id", "unique"),
    ],
)
GOOD = {"id": "pay-1", "amount": 12.5, "currency": "EUR", "email": "a@example.com"}


@pytest.fixture
def service(tmp_path):
    store = Store(sqlite_url(tmp_path))
    yield RegistryService(store)
    store.close()


@pytest.fixture
def registry_url(service):
    with serve_http(service) as url:
        yield url


def new_client(url: str) -> SchemaRegistryClient:
    """A fresh client: nothing cached, so every answer below came over HTTP."""
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def cel_rule(name: str, expr: str, mode: RuleMode = RuleMode.WRITE) -> Rule:
    return Rule(name, None, RuleKind.CONDITION, mode, "CEL", None, None, expr, None, None, False)


def metadata(**properties: str) -> Metadata:
    return Metadata(None, MetadataProperties(properties), None)


def as_read(value):
    """``value`` as the client reads it back (its ``from_dict`` fills absent lists with ``[]``)."""
    return type(value).from_dict(value.to_dict())


def test_a_schema_registered_with_metadata_and_a_rule_set_reads_back_the_same(registry_url):
    client = new_client(registry_url)
    sent_metadata = Metadata(
        MetadataTags({"shop.Order.id": ["PRIVATE"]}), MetadataProperties({"team": "orders"}), ["secret"]
    )
    sent_rules = RuleSet(
        [cel_rule("upgradeIds", "true", RuleMode.UPGRADE)],
        [cel_rule("idNotEmpty", "message.id != ''")],
    )
    schema = Schema(ORDER_V1, "AVRO", [], sent_metadata, sent_rules)
    schema_id = client.register_schema("orders-value", schema)

    reader = new_client(registry_url)
    for found in (
        reader.get_latest_version("orders-value"),
        reader.get_version("orders-value", 1),
        reader.get_latest_with_metadata("orders-value", {"team": "orders"}),
    ):
        assert found.schema_id == schema_id
        assert found.schema.metadata == as_read(sent_metadata)
        assert found.schema.rule_set == as_read(sent_rules)
    # The client's lookup_schema answers the schema it sent; the lookup's own answer has both.
    assert reader.lookup_schema("orders-value", Schema(ORDER_V1, "AVRO")).schema_id == schema_id
    looked_up = httpx.post(f"{registry_url}/subjects/orders-value", json={"schema": ORDER_V1}).json()
    assert (looked_up["metadata"], looked_up["ruleSet"]) == (sent_metadata.to_dict(), sent_rules.to_dict())
    with pytest.raises(SchemaRegistryError) as missing:
        reader.get_latest_with_metadata("orders-value", {"team": "billing"})
    assert (missing.value.http_status_code, missing.value.error_code) == (404, 40403)


def test_latest_with_metadata_picks_the_newest_version_with_those_properties(registry_url):
    client = new_client(registry_url)
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO", [], metadata(release="1")))
    client.register_schema("orders-value", Schema(ORDER_V2, "AVRO", [], metadata(release="2")))
    reader = new_client(registry_url)
    assert reader.get_latest_with_metadata("orders-value", {"release": "1"}).version == 1
    assert reader.get_latest_with_metadata("orders-value", {"release": "2"}).version == 2


def test_a_version_without_metadata_keeps_the_previous_versions_and_a_changed_rule_is_a_new_version(
    registry_url,
):
    client = new_client(registry_url)
    rules = RuleSet(None, [cel_rule("idNotEmpty", "message.id != ''")])
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO", [], metadata(team="orders"), rules))
    client.register_schema("orders-value", Schema(ORDER_V2, "AVRO"))
    second = new_client(registry_url).get_version("orders-value", 2)
    assert second.schema.metadata == as_read(metadata(team="orders"))
    assert second.schema.rule_set == as_read(rules)

    # The same schema again with a changed rule: a new version, same schema id, the new rule.
    changed = RuleSet(None, [cel_rule("idNotEmpty", "size(message.id) > 3")])
    client.register_schema("orders-value", Schema(ORDER_V2, "AVRO", [], None, changed))
    third = new_client(registry_url).get_latest_version("orders-value")
    assert (third.version, third.schema_id) == (3, second.schema_id)
    assert third.schema.rule_set == as_read(changed)
    # ...and the same schema with the same (inherited) rule set is the existing version.
    again = new_client(registry_url).register_schema_full_response("orders-value", Schema(ORDER_V2, "AVRO"))
    assert again.version == 3


def test_config_default_and_override_metadata_and_rule_sets_merge_as_confluent_merges_them(registry_url):
    client = new_client(registry_url)
    config = ServerConfig(
        default_metadata=metadata(owner="default-team", tier="bronze"),
        override_metadata=metadata(tier="gold"),
        default_rule_set=RuleSet(None, [cel_rule("fromDefault", "true"), cel_rule("shared", "false")]),
        override_rule_set=RuleSet(None, [cel_rule("fromOverride", "true")]),
    )
    client.set_config("orders-value", config)
    stored = new_client(registry_url).get_config("orders-value")
    assert stored.default_metadata == as_read(config.default_metadata)
    assert stored.override_rule_set == as_read(config.override_rule_set)
    assert stored.compatibility_level.value == "BACKWARD"  # the level in force, kept

    own = RuleSet(None, [cel_rule("shared", "true"), cel_rule("own", "true")])
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO", [], metadata(owner="orders"), own))
    found = new_client(registry_url).get_latest_version("orders-value").schema
    # merge(merge(default, given), override): the given wins over the default, the override over both.
    assert found.metadata.properties.properties == {"owner": "orders", "tier": "gold"}
    names = [(rule.name, rule.expr) for rule in found.rule_set.domain_rules]
    assert names == [("fromDefault", "true"), ("shared", "true"), ("own", "true"), ("fromOverride", "true")]

    # A PUT with only some fields keeps the others.
    client.set_config("orders-value", ServerConfig(compatibility_group="major"))
    again = new_client(registry_url).get_config("orders-value")
    assert again.compatibility_group == "major"
    assert again.default_metadata == as_read(config.default_metadata)


def test_a_breaking_change_is_allowed_into_a_new_compatibility_group_and_refused_without_it(registry_url):
    client = new_client(registry_url)
    client.set_config("orders-value", ServerConfig(compatibility_group="major_version"))
    client.register_schema("orders-value", Schema(ORDER_V1, "AVRO", [], metadata(major_version="1")))

    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("orders-value", Schema(ORDER_BREAKING, "AVRO"))  # stays in group 1
    assert refused.value.http_status_code == 409
    breaking = Schema(ORDER_BREAKING, "AVRO", [], metadata(major_version="2"))
    assert not client.test_compatibility("orders-value", Schema(ORDER_BREAKING, "AVRO"))
    assert client.test_compatibility("orders-value", breaking)
    assert client.register_schema_full_response("orders-value", breaking).version == 2

    # Without a compatibility group the same change is refused.
    client.register_schema("other-value", Schema(ORDER_V1, "AVRO", [], metadata(major_version="1")))
    with pytest.raises(SchemaRegistryError) as without_group:
        client.register_schema("other-value", breaking)
    assert without_group.value.http_status_code == 409


def test_meshgate_contract_metadata_is_published_as_confluent_metadata_and_cel_rules(registry_url, service):
    service.register("payments.PaymentCaptured", PAYMENT, metadata=PAYMENT_CONTRACT)
    found = new_client(registry_url).get_latest_version("payments.PaymentCaptured").schema
    assert found.metadata.properties.properties == {
        "owner": "payments",
        "domain": "payments",
        "mask_pii_at": "silver",
    }
    assert found.metadata.tags.tags == {"email": ["PII"]}
    rules = {rule.name: rule for rule in found.rule_set.domain_rules}
    assert set(rules) == {
        "meshgate_min_amount",
        "meshgate_max_amount",
        "meshgate_accepted_values_currency",
        "meshgate_not_null_email",
        "meshgate_regex_id",
    }  # unique has no per-record form
    assert all(
        (rule.kind, rule.mode, rule.type) == (RuleKind.CONDITION, RuleMode.WRITE, "CEL")
        for rule in rules.values()
    )
    assert rules["meshgate_min_amount"].params == RuleParams(
        {"meshgate.rule": "min", "meshgate.field": "amount"}
    )


@pytest.mark.parametrize(
    "bad, rule",
    [
        ({"amount": -1.0}, "meshgate_min_amount"),
        ({"amount": 1000.5}, "meshgate_max_amount"),
        ({"currency": "GBP"}, "meshgate_accepted_values_currency"),
        ({"email": None}, "meshgate_not_null_email"),
        ({"id": "order-1"}, "meshgate_regex_id"),
    ],
    ids=["below-min", "above-max", "not-accepted", "null", "regex"],
)
def test_a_stock_producer_with_the_cel_executor_refuses_a_record_breaking_a_quality_rule(
    registry_url, service, bad, rule
):
    service.register("payments.PaymentCaptured", PAYMENT, metadata=PAYMENT_CONTRACT)
    serializer = AvroSerializer(
        new_client(registry_url),
        None,
        conf={
            "auto.register.schemas": False,
            "use.latest.with.metadata": {"owner": "payments"},
            "subject.name.strategy": lambda ctx, record_name: "payments.PaymentCaptured",
        },
    )
    context = SerializationContext("payments", MessageField.VALUE)
    payload = serializer(GOOD, context)
    assert payload[0] == 0 and len(payload) > 5
    with pytest.raises(SerializationError) as refused:
        serializer({**GOOD, **bad}, context)
    assert rule in str(refused.value.__cause__)  # Confluent's RuleConditionError names the rule


def test_the_same_data_contracts_over_grpc_with_the_sdk(tmp_path):
    rules = {
        "domainRules": [
            {"name": "idNotEmpty", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "true"}
        ]
    }
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}") as server:
        with RegistryClient(server.grpc_target) as client:
            client.set_config(
                "payments.PaymentCaptured",
                None,
                data_contract=DataContractConfig(
                    compatibility_group="major", override_metadata={"properties": {"tier": "gold"}}
                ),
            )
            config = client.get_config("payments.PaymentCaptured")
            assert config.data_contract.compatibility_group == "major"
            assert config.level.value == "BACKWARD"
            registered = client.register(
                "payments.PaymentCaptured",
                PAYMENT,
                metadata=PAYMENT_CONTRACT,
                data_metadata={"properties": {"major": "1"}},
                rule_set=rules,
            )
            assert len(registered.guid) == 36
            found = client.latest_with_metadata(
                "payments.PaymentCaptured", {"major": "1", "owner": "payments"}
            )
            assert found.version == registered.version
            # As REST serves it: the stored metadata and rules with the contract's published under them.
            assert found.data_metadata["properties"] == {
                "major": "1",
                "tier": "gold",
                "owner": "payments",
                "domain": "payments",
                "mask_pii_at": "silver",
            }
            assert [rule["name"] for rule in found.rule_set["domainRules"]] == [
                "meshgate_min_amount",
                "meshgate_max_amount",
                "meshgate_accepted_values_currency",
                "meshgate_not_null_email",
                "meshgate_regex_id",
                "idNotEmpty",
            ]
            with pytest.raises(SchemaNotFound):
                client.latest_with_metadata("payments.PaymentCaptured", {"major": "2"})
            with pytest.raises(InvalidArgument, match="rule_set_json"):
                client.register(
                    "payments.PaymentCaptured", PAYMENT, rule_set={"domainRules": [{"name": "x"}]}
                )
