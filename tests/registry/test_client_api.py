"""Every registry call through the client SDK against a real server, on SQLite and PostgreSQL.

One server per backend for the module; each test works in subjects of its own.
"""

from __future__ import annotations

import json

import pytest

from registry.client import RegistryClient
from registry.compat import MAX_SCHEMA_BYTES, Level
from registry.contract import ContractMetadata, QualityRule, Reference, load_contract
from registry.errors import (
    ConsumerNotFound,
    IncompatibleSchema,
    InvalidArgument,
    InvalidCompatibilityLevel,
    InvalidMode,
    InvalidSchema,
    PayloadTooLarge,
    ReadOnlyMode,
    ReferenceExists,
    SchemaNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from registry.model import SubjectConfig
from registry.service.consumers import violation_touches
from tests.registry.registry_harness import (
    BACKENDS,
    BREAKING,
    V1,
    V2,
    avro,
    database_url,
    running_server,
    unique_subject,
)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    with database_url(request.param, tmp_path_factory.mktemp("db")) as url, running_server(url) as running:
        yield running


@pytest.fixture
def client(server):
    with RegistryClient(server.grpc_target) as client:
        yield client


@pytest.fixture
def subject():
    return unique_subject()


# ---- register, ids, versions


def test_register_numbers_versions_and_is_idempotent(client, subject):
    first = client.register(subject, V1)
    again = client.register(subject, V1)
    second = client.register(subject, V2)
    assert (first.version, again.version, second.version) == (1, 1, 2)
    assert again.schema_id == first.schema_id != second.schema_id
    assert client.list_versions(subject) == [1, 2]


def test_identical_schema_gets_the_same_global_id_under_every_subject(client, subject):
    other = unique_subject()
    reformatted = V1.replace("\n", " ")  # same schema, different whitespace
    assert client.register(subject, V1).schema_id == client.register(other, reformatted).schema_id


def test_register_a_contract_keeps_its_metadata(client, examples_dir):
    contract = load_contract(examples_dir / "contracts/checkout/checkout_completed.yaml")
    contract.subject = unique_subject("CheckoutCompleted")
    registered = client.register(contract)
    fetched = client.get_version(contract.subject, registered.version)
    assert fetched.metadata == contract.metadata
    assert fetched.metadata.quality_rules[2] == QualityRule(field="amount", rule="min", value=0)
    assert client.get_by_id(registered.schema_id).schema == contract.schema


def test_same_schema_with_changed_metadata_is_a_new_version_with_the_same_id(client, subject):
    first = client.register(subject, V1, metadata=ContractMetadata(owner_domain="a"))
    second = client.register(subject, V1, metadata=ContractMetadata(owner_domain="a", pii_fields=["id"]))
    assert (second.version, second.schema_id) == (2, first.schema_id)
    assert client.register(subject, V1).version == 2  # no metadata given: the newest match


def test_incompatible_schema_is_rejected_with_its_violations(client, subject):
    client.register(subject, V1)
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, BREAKING)
    assert [(v.rule, v.path) for v in rejected.value.violations] == [("TYPE_CHANGED", "Event.amount")]
    assert "BACKWARD" in rejected.value.message and "Event.amount" in rejected.value.message
    assert client.list_versions(subject) == [1]


def test_invalid_schema_names_the_line(client, subject):
    with pytest.raises(InvalidSchema) as invalid:
        client.register(subject, '{"type": "record",\n "name": 5}')
    assert invalid.value.message == f'{subject}:2: a record needs "name", a string; found 5'


def test_unknown_format_and_empty_subject_are_invalid_arguments(client, subject):
    with pytest.raises(InvalidArgument, match="format"):
        client.register(subject, V1, format="XML")
    with pytest.raises(InvalidArgument, match="subject"):
        client.register("", V1)


@pytest.mark.parametrize("call", ["register", "check", "lookup"])
def test_a_subject_without_schema_or_contract_is_refused_before_any_request(client, subject, call):
    with pytest.raises(TypeError, match="schema is required when no Contract is given"):
        getattr(client, call)(subject)


