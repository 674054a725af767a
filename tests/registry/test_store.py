"""The store: migrations, one transaction per write, caches that stay correct across replicas."""

from __future__ import annotations

import pytest
import sqlalchemy

from registry.errors import IncompatibleSchema, Unavailable
from registry.service import RegistryService
from registry.store import Store, sqlite_url
from tests.conftest import free_port
from tests.registry.registry_harness import BACKENDS, BREAKING, V1, V2, database_url, unique_subject


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        yield url


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_migrations_create_the_tables_and_are_idempotent(url):
    Store(url).close()
    store = Store(url)  # a second start finds the schema at head and changes nothing
    tables = set(sqlalchemy.inspect(store.engine).get_table_names())
    assert {
        "schemas",
        "subjects",
        "subject_versions",
        "schema_references",
        "configs",
        "modes",
        "consumers",
        "events",
        "event_counter",
        "api_tokens",
        "audit_log",
    } <= tables
    with store.engine.connect() as connection:
        assert (
            connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar_one()
            == "0005"
        )
    store.close()


def test_sqlite_default_lives_in_the_data_dir(tmp_path):
    store = Store(sqlite_url(tmp_path / "data"))
    assert (tmp_path / "data" / "registry.db").exists()
    store.close()


def test_a_rejected_write_leaves_nothing_behind(url):
    store = Store(url)
    service = RegistryService(store)
    subject = unique_subject()
    service.register(subject, V1)
    before = {table: _count(store, table) for table in ("schemas", "subject_versions", "subjects")}
    with pytest.raises(IncompatibleSchema):
        service.register(subject, BREAKING)
    assert {table: _count(store, table) for table in before} == before
    store.close()


def test_latest_stays_correct_when_another_replica_writes(url):
    replica_a, replica_b = RegistryService(Store(url)), RegistryService(Store(url))
    subject = unique_subject()
    replica_a.register(subject, V1)
    assert replica_a.get_version(subject).version == 1  # now cached in replica A
    replica_b.register(subject, V2)
    assert replica_a.get_version(subject).version == 2
    replica_b.delete_version(subject, 2)
    assert replica_a.get_version(subject).version == 1
    replica_a.store.close()
    replica_b.store.close()


def test_unreachable_database_is_unavailable_naming_it_without_password():
    url = f"postgresql+psycopg://meshgate:hunter2@127.0.0.1:{free_port()}/registry"
    with pytest.raises(Unavailable) as unavailable:
        Store(url)
    assert "127.0.0.1" in unavailable.value.message and "hunter2" not in unavailable.value.message


@pytest.mark.timeout(60)
def test_change_counter_reads_from_many_short_lived_threads_hold_no_connection(url):
    """Found by the stateful fuzz test: each thread once kept a pooled connection for subject_seq
    forever, so worker-thread churn (REST's thread pool, gRPC's executor) exhausted the pool and every
    read then failed after 30 s. Reads from 40 threads that come and go leave the pool free."""
    import threading

    store = Store(url, pool_size=2)
    try:
        for _ in range(40):
            worker = threading.Thread(target=store.subject_seq, args=("nobody.Here",))
            worker.start()
            worker.join(10)
            assert not worker.is_alive()
        with store.read() as session:
            assert session.execute(sqlalchemy.select(1)).scalar_one() == 1
    finally:
        store.close()


def _upgrade_to(store: Store, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from registry.store.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def test_migration_0005_backfills_the_audit_role_as_it_was_derived_at_read_time(url):
    from datetime import UTC, datetime

    from registry.auth import ANONYMOUS

    store = Store(url, create=False)
    _upgrade_to(store, "0004")
    now = datetime.now(UTC)
    tokens = [("ci", "producer"), ("ops", "admin")]
    callers = [(1, "ci"), (2, "ops"), (99, "since gone"), (None, ANONYMOUS.name), (None, "(unauthenticated)")]
    with store.engine.begin() as connection:
        for number, (name, role) in enumerate(tokens, 1):
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO api_tokens (id, name, token_hash, role, domains, created_at, created_by) "
                    "VALUES (:id, :name, :hash, :role, '[]', :at, 'test')"
                ),
                {"id": number, "name": name, "hash": f"h{number}", "role": role, "at": now},
            )
        for token_id, name in callers:
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO audit_log (time, token_id, token_name, action, target, peer, outcome) "
                    "VALUES (:at, :token_id, :name, 'Register', 's', 'p', 'ok')"
                ),
                {"at": now, "token_id": token_id, "name": name},
            )

    store.migrate()

    with store.engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("SELECT role FROM audit_log ORDER BY id")).scalars().all()
    assert stored == ["producer", "admin", "", "admin", ""]
    with store.read() as session:
        assert [e.role for e in reversed(store.audit_entries(session, 10))] == stored
    store.close()


def test_an_audit_row_keeps_the_role_its_caller_had_when_it_was_written(url):
    from registry.auth import ANONYMOUS, Tokens

    store = Store(url)
    auth = Tokens(store)
    _, secret = auth.create("ci", "producer", ("orders",), created_by="test")
    caller = auth.authenticate(secret)
    auth.record(caller, "Register", "orders.Placed", "peer", "refused")
    auth.record(None, "Register", "orders.Placed", "peer", "unauthenticated")
    auth.record(ANONYMOUS, "Register", "orders.Placed", "peer", "ok")
    with store.engine.begin() as connection:  # no API changes a role: the row must not follow the token
        connection.execute(sqlalchemy.text("UPDATE api_tokens SET role = 'admin'"))

    with store.engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("SELECT role FROM audit_log ORDER BY id")).scalars().all()
    assert stored == ["producer", "", "admin"]
    assert [(e.token_name, e.role) for e in reversed(auth.audit())] == [
        ("ci", "producer"),
        ("(unauthenticated)", ""),
        (ANONYMOUS.name, "admin"),
    ]
    store.close()


def test_replicas_starting_together_on_one_postgresql_migrate_once_and_the_others_wait(postgres_url):
    """Four real processes open the store at once: one applies the migrations under the advisory lock,
    the others wait for it, then find the schema at head (no "relation already exists")."""
    import subprocess
    import sys

    code = "import sys; from registry.store import Store; Store(sys.argv[1]).close()"
    starts = [subprocess.Popen([sys.executable, "-c", code, postgres_url], stderr=subprocess.PIPE, text=True)
              for _ in range(4)]  # fmt: skip
    errors = [start.communicate(timeout=120)[1] for start in starts]

    assert [start.returncode for start in starts] == [0, 0, 0, 0], errors
    store = Store(postgres_url, create=False)
    with store.engine.connect() as connection:
        versions = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalars()
        assert list(versions) == ["0005"]
    store.close()
