"""``contract-check``'s words: ``--format`` the schema format, ``--output`` the report format, the help
that lists every sub-command and exit code, and the hints and fallback when the registry refuses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ci_plugin.cli import main
from tests.ci_plugin.test_check_registry import drop_field


def _help(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_help_lists_each_sub_command_on_one_line_including_check_against():
    text = _help()
    commands = text[text.index("Commands:") :].splitlines()[1:4]
    assert [line.split()[0] for line in commands] == ["check", "diff", "publish"]
    assert "contract-check check --against main" in text


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        ((), ("0 compatible", "1 breaking", "2 usage", "3 registry unreachable")),
        (("check",), ("0 compatible", "1 breaking", "2 usage", "3 registry unreachable")),
        (("diff",), ("0 compatible", "1 breaking", "2 usage or parse error")),
        (("publish",), ("0 published", "1 refused as breaking", "2 usage", "3 registry unreachable")),
    ],
)
def test_every_help_documents_its_exit_codes(args, codes):
    text = " ".join(_help(*args).split())
    for code in codes:
        assert code in text


def test_check_takes_the_report_format_as_output(contract_repo):
    result = contract_repo.contract_check("--against", "main", "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["mode"] == "offline"
    assert "deprecated" not in result.stderr


@pytest.mark.parametrize("command", [("check", "--against", "main"), ("publish", "--registry", "x:1")])
def test_the_old_format_spelling_of_the_report_format_still_works_with_a_warning(contract_repo, command):
    result = contract_repo.contract_check(*command, "--format", "json")
    assert f"warning: {command[0]} --format is deprecated" in result.stderr
    assert "use --output json" in result.stderr
    if command[0] == "check":
        assert json.loads(result.stdout)["mode"] == "offline"


def test_the_report_format_is_not_shown_as_format_in_the_help():
    assert "--format" not in _help("check")
    assert "--output [text|github|json|junit|sarif]" in _help("check")


@pytest.fixture
def secured_registry(tmp_path):
    from registry.server import RegistryServer, ThreadedServer

    server = RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1", auth=True)
    threaded = ThreadedServer(server)
    threaded.start()
    try:
        yield server.grpc_target
    finally:
        threaded.stop()


def test_check_without_a_token_says_pass_token_or_set_meshgate_token(
    contract_repo, secured_registry, monkeypatch
):
    monkeypatch.delenv("MESHGATE_TOKEN", raising=False)
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")
    result = contract_repo.contract_check("--registry", secured_registry)
    assert result.exit_code == 2
    assert "hint: pass --token TOKEN or set MESHGATE_TOKEN" in result.stderr
    assert "--offline-fallback checks offline against the base instead" in result.stderr


def test_offline_fallback_falls_back_when_the_registry_refuses_and_says_so(
    contract_repo, secured_registry, monkeypatch
):
    monkeypatch.delenv("MESHGATE_TOKEN", raising=False)
    contract_repo.edit_json(
        "contracts/checkout/checkout_completed.avsc",
        lambda s: next(f for f in s["fields"] if f["name"] == "amount").update(type="string"),
    )
    contract_repo.commit("amount as text")
    result = contract_repo.contract_check(
        "--registry", secured_registry, "--offline-fallback", "--output", "json"
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["mode"] == "offline"
    assert f"registry {secured_registry} refused the token" in report["notes"][0]
    assert f"warning: registry {secured_registry} refused the token" in result.stderr
    assert "checked offline against the base" in result.stderr


def test_offline_fallback_on_an_unreachable_registry_says_so_on_stderr(contract_repo, unreachable_registry):
    drop_field(contract_repo, "email")
    contract_repo.commit("drop email")
    result = contract_repo.contract_check("--registry", unreachable_registry, "--offline-fallback")
    assert result.exit_code == 0
    assert f"warning: registry {unreachable_registry} unreachable" in result.stderr