def test_schema_over_the_size_limit_is_refused(client, subject):
    huge = avro({"id": "string"}).replace('"Event"', '"Event", "doc": "' + "x" * MAX_SCHEMA_BYTES + '"')
    with pytest.raises(PayloadTooLarge, match=str(MAX_SCHEMA_BYTES)):
        client.register(subject, huge)


def test_request_over_the_message_limit_is_refused(client, subject):
    with pytest.raises(PayloadTooLarge):
        client.register(subject, "x" * (5 * 1024 * 1024))


def test_protobuf_schemas_register_and_evolve(client, examples_dir):
    contract = load_contract(examples_dir / "contracts/identity/user_signed_up.yaml")
    subject = unique_subject("UserSignedUp")
    contract.subject = subject
    assert client.register(contract).version == 1
    v2 = (examples_dir / "evolution/user_signed_up.v2.proto").read_text()
    assert client.register(subject, v2, format="PROTOBUF").version == 2
    breaking = (examples_dir / "evolution/user_signed_up.v3-breaking.proto").read_text()
    with pytest.raises(IncompatibleSchema, match="user_id"):
        client.register(subject, breaking, format="PROTOBUF")
    assert client.latest(subject).format == "PROTOBUF"


# ---- reads


def test_get_by_id_and_unknown_id(client, subject):
    registered = client.register(subject, V1)
    record = client.get_by_id(registered.schema_id)
    assert (record.id, record.format, record.schema) == (registered.schema_id, "AVRO", V1)
    with pytest.raises(SchemaNotFound):
        client.get_by_id(999_999)


def test_get_version_latest_number_and_missing(client, subject):
    client.register(subject, V1)
    client.register(subject, V2)
    assert client.latest(subject).version == 2
    assert client.get_version(subject, 1).schema == V1
    with pytest.raises(VersionNotFound):
        client.get_version(subject, 7)
    with pytest.raises(SubjectNotFound):
        client.get_version(unique_subject(), "latest")
    with pytest.raises(InvalidArgument, match="version"):
        client.get_version(subject, -3)


def test_lookup_finds_the_version_holding_a_schema(client, subject):
    client.register(subject, V1)
    client.register(subject, V2)
    assert client.lookup(subject, V1.replace("\n", "")).version == 1
    with pytest.raises(SchemaNotFound):
        client.lookup(subject, BREAKING)
    with pytest.raises(SubjectNotFound):
        client.lookup(unique_subject(), V1)


def test_list_subjects_by_prefix(client):
    prefix = unique_subject("")
    names = [prefix + "A", prefix + "B"]
    for name in names:
        client.register(name, V1)
    assert client.list_subjects(prefix) == names
    assert set(names) <= set(client.list_subjects())
    with pytest.raises(SubjectNotFound):
        client.list_versions(unique_subject())


# ---- compatibility checks


def test_check_reports_violations_without_registering(client, subject):
    client.register(subject, V1)
    result = client.check(subject, BREAKING)
    assert not result.compatible and result.violations[0].path == "Event.amount"
    assert client.check(subject, V2).compatible
    assert client.list_versions(subject) == [1]


def test_check_against_one_version_or_all(client, subject):
    client.set_config(subject, "NONE")
    client.register(subject, V1)
    client.register(subject, BREAKING)
    client.set_config(subject, "BACKWARD")
    assert client.check(subject, BREAKING.replace("\n", " "), version=2).compatible
    assert not client.check(subject, BREAKING, version=1).compatible
    assert not client.check(subject, BREAKING, version="all").compatible
    with pytest.raises(VersionNotFound):
        client.check(subject, V1, version=9)


def test_check_of_a_new_subject_is_compatible(client):
    assert client.check(unique_subject(), V1).compatible


# ---- deletes


