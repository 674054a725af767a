"""The registry store: SQLAlchemy models, migrations, transactions and every query (SQLite and PostgreSQL)."""

from registry.store.models import GLOBAL
from registry.store.store import NOTIFY_CHANNEL, Store, StoredVersion, sqlite_url

__all__ = ["GLOBAL", "NOTIFY_CHANNEL", "Store", "StoredVersion", "sqlite_url"]
