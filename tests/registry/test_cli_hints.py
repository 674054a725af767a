"""A registry error a user can fix says how, on the command line: which option or variable to set."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meshgate.cli import main
from tests.conftest import free_port
from tests.registry.registry_harness import V1, running_server


@pytest.fixture
def secured(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}", auth=True) as server:
        _, admin = server.tokens.create("root", "admin")
        yield server, admin


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env={"MESHGATE_TOKEN": None, **(env or {})})


def test_a_call_without_a_token_says_to_pass_token_or_set_meshgate_token(secured):
    server, _ = secured
    result = _run("subjects", "--registry", server.grpc_target)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "hint: pass --token TOKEN or set MESHGATE_TOKEN (an admin creates one: `meshgate token create`)"
    )


def test_register_without_a_token_names_the_file_and_the_hint(secured, tmp_path):
    server, _ = secured
    (tmp_path / "order.avsc").write_text(V1)
    (tmp_path / "order.yaml").write_text("subject: checkout.Order\nformat: AVRO\nschema: order.avsc\n")
    result = _run("register", str(tmp_path / "order.yaml"), "--registry", server.grpc_target)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{tmp_path / 'order.yaml'}: ")
    assert "hint: pass --token TOKEN or set MESHGATE_TOKEN" in result.stderr


def test_a_token_of_another_domain_is_told_which_token_it_needs(secured):
    server, admin = secured
    created = _run(
        "token",
        "create",
        "--name",
        "ads",
        "--role",
        "producer",
        "--domain",
        "ads",
        "--registry",
        server.grpc_target,
        "--token",
        admin,
    )
    assert created.exit_code == 0, created.output
    result = _run(
        "config",
        "checkout.Order",
        "--set",
        "FULL",
        "--registry",
        server.grpc_target,
        "--token",
        created.stdout.strip(),
    )
    assert result.exit_code == 1
    assert "may not write subject 'checkout.Order'" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "hint: use a token of the subject's domain (`meshgate token create --role producer --domain D`)"
    )


def test_an_unreachable_registry_names_the_address_and_how_to_set_it():
    target = f"127.0.0.1:{free_port()}"
    result = _run("subjects", "--registry", target, env={"MESHGATE_CONNECT_TIMEOUT": "1"})
    assert result.exit_code == 1
    assert target in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "hint: start it with `meshgate serve`, or point at it with --registry HOST:PORT or MESHGATE_REGISTRY"
    )
