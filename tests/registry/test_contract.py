"""The contract YAML file: what loads, and the error each malformed file gets."""

from __future__ import annotations

import textwrap

import pytest

from registry.contract import ContractMetadata, domain_of, load_contract, table_name, validate_subject
from registry.errors import InvalidArgument


def write_contract(tmp_path, body: str, schema: str = '{"type": "record", "name": "E", "fields": []}'):
    (tmp_path / "e.avsc").write_text(schema)
    path = tmp_path / "e.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_example_contracts_load_with_their_metadata(examples_dir):
    checkout = load_contract(examples_dir / "contracts/checkout/checkout_completed.yaml")
    assert checkout.subject == "checkout.CheckoutCompleted"
    assert checkout.format == "AVRO"
    assert checkout.domain == "checkout"
    assert checkout.metadata.primary_key == ["event_id"]
    assert checkout.metadata.pii_fields == ["email"]
    assert {r.rule for r in checkout.metadata.quality_rules} == {
        "not_null",
        "unique",
        "min",
        "accepted_values",
        "regex",
    }
    assert '"CheckoutCompleted"' in checkout.schema
    signup = load_contract(examples_dir / "contracts/identity/user_signed_up.yaml")
    assert signup.format == "PROTOBUF"
    assert signup.metadata.mask_pii_at == "bronze"


def test_owner_defaults_to_the_subjects_domain(tmp_path):
    path = write_contract(tmp_path, "subject: sales.E\nformat: avro\nschema: e.avsc\n")
    contract = load_contract(path)
    assert contract.metadata.owner_domain == "sales"
    assert contract.format == "AVRO"


def test_metadata_round_trips_through_dict():
    meta = ContractMetadata.from_dict(
        {
            "owner_domain": "x",
            "quality_rules": [{"field": "a", "rule": "accepted_values", "values": ["p", "q"]}],
        }
    )
    assert ContractMetadata.from_dict(meta.to_dict()) == meta


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("subject: [unclosed\n", r"e\.yaml:\d+:\d+: not valid YAML"),
        ("- a list\n", "must be a YAML mapping"),
        ("format: AVRO\nschema: e.avsc\n", "'subject' is required"),
        ("subject: nodots\nformat: AVRO\nschema: e.avsc\n", "subject: subject 'nodots' is not of the form"),
        ("subject: a.B\nformat: XML\nschema: e.avsc\n", "format: 'XML' is not one of AVRO, PROTOBUF, JSON"),
        ("subject: a.B\nformat: AVRO\nschema: missing.avsc\n", "schema: cannot read missing.avsc"),
        ("subject: a.B\nformat: AVRO\nschema: e.avsc\ncolour: red\n", "unknown key\\(s\\) colour"),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nreferences: [{name: x}]\n",
            r"references\[0\]: needs name",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nmask_pii_at: gold\n",
            "mask_pii_at: 'gold' is not one of",
        ),
        ("subject: a.B\nformat: AVRO\nschema: e.avsc\npii: email\n", "pii_fields: expected a list"),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nfreshness_sla: soon\n",
            "freshness_sla: 'soon' is not a duration",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [3]\n",
            r"quality_rules\[0\]: expected a mapping",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{field: a, rule: sometimes}]\n",
            r"quality_rules\[0\]\.rule: 'sometimes' is not one of",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{rule: not_null}]\n",
            r"quality_rules\[0\]\.field",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{field: a, rule: accepted_values}]\n",
            r"\.values: accepted_values needs a non-empty list",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{field: a, rule: min, value: x}]\n",
            r"\.value: min needs a number",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{field: a, rule: regex, value: '('}]\n",
            r"\.value: invalid regular expression",
        ),
        (
            "subject: a.B\nformat: AVRO\nschema: e.avsc\nquality: [{field: a, rule: not_null, when: x}]\n",
            r"quality_rules\[0\]: unknown key\(s\) when",
        ),
    ],
)
def test_malformed_contract_files_name_file_and_field(tmp_path, body, expected):
    path = write_contract(tmp_path, body)
    with pytest.raises(InvalidArgument, match=expected) as info:
        load_contract(path)
    assert str(path) in info.value.message


def test_unreadable_contract_file_names_the_file(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot read contract"):
        load_contract(tmp_path / "absent.yaml")


def test_subject_rules():
    assert domain_of("checkout.CheckoutCompleted") == "checkout"
    assert validate_subject("a.b.C") == "a.b.C"
    with pytest.raises(InvalidArgument):
        validate_subject("has space.X")


@pytest.mark.parametrize(
    ("subject", "table"),
    [
        ("checkout.CheckoutCompleted", "checkout__checkout_completed"),
        ("identity.UserSignedUp", "identity__user_signed_up"),
        ("web.HTTPRequestLogged", "web__http_request_logged"),
        ("shop.orders.OrderPlaced", "shop__orders_order_placed"),
        ("webShop.Order", "web_shop__order"),
    ],
)
def test_table_name_is_domain_two_underscores_and_snake_case(subject, table):
    """One rule for Bronze/Silver/Gold tables, dbt sources and contract-check's dbt consumers."""
    assert table_name(subject) == table
