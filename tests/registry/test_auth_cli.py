"""``meshgate token``, ``meshgate audit``, ``serve --no-auth`` limits, token validation, and TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshgate.cli import main
from registry.auth import Tokens, parse_duration
from registry.client import RegistryClient
from registry.errors import InvalidArgument, Unavailable
from registry.server import RegistryServer
from registry.store import Store
from tests.registry.registry_harness import V1, running_server


@pytest.fixture
def secured(tmp_path):
    with running_server(f"sqlite:///{tmp_path / 'registry.db'}", auth=True) as server:
        _, admin = server.tokens.create("root", "admin")
        yield server, admin


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_tokens_are_created_listed_and_revoked_over_grpc_and_writes_show_in_the_audit(secured):
    server, admin = secured
    target = ["--registry", server.grpc_target, "--token", admin]
    created = _run(
        "token",
        "create",
        "--name",
        "ci",
        "--role",
        "producer",
        "--domain",
        "checkout",
        "--expires-in",
        "30d",
        *target,
    )
    assert created.exit_code == 0, created.output
    assert "token 2 'ci': producer of checkout, expires" in created.stderr
    secret = created.stdout.strip()
    with RegistryClient(server.grpc_target, secret) as ci:
        ci.register("checkout.Order", V1)
    listed = _run("token", "list", *target)
    assert listed.exit_code == 0
    assert [line.split("\t")[:4] for line in listed.stdout.splitlines()] == [
        ["1", "root", "admin", "-"],
        ["2", "ci", "producer", "checkout"],
    ]
    assert secret not in listed.stdout
    revoked = _run("token", "revoke", "2", *target)
    assert revoked.exit_code == 0 and "revoked token 2 'ci'" in revoked.stdout
    assert _run("token", "list", *target).stdout.count("\n") == 1
    assert "revoked" in _run("token", "list", "--revoked", *target).stdout
    audit = _run("audit", *target)
    assert audit.exit_code == 0
    lines = [line.split("\t") for line in audit.stdout.splitlines()]
    assert [line[2] for line in lines] == ["RevokeToken", "Register", "CreateToken"]
    assert lines[1][1] == "ci (id 2)" and lines[1][3] == "checkout.Order" and lines[1][5] == "ok"
    assert lines[1][4].startswith("ipv4:127.0.0.1:")


def test_token_commands_write_to_the_store_directly_for_the_first_admin(tmp_path):
    created = _run("token", "create", "--name", "root", "--role", "admin", "--data-dir", str(tmp_path))
    assert created.exit_code == 0, created.output
    listed = _run("token", "list", "--data-dir", str(tmp_path))
    assert listed.stdout.startswith("1\troot\tadmin")
    assert _run("token", "revoke", "1", "--data-dir", str(tmp_path)).exit_code == 0
    missing = _run("token", "revoke", "7", "--data-dir", str(tmp_path))
    assert missing.exit_code == 1 and "token id 7 not found" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "producer"], "a producer token needs at least one --domain"),
        (["--role", "consumer", "--domain", "bad domain"], "'bad domain' is not a domain name"),
        (["--role", "admin", "--expires-in", "soon"], "duration 'soon': expected a number and a unit"),
        (["--role", "root"], "'root' is not one of"),
    ],
)
def test_token_create_names_what_is_wrong(tmp_path, args, message):
    result = _run("token", "create", "--name", "x", *args, "--data-dir", str(tmp_path))
    assert result.exit_code != 0 and message in result.output


def test_an_empty_token_name_and_a_past_expiry_are_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    tokens = Tokens(store)
    with pytest.raises(InvalidArgument, match="token name: required"):
        tokens.create(" ", "admin")
    with pytest.raises(InvalidArgument, match="expires in: must be positive"):
        tokens.create("x", "admin", expires_in=dt.timedelta(seconds=-1))
    store.close()
    assert parse_duration("12h") == dt.timedelta(hours=12)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "registry.example.com"])
def test_no_auth_refuses_a_non_loopback_address(tmp_path, host):
    result = _run("serve", "--no-auth", "--host", host, "--data-dir", str(tmp_path))
    assert result.exit_code == 1 and f"--no-auth refuses to listen on {host}" in result.output
    with pytest.raises(ValueError, match="refusing to serve without authentication"):
        RegistryServer(f"sqlite:///{tmp_path / 'r.db'}", host=host)


def test_tls_cert_without_key_is_refused(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = _run("serve", "--tls-cert", str(cert), "--data-dir", str(tmp_path))
    assert result.exit_code == 1 and "--tls-cert and --tls-key go together" in result.output


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_grpc_and_http_serve_tls_from_certificate_files(tmp_path):
    cert, key = _self_signed(tmp_path)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with running_server(url, auth=True, tls_cert=cert, tls_key=key) as server:
        _, admin = server.tokens.create("root", "admin")
        assert server.http_url.startswith("https://")
        with RegistryClient(server.grpc_target, admin, ca_cert=cert) as client:
            assert client.register("checkout.Order", V1).version == 1
        response = httpx.get(
            f"{server.http_url}/subjects",
            headers={"Authorization": f"Bearer {admin}"},
            verify=ssl.create_default_context(cafile=str(cert)),
        )
        assert response.json() == ["checkout.Order"]
        with RegistryClient(server.grpc_target, admin, timeout=2) as plaintext:
            with pytest.raises(Unavailable):
                plaintext.list_subjects()
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.ports.http_port}/subjects", timeout=2)


def test_a_missing_ca_file_is_named():
    with pytest.raises(InvalidArgument, match="CA certificate /no/such.pem"):
        RegistryClient("127.0.0.1:1", ca_cert="/no/such.pem")