def test_soft_delete_hides_a_version_but_keeps_its_id(client, subject):
    first = client.register(subject, V1)
    client.register(subject, V2)
    assert client.delete_version(subject, "latest") == 2
    assert client.latest(subject).version == 1
    assert client.list_versions(subject) == [1]
    assert client.list_versions(subject, include_deleted=True) == [1, 2]
    assert client.get_version(subject, 2, include_deleted=True).deleted
    assert client.get_by_id(first.schema_id).schema == V1
    assert client.register(subject, V2).version == 3  # a soft-deleted schema comes back as a new version


def test_compatibility_skips_soft_deleted_versions(client, subject):
    client.register(subject, V1)
    client.delete_version(subject, 1)
    assert client.register(subject, BREAKING).version == 2


def test_hard_delete_needs_a_soft_delete_first(client, subject):
    client.register(subject, V1)
    client.register(subject, V2)
    with pytest.raises(VersionNotSoftDeleted):
        client.delete_version(subject, 1, permanent=True)
    with pytest.raises(SubjectNotSoftDeleted):
        client.delete_subject(subject, permanent=True)
    assert client.delete_version(subject, 1) == 1
    with pytest.raises(VersionSoftDeleted):
        client.delete_version(subject, 1)
    assert client.delete_version(subject, 1, permanent=True) == 1
    assert client.delete_subject(subject) == [2]
    with pytest.raises(SubjectSoftDeleted):
        client.delete_subject(subject)
    assert client.delete_subject(subject, permanent=True) == [2]
    assert subject not in client.list_subjects(include_deleted=True)
    with pytest.raises(SubjectNotFound):
        client.delete_subject(subject)
    with pytest.raises(SubjectNotFound):
        client.delete_version(subject, 1)


def test_delete_of_a_missing_version(client, subject):
    client.register(subject, V1)
    with pytest.raises(VersionNotFound):
        client.delete_version(subject, 5)


# ---- references


def test_references_resolve_and_protect_the_referenced_version(client):
    base, user = unique_subject("Money"), unique_subject("Order")
    money = avro({"amount": "double", "currency": "string"}, name="Money")
    client.register(base, money)
    order = avro({"id": "string", "total": "Money"}, name="Order")
    ref = Reference(name="Money", subject=base, version=1)
    registered = client.register(user, order, references=[ref])
    assert client.get_by_id(registered.schema_id).references == (ref,)
    with pytest.raises(ReferenceExists, match=user):
        client.delete_subject(base)
    with pytest.raises(InvalidSchema, match="does not exist"):
        client.register(unique_subject(), order, references=[Reference("Money", base, 9)])


# ---- config and mode


def test_config_per_subject_falls_back_to_global_and_says_so(client, subject):
    assert client.get_config(subject) == SubjectConfig(Level.BACKWARD, inherited=True)
    assert client.set_config(subject, "full_transitive") == SubjectConfig(Level.FULL_TRANSITIVE)
    assert client.get_config(subject) == SubjectConfig(Level.FULL_TRANSITIVE, inherited=False)
    assert client.delete_config(subject) == SubjectConfig(Level.FULL_TRANSITIVE, inherited=False)
    assert client.get_config(subject) == SubjectConfig(Level.BACKWARD, inherited=True)
    with pytest.raises(SubjectNotFound):
        client.delete_config(subject)
    with pytest.raises(InvalidCompatibilityLevel, match="SIDEWAYS"):
        client.set_config(subject, "SIDEWAYS")
    with pytest.raises(InvalidArgument, match="ruleset"):
        client.set_config(subject, "BACKWARD", ruleset="LOOSE")


def test_level_none_accepts_a_breaking_change(client, subject):
    client.set_config(subject, Level.NONE)
    client.register(subject, V1)
    assert client.register(subject, BREAKING).version == 2


def test_readonly_mode_refuses_writes(client, subject):
    client.register(subject, V1)
    assert client.set_mode(subject, "readonly") == "READONLY"
    assert client.get_mode(subject) == "READONLY"
    with pytest.raises(ReadOnlyMode):
        client.register(subject, V2)
    with pytest.raises(ReadOnlyMode):
        client.delete_subject(subject)
    assert client.get_mode() == "READWRITE"
    with pytest.raises(InvalidMode):
        client.set_mode(subject, "SOMETIMES")


