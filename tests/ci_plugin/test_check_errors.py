"""contract-check's usage and configuration errors: exit 2 and a message naming file, line and key."""

from __future__ import annotations

import pytest

from tests.ci_plugin.conftest import AVRO_CONTRACT, AVRO_SCHEMA, PROTO_SCHEMA, GitRepo, init_repo


def broken_config(contract_repo, text: str):
    contract_repo.write("meshgate.yaml", text)
    contract_repo.commit("config")
    return contract_repo.contract_check("--against", "main")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contracts:\n  - a/*.yaml\n  - [oops\n", "meshgate.yaml:4: not valid YAML"),
        ("default_branch: main\ncontract:\n  - a/*.yaml\n", "meshgate.yaml:2: contract: unknown key"),
        ("default_branch: main\n", "meshgate.yaml:1: contracts: required"),
        ("contracts: []\n", "meshgate.yaml:1: contracts: expected a non-empty list"),
        (
            "contracts:\n  - a/*.yaml\ndefault_branch: 7\n",
            "meshgate.yaml:3: default_branch: expected a non-empty string",
        ),
        (
            "contracts:\n  - path: a/*.yaml\n    dbt_source: bronze.t\n",
            "meshgate.yaml:3: contracts[0].dbt_source: only allowed on a single file",
        ),
        ("contracts:\n  - {dbt_source: bronze.t}\n", "meshgate.yaml:2: contracts[0].path: required"),
        (
            "contracts:\n  - a.yaml\ndbt:\n  manifest: m.json\n  sources: bronze\n",
            "meshgate.yaml:5: dbt.sources: unknown key",
        ),
        ("- just\n- a list\n", "meshgate.yaml:1: (top level): expected a mapping"),
        (
            "- " * 10_000 + "x\n",
            "meshgate.yaml:1:129: YAML nested deeper than 64 levels (limit 'nesting depth'",
        ),
        (
            "[" * 10_000 + "]" * 10_000,
            "meshgate.yaml:1:65: YAML nested deeper than 64 levels (limit 'nesting depth'",
        ),
    ],
)
def test_malformed_config_exits_2_naming_line_and_key(contract_repo, text, expected):
    result = broken_config(contract_repo, text)

    assert result.exit_code == 2
    assert f"error: {expected}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_exits_2(contract_repo):
    contract_repo.git("rm", "-q", "meshgate.yaml")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "meshgate.yaml: cannot read the configuration" in result.stderr


def test_unparseable_avro_schema_exits_2_with_file_and_line(contract_repo):
    contract_repo.edit(AVRO_SCHEMA, '"name": "amount",', '"name": "amount"')  # a missing comma
    contract_repo.commit("typo")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    line = contract_repo.line_of(AVRO_SCHEMA, '"name": "amount"')
    after = contract_repo.read(AVRO_SCHEMA).splitlines()[line]  # json reports where the comma was expected:
    column = len(after) - len(after.lstrip()) + 1  # the next line's first character
    assert result.stderr.startswith(f"error: {AVRO_SCHEMA}:{line + 1}:{column}: invalid JSON: Expecting ','")
    assert f"(schema of {AVRO_CONTRACT})" in result.stderr


def test_unparseable_proto_schema_exits_2_with_file_and_line(contract_repo):
    contract_repo.edit(PROTO_SCHEMA, "string email = 3;", "strin email = 3;")
    contract_repo.commit("typo")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    line = contract_repo.line_of(PROTO_SCHEMA, "strin email")
    column = contract_repo.read(PROTO_SCHEMA).splitlines()[line - 1].index("strin") + 1
    assert result.stderr.startswith(f'error: {PROTO_SCHEMA}:{line}:{column}: "strin" is not defined')
    assert "strin" in result.stderr


def test_malformed_contract_yaml_exits_2_naming_it(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, "subject: checkout.CheckoutCompleted\n", "")
    contract_repo.commit("no subject")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert f"{AVRO_CONTRACT}: 'subject' is required" in result.stderr


def test_unknown_compatibility_level_exits_2(contract_repo):
    contract_repo.edit(AVRO_CONTRACT, "compatibility: BACKWARD", "compatibility: SIDEWAYS")
    contract_repo.commit("bad level")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert f"{AVRO_CONTRACT}: compatibility: unknown compatibility level 'SIDEWAYS'" in result.stderr


def test_two_contracts_with_one_subject_exit_2(contract_repo):
    contract_repo.write("contracts/checkout/copy.yaml", contract_repo.read(AVRO_CONTRACT))
    contract_repo.commit("duplicate")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "subject: checkout.CheckoutCompleted is already the subject of" in result.stderr


def test_reference_to_an_unknown_subject_exits_2_offline(contract_repo):
    contract_repo.write(
        AVRO_CONTRACT,
        contract_repo.read(AVRO_CONTRACT)
        + "references:\n  - {name: Money, subject: finance.Money, version: 1}\n",
    )
    contract_repo.commit("reference")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert (
        f"{AVRO_CONTRACT}: references[0]: subject finance.Money is not a contract in this repository"
        in result.stderr
    )


@pytest.mark.parametrize(("option", "ref"), [("--base", "no-such-branch"), ("--against", "v9.9")])
def test_unknown_ref_exits_2(contract_repo, option, ref):
    result = contract_repo.contract_check(option, ref, *(["--against", "main"] if option == "--base" else []))

    assert result.exit_code == 2
    assert f"{option} {ref!r} does not name a commit" in result.stderr


def test_missing_default_branch_exits_2_and_says_how_to_fix(contract_repo):
    contract_repo.edit("meshgate.yaml", "default_branch: main", "default_branch: trunk")
    contract_repo.commit("trunk")

    result = contract_repo.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "branch 'trunk' not found" in result.stderr and "--base" in result.stderr


def test_outside_a_git_repository_exits_2(tmp_path):
    outside = GitRepo(tmp_path)

    result = outside.contract_check("--against", "main")

    assert result.exit_code == 2
    assert "not inside a git repository" in result.stderr


def test_config_outside_the_repository_root_exits_2(tmp_path):
    repo = init_repo(tmp_path / "repo")
    repo.write("sub/meshgate.yaml", "contracts:\n  - '*.yaml'\n")
    repo.commit("config in a sub-folder")

    result = repo.contract_check("--config", "sub/meshgate.yaml", "--base", "HEAD", "--against", "HEAD")

    assert result.exit_code == 2
    assert "must sit at the repository root" in result.stderr
