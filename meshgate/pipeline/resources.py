"""Where the pipeline reads and writes: the lakehouse, the landing folder, the contracts, the registry.

One resource, configured from the same environment variables as the ``meshgate`` CLI and the dbt
profile, so the Dagster daemon, ``meshgate transform`` and dbt all point at the same data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import ConfigurableResource
from pyiceberg.catalog.sql import SqlCatalog

from lakehouse import ResolvedContract, resolve_contract, unregistered
from lakehouse.catalog import open_catalog
from lakehouse.naming import table_name
from registry.client import TlsConfig
from registry.contract import Contract

EXAMPLE_CONTRACTS = Path(__file__).resolve().parents[2] / "examples" / "contracts"

# Environment variables the code location reads (docker-compose.yml sets them; tests check the file).
ENV_DATA_DIR = "MESHGATE_DATA_DIR"
ENV_CATALOG_URL = "MESHGATE_CATALOG_URL"
ENV_WAREHOUSE = "MESHGATE_WAREHOUSE"
ENV_LANDING_DIR = "MESHGATE_LANDING_DIR"
ENV_CONTRACTS_DIR = "MESHGATE_CONTRACTS_DIR"
ENV_REGISTRY = "MESHGATE_REGISTRY"
ENV_TOKEN = "MESHGATE_TOKEN"
ENV_CA_CERT = "MESHGATE_CA_CERT"
ENV_CLIENT_CERT = "MESHGATE_CLIENT_CERT"
ENV_CLIENT_KEY = "MESHGATE_CLIENT_KEY"
ENV_S3_ENDPOINT = "MESHGATE_S3_ENDPOINT"
ENV_S3_REGION = "AWS_REGION"
ENV_S3_ACCESS_KEY = "AWS_ACCESS_KEY_ID"
ENV_S3_SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
PIPELINE_ENV = (
    ENV_DATA_DIR,
    ENV_CATALOG_URL,
    ENV_WAREHOUSE,
    ENV_LANDING_DIR,
    ENV_CONTRACTS_DIR,
    ENV_REGISTRY,
    ENV_TOKEN,
    ENV_CA_CERT,
    ENV_CLIENT_CERT,
    ENV_CLIENT_KEY,
    ENV_S3_ENDPOINT,
    ENV_S3_REGION,
    ENV_S3_ACCESS_KEY,
    ENV_S3_SECRET_KEY,
)


class LakehouseResource(ConfigurableResource):
    """The lakehouse (catalog + warehouse), its landing folder and where contracts come from.

    ``registry`` empty: contracts are read from ``contracts_dir`` (schema id 0, "not registered"),
    so the pipeline runs without a registry (tests, a laptop); set it in a deployment. ``ca_cert``
    (and ``client_cert``/``client_key`` for mutual TLS): talk TLS to it, as the CLI's ``--ca-cert``.
    """

    data_dir: str = ".meshgate"
    catalog_url: str = ""
    warehouse: str = ""
    landing_dir: str = ""  # default <data_dir>/landing
    contracts_dir: str = str(EXAMPLE_CONTRACTS)
    registry: str = ""
    token: str = ""
    ca_cert: str = ""
    client_cert: str = ""
    client_key: str = ""
    s3_endpoint: str = ""
    s3_region: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LakehouseResource:
        """The resource as the environment configures it (unset variables keep the defaults)."""
        env = os.environ if environ is None else environ
        fields = {
            "data_dir": ENV_DATA_DIR,
            "catalog_url": ENV_CATALOG_URL,
            "warehouse": ENV_WAREHOUSE,
            "landing_dir": ENV_LANDING_DIR,
            "contracts_dir": ENV_CONTRACTS_DIR,
            "registry": ENV_REGISTRY,
            "token": ENV_TOKEN,
            "ca_cert": ENV_CA_CERT,
            "client_cert": ENV_CLIENT_CERT,
            "client_key": ENV_CLIENT_KEY,
            "s3_endpoint": ENV_S3_ENDPOINT,
            "s3_region": ENV_S3_REGION,
            "s3_access_key": ENV_S3_ACCESS_KEY,
            "s3_secret_key": ENV_S3_SECRET_KEY,
        }
        return cls(**{name: env[var] for name, var in fields.items() if env.get(var)})

    def storage_options(self) -> dict[str, str]:
        """pyiceberg FileIO properties for an S3-compatible warehouse (MinIO in docker-compose)."""
        options = {
            "s3.endpoint": self.s3_endpoint,
            "s3.region": self.s3_region,
            "s3.access-key-id": self.s3_access_key,
            "s3.secret-access-key": self.s3_secret_key,
        }
        return {key: value for key, value in options.items() if value}

    def catalog(self) -> SqlCatalog:
        return open_catalog(
            self.data_dir, self.catalog_url or None, self.warehouse or None, self.storage_options()
        )

    def landing_folder(self, subject: str) -> Path:
        """Landing files of a subject: ``<landing_dir>/<table name>/`` (one file = one batch)."""
        root = Path(self.landing_dir) if self.landing_dir else Path(self.data_dir) / "landing"
        return root / table_name(subject)

    def contract(self, file_contract: Contract) -> ResolvedContract:
        """The latest registered version of the subject, or the file's contract without a registry.

        Either way with the schema texts of its references (from the registry, or from the contract
        YAMLs beside the file).
        """
        if not self.registry:
            return unregistered(file_contract)
        return resolve_contract(
            file_contract.subject, registry=self.registry, token=self.token or None, tls=self.registry_tls()
        )

    def registry_tls(self) -> TlsConfig:
        """How to talk TLS to the registry (plaintext when no certificate is set)."""
        return TlsConfig(self.ca_cert or None, self.client_cert or None, self.client_key or None)

    def dbt_environment(self) -> dict[str, str]:
        """What the dbt profile (dbt/profiles.yml) reads to find the same lakehouse."""
        return {
            ENV_DATA_DIR: str(Path(self.data_dir).resolve()),
            ENV_CATALOG_URL: self.catalog_url,
            ENV_WAREHOUSE: self.warehouse,
            "MESHGATE_STORAGE_OPTIONS": json.dumps(self.storage_options()),  # DuckDB's S3 secret
        }
