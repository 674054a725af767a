"""Fixtures shared by every test package.

PostgreSQL: tests that need it take ``postgres_url``; each gets a database of its own, dropped after.
When the server is unreachable those tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
POSTGRES_ADMIN_URL = os.environ.get(
    "MESHGATE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any driver or network failure means "unreachable"
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {exc.__class__.__name__}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty PostgreSQL database, dropped after.

    Skips when PostgreSQL is unreachable, except under ``CI=true``, where it fails.
    """
    import sqlalchemy

    reason = _postgres_reachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    name = f"meshgate_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = sqlalchemy.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for the test (see ``postgres_database``)."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
