"""Webhook secrets at rest: sealed with MESHGATE_SECRET_KEY (AES-GCM), so a copy of the store without
the key reveals none; plaintext of an older release is sealed at startup; ``meshgate webhooks
rotate-key`` re-seals every secret under a new key; deliveries stay signed as documented; tokens
are stored as their SHA-256 only."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from click.testing import CliRunner

from registry.cli import webhooks as webhooks_command
from registry.client import RegistryClient
from registry.sealing import KEY_ENV, SecretBox, SecretKeyError, new_key
from tests.registry.registry_harness import V1, running_server
from tests.registry.test_webhooks import FAST, SECRET, Receiver  # Receiver checks signatures by SECRET


@pytest.fixture
def endpoint():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _stored_secrets(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT secret FROM webhooks ORDER BY id")]


def _store_holds(path, needle: str) -> bool:
    """Whether any text column of any table of the database file holds ``needle`` (a raw copy)."""
    return needle.encode() in path.read_bytes()


def test_a_store_copied_without_the_key_reveals_no_webhook_secret(tmp_path, monkeypatch, endpoint):
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    path = tmp_path / "r.db"
    with running_server(f"sqlite:///{path}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            _, generated = client.add_webhook("http://127.0.0.1:9/unreachable")
            client.add_webhook(endpoint.url, SECRET)
            client.register("checkout.Order", V1)
            accepted = endpoint.wait_for(1)
    assert [valid for _, _, valid in accepted] == [True]  # signed with the secret itself, not its sealed form
    stored = _stored_secrets(path)
    box = SecretBox.from_text(key)
    assert all(value.startswith(f"v1:{box.key_id}:") for value in stored)
    assert [box.open(value) for value in stored] == [generated, SECRET]
    for wal in tmp_path.glob("r.db*"):
        assert not _store_holds(wal, SECRET) and not _store_holds(wal, generated)


def test_plaintext_secrets_of_an_older_release_are_sealed_at_startup(tmp_path, monkeypatch, endpoint):
    path = tmp_path / "r.db"
    monkeypatch.delenv(KEY_ENV, raising=False)
    with running_server(f"sqlite:///{path}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            client.add_webhook(endpoint.url, SECRET)
    assert _stored_secrets(path) == [SECRET]
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    with running_server(f"sqlite:///{path}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            client.register("checkout.Order", V1)
            accepted = endpoint.wait_for(1)
    assert [valid for _, _, valid in accepted] == [True]
    (stored,) = _stored_secrets(path)
    assert stored.startswith("v1:") and SecretBox.from_text(key).open(stored) == SECRET


def test_rotate_key_reseals_every_secret_and_only_the_new_key_opens_them(tmp_path, monkeypatch, endpoint):
    path = tmp_path / "r.db"
    old, new = new_key(), new_key()
    monkeypatch.setenv(KEY_ENV, old)
    with running_server(f"sqlite:///{path}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            client.add_webhook(endpoint.url, SECRET)
    key_file = tmp_path / "new.key"
    key_file.write_text(new + "\n")
    result = CliRunner().invoke(
        webhooks_command,
        ["rotate-key", "--new-key-file", str(key_file), "--database-url", f"sqlite:///{path}"],
        env={KEY_ENV: old},
    )
    new_box = SecretBox.from_text(new)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"re-sealed 1 webhook secret(s) with key {new_box.key_id}"
    (stored,) = _stored_secrets(path)
    assert new_box.open(stored) == SECRET
    with pytest.raises(SecretKeyError, match=f"sealed with key {new_box.key_id}"):
        SecretBox.from_text(old).open(stored)
    monkeypatch.setenv(KEY_ENV, new)
    with running_server(f"sqlite:///{path}", webhook_options=FAST) as server:
        with RegistryClient(server.grpc_target) as client:
            client.register("checkout.Order", V1)
            accepted = endpoint.wait_for(1)
    assert [valid for _, _, valid in accepted] == [True]


def test_rotate_key_with_the_wrong_current_key_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "r.db"
    monkeypatch.setenv(KEY_ENV, new_key())
    with running_server(f"sqlite:///{path}") as server:
        with RegistryClient(server.grpc_target) as client:
            client.add_webhook("http://127.0.0.1:9/hook", SECRET)
    before = _stored_secrets(path)
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key())
    result = CliRunner().invoke(
        webhooks_command,
        ["rotate-key", "--new-key-file", str(key_file), "--database-url", f"sqlite:///{path}"],
        env={KEY_ENV: new_key()},
    )
    assert result.exit_code == 1
    assert "the configured key is" in result.output
    assert _stored_secrets(path) == before


def test_an_altered_sealed_secret_does_not_open():
    box = SecretBox.from_text(new_key())
    sealed = box.seal(SECRET)
    prefix, payload = sealed.rsplit(":", 1)
    altered = f"{prefix}:{payload[:-6]}AAAA=="
    with pytest.raises(SecretKeyError, match="altered"):
        box.open(altered)


@pytest.mark.parametrize(
    "text, message", [("not base64!", "not base64"), ("c2hvcnQ=", "5 bytes; expected 32")]
)
def test_a_malformed_key_is_refused_naming_the_problem(text, message):
    with pytest.raises(SecretKeyError, match=message):
        SecretBox.from_text(text)


def test_an_overlong_chosen_secret_is_refused(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'r.db'}") as server:
        with RegistryClient(server.grpc_target) as client:
            with pytest.raises(Exception, match="webhook secret: 129 characters, over 128"):
                client.add_webhook("http://127.0.0.1:9/hook", "s" * 129)


def test_a_store_copied_holds_no_token_secret_only_its_sha256(tmp_path):
    """Tokens stay hashed: a copy of the store cannot be replayed as a token."""
    path = tmp_path / "r.db"
    with running_server(f"sqlite:///{path}", auth=True) as server:
        token, secret = server.tokens.create("checkout-ci", "producer", ["checkout"])
        with RegistryClient(server.grpc_target, secret) as client:
            assert client.register("checkout.Order", V1).version == 1
    for copy in tmp_path.glob("r.db*"):
        assert not _store_holds(copy, secret) and not _store_holds(copy, secret.removeprefix("mgt_"))
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT token_hash FROM api_tokens WHERE id = ?", (token.id,)).fetchall()
    assert stored == [(hashlib.sha256(secret.encode()).hexdigest(),)]