# ---- consumers


def test_a_consumer_blocks_a_change_it_cannot_read_whatever_the_level(client, subject):
    client.set_config(subject, "NONE")
    client.register(subject, V1)
    client.register_consumer("billing", subject, version=1)
    without_id = avro({"amount": "double"})
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, without_id)
    assert rejected.value.consumers == ["billing"]
    assert "billing" in rejected.value.message and "Event.id" in rejected.value.message
    result = client.check(subject, without_id)
    assert result.consumers == ["billing"] and not result.compatible


def test_a_consumer_reading_other_fields_is_not_blocked(client, subject):
    client.set_config(subject, "NONE")
    client.register(subject, V1)
    client.register_consumer("totals", subject, reader_schema=V1, fields=["amount"])
    assert client.register(subject, avro({"amount": "double"})).version == 2


def test_consumers_list_replace_and_remove(client, subject):
    client.register(subject, V1)
    client.register_consumer("billing", subject, version=1, fields=["amount"])
    replaced = client.register_consumer("billing", subject, reader_schema=V1)
    assert (replaced.version, replaced.reader_schema, replaced.fields) == (None, V1, ())
    assert [c.name for c in client.list_consumers(subject)] == ["billing"]
    client.remove_consumer("billing", subject)
    assert client.list_consumers(subject) == []
    with pytest.raises(ConsumerNotFound):
        client.remove_consumer("billing", subject)


def test_consumer_registration_errors(client, subject):
    client.register(subject, V1)
    with pytest.raises(InvalidArgument, match="exactly one"):
        client.register_consumer("x", subject)
    with pytest.raises(VersionNotFound):
        client.register_consumer("x", subject, version=4)
    with pytest.raises(SubjectNotFound):
        client.register_consumer("x", unique_subject(), version=1)
    with pytest.raises(InvalidSchema):
        client.register_consumer("x", subject, reader_schema="{not json")
    with pytest.raises(InvalidArgument, match="name"):
        client.register_consumer(" ", subject, version=1)


def test_a_new_version_without_metadata_carries_the_latest_metadata_forward(client, subject):
    metadata = ContractMetadata(owner_domain="sales", pii_fields=["id"], freshness_sla="1h")
    client.register(subject, V1, metadata=metadata)
    assert client.register(subject, V2).metadata == metadata


def test_a_consumer_of_a_nested_field_is_blocked_only_by_changes_to_it(client, subject):
    items = {
        "type": "array",
        "items": {"type": "record", "name": "Item", "fields": [{"name": "qty", "type": "int"}]},
    }
    client.set_config(subject, "NONE")
    client.register(subject, avro({"amount": "double", "items": items}))
    client.register_consumer("stock", subject, version=1, fields=["items.qty"])
    client.register_consumer("totals", subject, version=1, fields=["amount"])
    changed = json.loads(json.dumps(items))
    changed["items"]["fields"][0]["type"] = "string"
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, avro({"amount": "double", "items": changed}))
    assert rejected.value.consumers == ["stock"]


@pytest.mark.parametrize(
    ("path", "fields", "touches"),
    [
        ("Order.amount", ["amount"], True),
        ("com.shop.Order.amount", ["amount"], True),
        ("Order.items[].sku", ["items.sku"], True),
        ("Order.items[].sku", ["items"], True),
        ("Order.labels{}.text", ["labels.text"], True),
        ("Order.items[].sku", ["amount"], False),
        ("Order.amount_cents", ["amount"], False),
        ("Order", ["amount"], True),
    ],
)
def test_violation_field_matching(path, fields, touches):
    assert violation_touches(path, fields) is touches


def test_a_subject_keeps_one_format(client, subject, examples_dir):
    client.register(subject, V1)
    proto = (examples_dir / "contracts/identity/user_signed_up.proto").read_text()
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, proto, format="PROTOBUF")
    assert rejected.value.violations[0].rule == "FORMAT_CHANGED"


