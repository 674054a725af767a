"""Fixtures of the meshgate (composition root) tests."""

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshgate.demo import load_generator


@pytest.fixture(scope="session")
def generate():
    """examples/generate.py as a module (examples/ is not an installed package)."""
    return load_generator()


# --- certificates made by the tests: a CA signs the server's certificate (127.0.0.1 and localhost) and
# a client certificate; a second CA, which the server does not trust, signs a stranger's client one.


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by a CA the server does not trust
    stranger_key: Path


def _write_key(key, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca=False, sans=()):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _ca(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(name, key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key, ca=True)
    return cert, key


def _issue(folder: Path, stem: str, ca, sans=()) -> tuple[Path, Path]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(stem, key, ca_cert.subject, ca_key, sans=sans)
    cert_path = folder / f"{stem}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, _write_key(key, folder / f"{stem}-key.pem")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, stranger_ca = _ca("meshgate test CA"), _ca("stranger CA")
    (folder / "ca.pem").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    server = _issue(
        folder, "server", ca, [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    client = _issue(folder, "client", ca)
    stranger = _issue(folder, "stranger", stranger_ca)
    return Pki(folder / "ca.pem", *server, *client, *stranger)


# --- the web console: a real registry server with /ui, tokens, contracts, a Bronze batch, a manifest ---

CHECKOUT = "checkout.CheckoutCompleted"


@pytest.fixture(scope="module")
def console_site(tmp_path_factory, generate):
    """A started registry server (auth on) with the console, and what its pages show."""
    from meshgate.console import LakehouseLocation, console_routes
    from meshgate.demo import EXAMPLES
    from registry.contract import load_contract
    from registry.server import RegistryServer, ThreadedServer
    from registry.store import sqlite_url

    data_dir = tmp_path_factory.mktemp("console")
    server = RegistryServer(
        sqlite_url(data_dir),
        auth=True,
        http_routes=lambda s: console_routes(s, LakehouseLocation(data_dir)),
        watch_options={"poll_interval": 0.1},
    )
    threaded = ThreadedServer(server)
    threaded.start()
    try:
        tokens = {
            name: server.tokens.create(name, role, domains)[1]
            for name, role, domains in (
                ("admin", "admin", ()),
                ("checkout-team", "producer", ("checkout",)),
                ("identity-team", "producer", ("identity",)),
                ("billing", "consumer", ("billing",)),
            )
        }
        service = server.service
        contract = load_contract(EXAMPLES / "contracts/checkout/checkout_completed.yaml")
        service.register(CHECKOUT, contract.schema, "AVRO", metadata=contract.metadata)
        service.register(CHECKOUT, (EXAMPLES / "evolution/checkout_completed.v2.avsc").read_text(), "AVRO")
        service.set_config(CHECKOUT, "NONE")  # v3 breaks BACKWARD: registered while the level is off
        service.register(CHECKOUT, (EXAMPLES / "evolution/checkout_completed.v3-breaking.avsc").read_text())
        service.set_config(CHECKOUT, "BACKWARD")
        service.register_consumer("billing.reports", CHECKOUT, version=2, fields=["amount", "currency"])
        identity = load_contract(EXAMPLES / "contracts/identity/user_signed_up.yaml")
        service.register(identity.subject, identity.schema, "PROTOBUF")
        for n in range(60):
            service.register(f"inventory.Item{n:02d}", _record(f"Item{n:02d}"), "AVRO")
        service.register("security.Doc", _record("Doc", doc="<script>alert('x')</script>"), "AVRO")
        batch_id = _quarantined_batch(data_dir, generate, contract, service.get_version(CHECKOUT, 1))
        _write_manifest(data_dir)
        _write_gold_tables(data_dir)
        yield SimpleNamespace(
            server=server, url=server.http_url, tokens=tokens, data_dir=data_dir, batch_id=batch_id
        )
    finally:
        threaded.stop()


def _record(name: str, doc: str = "") -> str:
    schema = {"type": "record", "name": name, "fields": [{"name": "id", "type": "long"}]}
    if doc:
        schema["doc"] = doc
    return json.dumps(schema, indent=2)


def _quarantined_batch(data_dir, generate, contract, version) -> str:
    from lakehouse.catalog import open_catalog
    from lakehouse.gate import ingest

    path = data_dir / "landing" / "checkout-bad.jsonl"
    path.parent.mkdir(parents=True)
    generate.write("checkout", path, rows=200, seed=4, bad=True)
    result = ingest(
        [str(path)],
        contract,
        open_catalog(data_dir),
        schema_id=version.schema_id,
        schema_version=version.version,
        batch_id="batch-bad-1",
        on_invalid="quarantine",
    )
    assert result.status == "quarantined", result
    return result.batch_id


def _write_manifest(data_dir) -> None:
    """dbt's manifest as ``dbt parse`` writes it, reduced to the fields the console reads."""
    source = "source.meshgate.bronze.checkout__checkout_completed"
    silver = "model.meshgate.silver_checkout_completed"
    manifest = {
        "sources": {source: {"name": "checkout__checkout_completed", "source_name": "bronze"}},
        "nodes": {
            silver: {
                "resource_type": "model",
                "name": "silver_checkout_completed",
                "schema": "silver",
                "description": "Checkouts, deduplicated, PII masked.",
                "depends_on": {"nodes": [source]},
                "columns": {"amount": {"description": "order total"}},
                "raw_code": "select * from {{ source('bronze', 'checkout__checkout_completed') }}",
            },
            "model.meshgate.daily_revenue": {
                "resource_type": "model",
                "name": "daily_revenue",
                "schema": "gold",
                "description": "Revenue per UTC day and currency.",
                "depends_on": {"nodes": [silver]},
                "columns": {},
                "raw_code": "select completed_date, sum(amount) from {{ ref('silver_checkout_completed') }}",
            },
        },
    }
    target = data_dir / "dbt-target"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps(manifest))


def _write_gold_tables(data_dir) -> None:
    """The two Gold metric tables in the DuckDB file, with the columns dbt's Gold models build."""
    import duckdb

    with duckdb.connect(str(data_dir / "meshgate.duckdb")) as conn:
        conn.execute("create schema gold")
        conn.execute(
            "create table gold.daily_active_users as select date '2026-11-01' + i::int as activity_date,"
            " 120 + (i * 37) % 45 as active_users from range(30) t(i)"
        )
        conn.execute(
            "create table gold.daily_revenue as select date '2026-11-01' + i::int as revenue_date,"
            " c.currency, 40 as orders, 900.0 + (i * 53) % 300 as revenue"
            " from range(30) t(i), (values ('EUR'), ('USD')) c(currency)"
        )


@pytest.fixture
def sign_in(console_site):
    """An HTTP client signed in to the console with the named token (or none: not signed in)."""
    clients = []

    def signed_in(name: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=console_site.url, timeout=30)
        clients.append(client)
        if name is not None:
            response = client.post("/ui/login", data={"token": console_site.tokens[name], "next": "/ui/"})
            assert response.status_code == 303, response.text
        return client

    yield signed_in
    for client in clients:
        client.close()
