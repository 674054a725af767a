"""Open the Iceberg SQL catalog: SQLite under the data directory by default, PostgreSQL by URL.

The warehouse is a local folder by default or any location pyiceberg's FileIO reaches (``s3://`` with
``s3.endpoint``, ``s3.access-key-id``, ``s3.secret-access-key``, ``s3.region`` in ``storage_options``).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from pyiceberg.catalog.sql import SqlCatalog

from lakehouse.naming import BRONZE, QUARANTINE

CATALOG_NAME = "meshgate"


def catalog_uri(data_dir: str | Path = ".meshgate", catalog_url: str | None = None) -> str:
    """The SQLAlchemy URL of the catalog database (also home of the ingestion log)."""
    if catalog_url:
        return catalog_url
    return f"sqlite:///{(Path(data_dir) / 'catalog.db').resolve()}"


def open_catalog(
    data_dir: str | Path = ".meshgate",
    catalog_url: str | None = None,
    warehouse: str | None = None,
    storage_options: dict | None = None,
) -> SqlCatalog:
    """The catalog, with the ``bronze`` and ``quarantine`` namespaces present."""
    data_dir = Path(data_dir)
    if not catalog_url:
        data_dir.mkdir(parents=True, exist_ok=True)
    if not warehouse:
        warehouse_dir = (data_dir / "warehouse").resolve()
        warehouse_dir.mkdir(parents=True, exist_ok=True)
        warehouse = warehouse_dir.as_uri()
    properties = {"uri": catalog_uri(data_dir, catalog_url), "warehouse": warehouse}
    properties.update({key: str(value) for key, value in (storage_options or {}).items()})
    catalog = SqlCatalog(CATALOG_NAME, **properties)
    for namespace in (BRONZE, QUARANTINE):
        try:
            catalog.create_namespace_if_not_exists(namespace)
        except sqlalchemy.exc.IntegrityError:  # another gate process created it between check and insert
            if not catalog.namespace_exists(namespace):
                raise
    return catalog
