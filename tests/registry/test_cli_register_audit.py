"""``meshgate register`` of a contract with ``compatibility:``: the audit log names the call refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meshgate.cli import main
from tests.registry.registry_harness import V1, V2, running_server


@pytest.fixture
def secured(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}", auth=True) as server:
        _, admin = server.tokens.create("root", "admin")
        _, ads = server.tokens.create("ads-producer", "producer", domains=("ads",))
        yield server, admin, ads


def _contract(folder, schema: str):
    (folder / "order.avsc").write_text(schema)
    (folder / "order.yaml").write_text(
        "subject: checkout.Order\nformat: AVRO\nschema: order.avsc\ncompatibility: FULL\n"
    )
    return str(folder / "order.yaml")


def _run(server, token: str, *args: str):
    return CliRunner().invoke(main, [*args, "--registry", server.grpc_target, "--token", token])


def _audit(server) -> list[tuple[str, str, str]]:
    """The audit log, newest first: (action, target, outcome)."""
    return [(entry.action, entry.target, entry.outcome) for entry in server.tokens.audit(50)]


def test_a_refused_register_of_a_new_subject_is_audited_as_register(secured, tmp_path):
    server, admin, ads = secured
    result = _run(server, ads, "register", _contract(tmp_path, V1))
    assert result.exit_code == 1
    assert "may not write subject 'checkout.Order'" in result.stderr
    assert _audit(server)[0] == ("Register", "checkout.Order", "PermissionDenied")


def test_a_refused_register_of_an_existing_subject_at_its_level_is_audited_as_register(secured, tmp_path):
    server, admin, ads = secured
    path = _contract(tmp_path, V1)
    assert _run(server, admin, "register", path).exit_code == 0
    path = _contract(tmp_path, V2)
    result = _run(server, ads, "register", path)
    assert result.exit_code == 1
    assert _audit(server)[0] == ("Register", "checkout.Order", "PermissionDenied")


def test_register_sets_the_contracts_level_on_a_new_subject(secured, tmp_path):
    server, admin, _ = secured
    result = _run(server, admin, "register", _contract(tmp_path, V1))
    assert result.exit_code == 0, result.output
    assert _run(server, admin, "config", "checkout.Order").stdout.strip() == "checkout.Order: FULL"
    actions = [action for action, _, outcome in _audit(server) if outcome == "ok"]
    assert actions[:2] == ["SetConfig", "Register"]  # newest first: registered, then its level set
