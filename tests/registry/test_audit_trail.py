"""The audit trail of a scripted session, compared row by row with what was done.

Four identities (admin, a producer, a consumer, a producer of another domain) and a caller without a
valid token make allowed and refused calls over gRPC and REST. Every write and every refusal is one
row naming the token (id, name, role), the call, the subject and the outcome: none missing, none
misattributed. A write's row commits in the write's own transaction. Allowed reads (a Watch stream's
once, at its opening) are rows too, queued and written in batches off the read's path: dropped and
counted, never blocking, when the queue is full or the store is down; a stopping server drains them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

import grpc
import httpx
import pytest
import sqlalchemy

from registry.client import RegistryClient
from registry.errors import MeshgateError, Unavailable
from tests.registry.registry_harness import V1, V2, running_server

SUBJECT = "checkout.Order"


@pytest.fixture
def secured(tmp_path):
    path = tmp_path / "registry.db"
    with running_server(f"sqlite:///{path}", auth=True) as server:
        tokens = server.tokens
        ids, secrets = {}, {}
        for who, name, role, domains in [
            ("admin", "root", "admin", ()),
            ("producer", "checkout-ci", "producer", ("checkout",)),
            ("consumer", "billing-reader", "consumer", ("billing",)),
            ("other", "billing-ci", "producer", ("billing",)),
        ]:
            token, secrets[who] = tokens.create(name, role, domains)
            ids[who] = (token.id, name, role)
        yield server, path, ids, secrets


def _dropped(server) -> float:
    """``meshgate_audit_reads_dropped_total`` on the server's /metrics."""
    for line in httpx.get(f"{server.http_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("meshgate_audit_reads_dropped_total "):
            return float(line.split()[1])
    raise AssertionError("no meshgate_audit_reads_dropped_total in /metrics")


def _audit_rows(path, action=None) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        query = "SELECT token_id, token_name, role, action, target, outcome FROM audit_log"
        if action is None:
            return connection.execute(f"{query} ORDER BY id").fetchall()
        return connection.execute(f"{query} WHERE action = ? ORDER BY id", (action,)).fetchall()


def _grpc(server, secret, call):
    with RegistryClient(server.grpc_target, secret) as client:
        try:
            call(client)
            return "ok"
        except MeshgateError as exc:
            return type(exc).__name__


def _grpc_raw(server, secret, method, payload: bytes) -> str:
    """A request's raw bytes (that no client would send), with the token: the status code's name."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(f"/meshgate.registry.v1.ContractRegistry/{method}")
        try:
            call(payload, metadata=(("authorization", f"Bearer {secret}"),), timeout=10)
            return "OK"
        except grpc.RpcError as exc:
            return exc.code().name


def _grpc_stream_raw(server, secret, method, payload: bytes) -> str:
    """A streaming call's raw request bytes, with the token: the status code's name."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_stream(f"/meshgate.registry.v1.ContractRegistry/{method}")
        try:
            list(call(payload, metadata=(("authorization", f"Bearer {secret}"),), timeout=10))
            return "OK"
        except grpc.RpcError as exc:
            return exc.code().name


def _rest(server, secret, method, path, body=None) -> int:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.request(
        method, f"{server.http_url}{path}", json=body, headers=headers, timeout=30
    ).status_code


def test_a_scripted_session_is_audited_row_by_row_with_no_row_missing_or_misattributed(secured):
    server, _, ids, secrets = secured
    unauthenticated = (None, "(unauthenticated)", "")
    expected = []  # (token id, token name, role, action, target, outcome), oldest first

    def did(who, action, target, outcome):
        expected.append((*(ids[who] if who else unauthenticated), action, target, outcome))

    def read(who, action, target, outcome="ok"):
        did(who, action, target, outcome)
        server.tokens.reads.flush()  # reads' rows come in batches: keep the trail in call order

    # gRPC
    assert _grpc(server, secrets["producer"], lambda c: c.register(SUBJECT, V1)) == "ok"
    did("producer", "Register", SUBJECT, "ok")
    assert _grpc(server, secrets["consumer"], lambda c: c.register(SUBJECT, V2)) == "PermissionDenied"
    did("consumer", "Register", SUBJECT, "PermissionDenied")
    assert _grpc(server, secrets["other"], lambda c: c.set_config(SUBJECT, "NONE")) == "PermissionDenied"
    did("other", "SetConfig", SUBJECT, "PermissionDenied")
    assert (
        _grpc(server, secrets["consumer"], lambda c: c.register_consumer("billing", SUBJECT, version=1))
        == "ok"
    )
    did("consumer", "RegisterConsumer", f"{SUBJECT} consumer billing", "ok")
    assert _grpc(server, secrets["producer"], lambda c: c.get_version(SUBJECT, 1)) == "ok"
    read("producer", "GetSchemaByVersion", SUBJECT)
    assert _grpc(server, secrets["other"], lambda c: c.get_version(SUBJECT, 42)) == "VersionNotFound"
    read("other", "GetSchemaByVersion", SUBJECT, "VersionNotFound")
    assert _grpc(server, secrets["consumer"], lambda c: c.list_subjects()) == "ok"
    read("consumer", "ListSubjects", "(global)")
    with RegistryClient(server.grpc_target, secrets["consumer"]) as consumer:
        stream = consumer.watch(after_sequence=0, reconnect=False)
        assert [next(iter(stream)) for _ in range(2)]  # two events, one audit row: the opening
        stream.close()
    read("consumer", "Watch", "(global)")
    assert _grpc(server, secrets["producer"], lambda c: c.delete_version(SUBJECT, 99)) == "VersionNotFound"
    did("producer", "DeleteVersion", SUBJECT, "VersionNotFound")
    assert _grpc(server, secrets["admin"], lambda c: c.create_token("ci", "consumer", ["ci"])) == "ok"
    did("admin", "CreateToken", "token ci", "ok")
    assert _grpc(server, secrets["consumer"], lambda c: c.audit(1)) == "PermissionDenied"
    did("consumer", "ListAudit", "(global)", "PermissionDenied")
    assert _grpc(server, "mgt_not-a-token", lambda c: c.list_subjects()) == "Unauthenticated"
    did(None, "ListSubjects", "(global)", "Unauthenticated")
    # refused at the edge, before authorization: still audited as the caller
    assert _grpc(server, secrets["other"], lambda c: c.register("bad name", V1)) == "MalformedText"
    did("other", "Register", "bad name", "MalformedText")
    assert _grpc_raw(server, secrets["consumer"], "Register", b"\x0a\x07probe.\xff") == "INVALID_ARGUMENT"
    did("consumer", "Register", "(malformed request)", "MalformedText")
    assert _grpc_raw(server, "mgt_not-a-token", "SetConfig", b"\x0a\x01\xff") == "INVALID_ARGUMENT"
    did(None, "SetConfig", "(malformed request)", "MalformedText")
    # reads refused at the edge: audited too (queued like an allowed read's row when the token is valid)
    assert _grpc(server, secrets["producer"], lambda c: c.get_version("bad name", 1)) == "MalformedText"
    read("producer", "GetSchemaByVersion", "bad name", "MalformedText")
    assert _grpc_raw(server, secrets["consumer"], "GetSchemaByVersion", b"\x0a\x01\xff") == "INVALID_ARGUMENT"
    read("consumer", "GetSchemaByVersion", "(malformed request)", "MalformedText")
    assert _grpc_raw(server, secrets["admin"], "ListTokens", b"\xff\xff") == "INVALID_ARGUMENT"
    read("admin", "ListTokens", "(malformed request)", "MalformedText")
    assert _grpc_raw(server, "mgt_not-a-token", "ListSubjects", b"\x0a\x01\xff") == "INVALID_ARGUMENT"
    did(None, "ListSubjects", "(malformed request)", "MalformedText")
    assert _grpc_stream_raw(server, secrets["consumer"], "Watch", b"\x0a\x01\xff") == "INVALID_ARGUMENT"
    read("consumer", "Watch", "(malformed request)", "MalformedText")
    with grpc.insecure_channel(server.grpc_target) as channel:  # health checking is open: no row
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        with pytest.raises(grpc.RpcError):
            check(b"\x0a\x01\xff", timeout=10)
    # REST
    versions = f"/subjects/{SUBJECT}/versions"
    assert _rest(server, secrets["producer"], "POST", versions, {"schema": V2}) == 200
    did("producer", "POST /subjects/{subject}/versions", SUBJECT, "ok")
    assert _rest(server, secrets["consumer"], "POST", versions, {"schema": V2}) == 403
    did("consumer", "POST /subjects/{subject}/versions", SUBJECT, "PermissionDenied")
    assert _rest(server, secrets["other"], "PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}) == 403
    did("other", "PUT /config/{subject}", SUBJECT, "PermissionDenied")
    assert _rest(server, secrets["admin"], "PUT", "/config", {"compatibility": "FULL"}) == 200
    did("admin", "PUT /config", "(global)", "ok")
    assert _rest(server, secrets["producer"], "GET", "/subjects") == 200
    read("producer", "GET /subjects", "(global)")
    assert _rest(server, secrets["other"], "GET", f"{versions}/1") == 200
    read("other", "GET /subjects/{subject}/versions/{version}", SUBJECT)
    assert _rest(server, secrets["consumer"], "GET", "/schemas/ids/999") == 404
    read("consumer", "GET /schemas/ids/{schema_id}", "(global)", "SchemaNotFound")
    assert _rest(server, secrets["admin"], "GET", "/subjects/bad%20name/versions") == 422
    read("admin", "GET /subjects/{subject}/versions", "path /subjects/bad%20name/versions", "MalformedText")
    assert _rest(server, secrets["consumer"], "GET", "/subjects/bad.%FF/versions/1") == 422
    read(
        "consumer",
        "GET /subjects/{subject}/versions/{version}",
        "path /subjects/bad.%FF/versions/1",
        "MalformedText",
    )
    assert _rest(server, "mgt_not-a-token", "GET", "/subjects/bad%20name/versions") == 401
    did(None, "GET /subjects/{subject}/versions", "path /subjects/bad%20name/versions", "Unauthenticated")
    assert httpx.get(f"{server.http_url}/healthz", timeout=10).status_code == 200  # open: no row
    assert httpx.get(f"{server.http_url}/metrics", timeout=10).status_code == 200  # open: no row
    assert _rest(server, secrets["producer"], "DELETE", f"{versions}/99") == 404
    did("producer", "DELETE /subjects/{subject}/versions/{version}", SUBJECT, "VersionNotFound")
    assert _rest(server, None, "GET", "/subjects") == 401
    did(None, "GET /subjects", "(global)", "Unauthenticated")
    assert _rest(server, secrets["producer"], "POST", "/subjects/bad.%FF/versions", {"schema": V1}) == 422
    did("producer", "POST /subjects/{subject}/versions", "path /subjects/bad.%FF/versions", "MalformedText")
    assert _rest(server, secrets["admin"], "PUT", "/config/bad%20name", {"compatibility": "NONE"}) == 422
    did("admin", "PUT /config/{subject}", "path /config/bad%20name", "MalformedText")

    with RegistryClient(server.grpc_target, secrets["admin"]) as admin:
        rows = [
            (e.token_id, e.token_name, e.role, e.action, e.target, e.outcome)
            for e in reversed(admin.audit(100))
        ]
    missing = [row for row in expected if row not in rows]
    unexplained = [row for row in rows if row not in expected]
    print(
        f"\naudit trail: {len(rows)} rows for {len(expected)} audited calls, {len(missing)} missing, "
        f"{len(unexplained)} misattributed"
    )
    assert rows == expected


def test_a_write_and_its_audit_row_commit_together(secured):
    """With the audit table gone, a write cannot record itself, so the change does not commit either."""
    server, path, _, secrets = secured
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    try:
        with RegistryClient(server.grpc_target, secrets["producer"]) as producer:
            with pytest.raises(Unavailable):
                producer.register(SUBJECT, V1)
        versions = f"/subjects/{SUBJECT}/versions"
        assert _rest(server, secrets["producer"], "POST", versions, {"schema": V1}) == 503
        assert _rest(server, secrets["admin"], "PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}) == 503
        with sqlite3.connect(path) as connection:
            assert connection.execute("SELECT count(*) FROM configs").fetchone() == (0,)
            assert connection.execute("SELECT count(*) FROM subject_versions").fetchone() == (0,)
    finally:
        with sqlite3.connect(path) as connection:
            connection.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    with RegistryClient(server.grpc_target, secrets["producer"]) as producer:
        assert producer.register(SUBJECT, V1).version == 1
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT token_name, action, outcome FROM audit_log").fetchall()
    assert ("checkout-ci", "Register", "ok") in rows


@contextlib.contextmanager
def _serving(tmp_path, **read_audit_options):
    """A server with auth on, its store's path, and a consumer's secret."""
    path = tmp_path / "registry.db"
    with running_server(f"sqlite:///{path}", auth=True, read_audit_options=read_audit_options) as server:
        _, secret = server.tokens.create("billing-reader", "consumer", ["billing"])
        yield server, path, secret


def _reads(server, secret, count: int) -> None:
    """``count`` allowed reads, half over REST, half over gRPC."""
    with httpx.Client(headers={"Authorization": f"Bearer {secret}"}, timeout=30) as http:
        for _ in range(count // 2):
            assert http.get(f"{server.http_url}/subjects").status_code == 200
    with RegistryClient(server.grpc_target, secret) as client:
        for _ in range(count - count // 2):
            assert client.list_subjects() == []


def test_read_rows_are_written_in_batches_by_the_background_writer(tmp_path):
    reads = 400
    with _serving(tmp_path, interval=1.0, batch=100) as (server, path, secret):
        inserts = []  # one per executemany INSERT, one transaction each

        def count(_connection, _cursor, statement, _parameters, _context, _executemany):
            if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
                inserts.append(len(_parameters) if _executemany else 1)  # rows in the statement

        sqlalchemy.event.listen(server.tokens.store.engine, "before_cursor_execute", count)
        _reads(server, secret, reads)
        deadline = time.monotonic() + 30
        while len(_audit_rows(path)) < reads and time.monotonic() < deadline:  # no flush: the thread's
            time.sleep(0.05)
        rows = _audit_rows(path)
    print(f"\n{reads} reads: {len(rows)} audit rows in {len(inserts)} INSERT statements")
    assert len(rows) == reads
    assert {row[3] for row in rows} == {"GET /subjects", "ListSubjects"}
    assert sum(inserts) == reads and max(inserts) <= 100
    assert len(inserts) <= reads // 10  # while reads come faster than 10 a second


def test_a_stopping_server_writes_the_read_rows_still_queued(tmp_path):
    with _serving(tmp_path, interval=3600) as (server, path, secret):  # the thread never wakes
        _reads(server, secret, 40)
        assert _audit_rows(path) == []
    rows = _audit_rows(path)
    assert len(rows) == 40
    assert {row[1] for row in rows} == {"billing-reader"}


def test_a_full_queue_drops_and_counts_read_rows_and_never_blocks_the_read(tmp_path):
    with _serving(tmp_path, capacity=5, interval=3600) as (server, path, secret):
        _reads(server, secret, 20)  # every read answered (asserted in _reads)
        assert _dropped(server) == 15
    assert len(_audit_rows(path)) == 5  # the queued ones, drained at stop


def test_read_rows_the_store_cannot_take_are_dropped_and_counted_and_the_reads_succeed(tmp_path):
    with _serving(tmp_path, interval=3600) as (server, path, secret):
        with sqlite3.connect(path) as connection:
            connection.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
        try:
            _reads(server, secret, 10)
            server.tokens.reads.flush()
            assert _dropped(server) == 10
        finally:
            with sqlite3.connect(path) as connection:
                connection.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
        _reads(server, secret, 4)
        server.tokens.reads.flush()
        assert len(_audit_rows(path)) == 4
        assert _dropped(server) == 10


def test_with_auth_off_reads_are_not_audited(tmp_path):
    path = tmp_path / "registry.db"
    with running_server(f"sqlite:///{path}") as server:
        assert server.tokens.reads is None
        assert httpx.get(f"{server.http_url}/subjects", timeout=10).status_code == 200
        with RegistryClient(server.grpc_target) as client:
            assert client.list_subjects() == []
        # nor reads refused at the edge (a malformed REST path, a gRPC message that does not decode)
        assert httpx.get(f"{server.http_url}/subjects/bad.%FF/versions", timeout=10).status_code == 422
        assert _grpc_raw(server, "", "GetSchemaByVersion", b"\x0a\x01\xff") == "INVALID_ARGUMENT"
    assert _audit_rows(path) == []
