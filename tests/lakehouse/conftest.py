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
