"""Fixtures of the lakehouse tests (shared by the decoding and the gate engineers; append only)."""

from __future__ import annotations

import pytest

# --- gate engineer's fixtures: Iceberg catalogs -------------------------------------------------


@pytest.fixture
def sqlite_catalog(tmp_path):
    """A fresh SQLite-backed Iceberg SQL catalog with a local warehouse under tmp_path."""
    from lakehouse.catalog import open_catalog

    catalog = open_catalog(tmp_path / "data")
    yield catalog
    catalog.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def iceberg_catalog(request, tmp_path):
    """The same tests on a SQLite catalog and on a PostgreSQL catalog (fresh database each)."""
    from lakehouse.catalog import open_catalog

    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    catalog = open_catalog(tmp_path / "data", catalog_url=url)
    yield catalog
    catalog.engine.dispose()


# --- decoding engineer's fixtures: sample batches from examples/generate.py ---------------------


def _load_generate():
    """examples/generate.py as a module (examples/ is not a package)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "generate.py"
    if "meshgate_examples_generate" not in sys.modules:
        spec = importlib.util.spec_from_file_location("meshgate_examples_generate", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["meshgate_examples_generate"]


@pytest.fixture(scope="session")
def generate():
    """The sample-data generator: ``generate.write(kind, path, rows, fmt=..., bad=...)`` and friends."""
    return _load_generate()


@pytest.fixture(scope="session")
def checkout_contract(generate):
    """checkout.CheckoutCompleted (Avro; PII: email; rules: not_null, unique, min, accepted_values, regex)."""
    return generate.contract("checkout")


@pytest.fixture(scope="session")
def signup_contract(generate):
    """identity.UserSignedUp (Protobuf proto3; PII: email; rules: not_null, regex)."""
    return generate.contract("signup")


def moto_options(host: str, port: int) -> dict[str, str]:
    """pyiceberg's storage options for moto's S3 server at host:port."""
    return {
        "s3.endpoint": f"http://{host}:{port}",
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }


@pytest.fixture
def s3_server():
    """moto's S3 server on loopback (a real HTTP S3 endpoint: no object store is reachable here) with the
    buckets ``landing`` and ``lake``; yields (pyiceberg-style storage options, boto3 client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = moto_options(host, port)
    client = boto3.client(
        "s3",
        endpoint_url=options["s3.endpoint"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for bucket in ("landing", "lake"):
        client.create_bucket(Bucket=bucket)
    try:
        yield options, client
    finally:
        server.stop()
