"""Fixtures of the meshgate (composition root) tests."""

import json
from types import SimpleNamespace

import httpx
import pytest

from meshgate.demo import load_generator


@pytest.fixture(scope="session")
def generate():
    """examples/generate.py as a module (examples/ is not an installed package)."""
    return load_generator()


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
