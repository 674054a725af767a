"""The format registry: names, one cached backend per format, and rule sets declared once by each."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ci_plugin.cli import main as contract_check
from registry import contract
from registry.compat import FORMATS, Direction, UnknownRuleset, get_format
from registry.errors import InvalidArgument

SAMPLES = {
    "AVRO": ("schema.avsc", '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}'),
    "PROTOBUF": ("schema.proto", 'syntax = "proto3";\npackage t.v1;\nmessage R { string a = 1; }\n'),
    "JSON": ("schema.json", '{"type": "object", "properties": {"a": {"type": "string"}}}'),
}
"""A valid schema per format: a new format adds one here, or the first test fails."""


def test_every_format_has_a_sample_schema_here():
    assert set(SAMPLES) == set(FORMATS)


def test_get_format_returns_one_instance_per_format_whatever_the_spelling():
    for name in FORMATS:
        backend = get_format(name)
        assert backend.name == name
        assert get_format(name.lower()) is backend and get_format(f" {name} ") is backend
    assert get_format("proto") is get_format("PROTOBUF")


def test_an_unknown_format_name_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown schema format 'xml'; expected one of AVRO, PROTOBUF, JSON"):
        get_format("xml")


def test_contract_files_accept_exactly_the_registry_format_names():
    assert contract.FORMATS == FORMATS


@pytest.mark.parametrize("name", FORMATS)
def test_each_declared_ruleset_is_accepted_by_check(name):
    backend = get_format(name)
    schema = backend.parse(SAMPLES[name][1])
    for ruleset in (None, *backend.rulesets, *(r.lower() for r in backend.rulesets)):
        assert backend.check(schema, schema, Direction.BACKWARD, ruleset) == []


@pytest.mark.parametrize("name", FORMATS)
def test_a_ruleset_the_format_lacks_is_refused_with_the_format_and_its_rulesets(name):
    backend = get_format(name)
    schema = backend.parse(SAMPLES[name][1])
    with pytest.raises(UnknownRuleset) as info:
        backend.check(schema, schema, Direction.BACKWARD, "LOOSE")
    error = info.value
    assert isinstance(error, InvalidArgument)  # mapped to INVALID_ARGUMENT / 422 by the servers
    assert (error.format_name, error.ruleset, error.rulesets) == (name, "LOOSE", backend.rulesets)
    assert name in error.message and ", ".join(backend.rulesets or ("no named rule sets",)) in error.message


def _diff(tmp_path, name: str, ruleset: str):
    file_name, text = SAMPLES[name]
    path = tmp_path / file_name
    path.write_text(text)
    args = ["diff", "--format", name.lower(), "--ruleset", ruleset, str(path), str(path)]
    return CliRunner().invoke(contract_check, args)


@pytest.mark.parametrize("name", FORMATS)
def test_contract_check_diff_accepts_each_ruleset_of_the_format(tmp_path, name):
    for ruleset in get_format(name).rulesets:
        result = _diff(tmp_path, name, ruleset)
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", FORMATS)
def test_contract_check_diff_refuses_the_rulesets_of_other_formats(tmp_path, name):
    others = {r for other in FORMATS if other != name for r in get_format(other).rulesets}
    for ruleset in others - set(get_format(name).rulesets):
        result = _diff(tmp_path, name, ruleset)
        assert result.exit_code == 2
        assert f"--format {name.lower()} has {', '.join(get_format(name).rulesets)}" in result.output


def test_contract_check_diff_offers_exactly_the_declared_rulesets():
    (option,) = [p for p in contract_check.commands["diff"].params if p.name == "ruleset"]
    assert set(option.type.choices) == {r for name in FORMATS for r in get_format(name).rulesets}