def test_a_consumer_reading_another_format_blocks_the_first_version(client, subject, examples_dir):
    client.register_consumer("avro-reader", subject, reader_schema=V1)  # the subject has no versions yet
    proto = (examples_dir / "contracts/identity/user_signed_up.proto").read_text()
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, proto, format="PROTOBUF")
    assert rejected.value.consumers == ["avro-reader"]
    assert rejected.value.violations[0].rule == "CONSUMER_FORMAT_MISMATCH"


def test_a_consumer_of_a_permanently_deleted_version_must_be_registered_again(client, subject):
    client.register(subject, V1)
    client.register(subject, V2)
    client.register_consumer("old-reader", subject, version=1)
    client.delete_version(subject, 1)
    client.delete_version(subject, 1, permanent=True)
    with pytest.raises(VersionNotFound, match="old-reader"):
        client.register(subject, avro({"id": "string"}))
    client.register_consumer("old-reader", subject, version=2)
    assert client.register(subject, V2.replace("note", "memo")).version == 3


def test_malformed_references_name_the_entry(client, subject):
    with pytest.raises(InvalidArgument, match=r"references\[0\]"):
        client.register(subject, V1, references=[{"name": "Money"}])
    with pytest.raises(InvalidArgument, match=r"references\[0\]"):
        client.register(subject, V1, references=[Reference("Money", "a.B", 0)])


def test_global_level_applies_to_subjects_without_their_own(server, subject):
    with RegistryClient(server.grpc_target) as client:
        try:
            client.set_config(None, "NONE")
            assert client.get_config(None) == SubjectConfig(Level.NONE, inherited=False)
            assert client.get_config(subject) == SubjectConfig(Level.NONE, inherited=True)
            client.register(subject, V1)
            assert client.register(subject, BREAKING).version == 2
        finally:
            assert client.delete_config(None).level is Level.NONE
        assert client.get_config(None) == SubjectConfig(Level.BACKWARD, inherited=True)  # server default
        assert client.delete_config(None) == SubjectConfig(Level.BACKWARD, inherited=True)


def test_normalize_stores_the_canonical_form(client, subject):
    schema = avro({"id": "string", subject.split(".")[0]: "long"})  # a schema no other test registers
    registered = client.register(subject, schema, normalize=True)
    assert registered.schema != schema and "\n" not in registered.schema
    assert client.get_by_id(registered.schema_id).schema == registered.schema
    assert client.register(unique_subject(), schema).schema_id == registered.schema_id


def test_soft_deleted_versions_are_found_only_when_asked(client, subject):
    client.register(subject, V1)
    client.delete_subject(subject)
    assert subject not in client.list_subjects()
    assert subject in client.list_subjects(include_deleted=True)
    with pytest.raises(SubjectNotFound):
        client.lookup(subject, V1)
    found = client.lookup(subject, V1, include_deleted=True)
    assert (found.version, found.deleted) == (1, True)
    assert client.get_version(subject, "latest", include_deleted=True).deleted


def test_consumer_checks_use_the_subject_rule_set(client, subject):
    def proto(name: str) -> str:
        return f'syntax = "proto3";\nmessage E {{\n  string id = 1;\n  string {name} = 2;\n}}\n'

    client.set_config(subject, "NONE", ruleset="WIRE_JSON")
    client.register(subject, proto("email"), format="PROTOBUF")
    client.register_consumer("json-reader", subject, version=1)
    with pytest.raises(IncompatibleSchema) as rejected:
        client.register(subject, proto("mail"), format="PROTOBUF")
    assert {v.rule for v in rejected.value.violations} == {"FIELD_SAME_NAME", "FIELD_SAME_JSON_NAME"}
    client.set_config(subject, "NONE")  # the default rule set: wire compatibility only
    assert client.register(subject, proto("mail"), format="PROTOBUF").version == 2
