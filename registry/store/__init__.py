"""The registry store: SQLAlchemy models, migrations, transactions and every query (SQLite and PostgreSQL)."""

from registry.store.access import PENDING_AUDIT, PendingAudit
from registry.store.events import NOTIFY_CHANNEL
from registry.store.models import GLOBAL
from registry.store.store import Store, sqlite_url
from registry.store.subjects import StoredVersion

__all__ = [
    "GLOBAL",
    "NOTIFY_CHANNEL",
    "PENDING_AUDIT",
    "PendingAudit",
    "Store",
    "StoredVersion",
    "sqlite_url",
]
