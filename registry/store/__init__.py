"""The registry store: SQLAlchemy models, migrations and transactions (SQLite and PostgreSQL)."""

from registry.store.store import Store, sqlite_url

__all__ = ["Store", "sqlite_url"]
