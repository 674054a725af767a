"""The access matrix: every call × every kind of caller, through one real server with auth on.

A call counts as allowed when it gets past authentication and authorisation (it may still fail for
its own reasons, e.g. NOT_FOUND for a missing version); refused means Unauthenticated (no, bad,
expired or revoked token: gRPC UNAUTHENTICATED / HTTP 401) or PermissionDenied (a valid token
without the right: PERMISSION_DENIED / 403).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy

from registry.client import RegistryClient
from registry.errors import (
    ConsumerNotFound,
    MeshgateError,
    PermissionDenied,
    SchemaNotFound,
    SubjectModeNotFound,
    SubjectNotFound,
    TokenNotFound,
    Unauthenticated,
    VersionNotFound,
)
from registry.store.models import ApiTokenRow
from tests.registry.registry_harness import V1, running_server

SUBJECT = "checkout.Order"

# What each call needs: open, read, write (of checkout), global (admin), consumer (named billing…),
# admin. Written down here, apart from the server's own table, so the test checks the rules.
GRPC_CALLS = {
    "Register": ("write", lambda c: c.register(SUBJECT, V1)),
    "CheckCompatibility": ("read", lambda c: c.check(SUBJECT, V1)),
    "LookupSchema": ("read", lambda c: c.lookup(SUBJECT, V1)),
    "GetSchemaById": ("read", lambda c: c.get_by_id(1)),
    "GetSchemaByVersion": ("read", lambda c: c.get_version(SUBJECT, 1)),
    "GetSchemaByGuid": ("read", lambda c: c.get_by_guid("00000000-0000-0000-0000-000000000000")),
    "ListSchemaVersions": ("read", lambda c: c.versions_for_id(1)),
    "GetReferencedBy": ("read", lambda c: c.referenced_by(SUBJECT, 1)),
    "ListSubjects": ("read", lambda c: c.list_subjects()),
    "ListVersions": ("read", lambda c: c.list_versions(SUBJECT)),
    "DeleteSubject": ("write", lambda c: c.delete_subject("checkout.Missing")),
    "DeleteVersion": ("write", lambda c: c.delete_version(SUBJECT, 99)),
    "GetConfig": ("read", lambda c: c.get_config(SUBJECT)),
    "SetConfig": ("write", lambda c: c.set_config(SUBJECT, "BACKWARD")),
    "SetConfig global": ("global", lambda c: c.set_config(None, "BACKWARD")),
    "DeleteConfig": ("write", lambda c: c.delete_config(SUBJECT)),
    "DeleteConfig global": ("global", lambda c: c.delete_config(None)),
    "GetMode": ("read", lambda c: c.get_mode(SUBJECT)),
    "SetMode": ("write", lambda c: c.set_mode(SUBJECT, "READWRITE")),
    "SetMode global": ("global", lambda c: c.set_mode(None, "READWRITE")),
    "DeleteMode": ("write", lambda c: c.delete_mode(SUBJECT)),
    "RegisterConsumer": ("consumer", lambda c: c.register_consumer("billing", SUBJECT, version=1)),
    "ListConsumers": ("read", lambda c: c.list_consumers(SUBJECT)),
    "RemoveConsumer": ("consumer", lambda c: c.remove_consumer("billing.reports", SUBJECT)),
    "Watch": ("read", lambda c: next(c.watch(reconnect=False)).sequence),
    "CreateToken": ("admin", lambda c: c.create_token("made-in-test", "consumer", ["x"])),
    "ListTokens": ("admin", lambda c: c.list_tokens()),
    "RevokeToken": ("admin", lambda c: c.revoke_token(999_999)),
    "ListAudit": ("admin", lambda c: c.audit(5)),
}

HTTP_CALLS = {
    "GET /healthz": ("open", "GET", "/healthz", None),
    "GET /metrics": ("open", "GET", "/metrics", None),
    "GET /subjects": ("read", "GET", "/subjects", None),
    "GET version": ("read", "GET", f"/subjects/{SUBJECT}/versions/1", None),
    "GET /schemas/ids/1": ("read", "GET", "/schemas/ids/1", None),
    "GET /config": ("read", "GET", "/config", None),
    "POST register": ("write", "POST", f"/subjects/{SUBJECT}/versions", {"schema": V1}),
    "POST lookup": ("read", "POST", f"/subjects/{SUBJECT}", {"schema": V1}),
    "POST compatibility": (
        "read",
        "POST",
        f"/compatibility/subjects/{SUBJECT}/versions/latest",
        {"schema": V1},
    ),
    "DELETE subject": ("write", "DELETE", "/subjects/checkout.Missing", None),
    "DELETE version": ("write", "DELETE", f"/subjects/{SUBJECT}/versions/99", None),
    "PUT config": ("write", "PUT", f"/config/{SUBJECT}", {"compatibility": "BACKWARD"}),
    "PUT global config": ("global", "PUT", "/config", {"compatibility": "BACKWARD"}),
    "PUT mode": ("write", "PUT", f"/mode/{SUBJECT}", {"mode": "READWRITE"}),
    "PUT global mode": ("global", "PUT", "/mode", {"mode": "READWRITE"}),
    "DELETE mode": ("write", "DELETE", f"/mode/{SUBJECT}", None),
    "GET metadata": ("read", "GET", f"/subjects/{SUBJECT}/metadata?key=owner&value=checkout", None),
    "GET referencedby": ("read", "GET", f"/subjects/{SUBJECT}/versions/1/referencedby", None),
    "GET /contexts": ("read", "GET", "/contexts", None),
    "GET guid": ("read", "GET", "/schemas/guids/00000000-0000-0000-0000-000000000000", None),
}

CALLERS = ["none", "bad", "expired", "revoked", "consumer", "other-producer", "producer", "admin"]
UNAUTHENTICATED = {"none", "bad", "expired", "revoked"}


def expected(caller: str, needs: str) -> str:
    """ "allowed", "unauthenticated" or "denied" by the documented rules."""
    if needs == "open":
        return "allowed"
    if caller in UNAUTHENTICATED:
        return "unauthenticated"
    if caller == "admin" or needs == "read":
        return "allowed"
    if needs == "write":
        return "allowed" if caller == "producer" else "denied"
    if needs == "consumer":  # consumer names billing…: the consumer and the billing producer
        return "allowed" if caller in ("consumer", "other-producer") else "denied"
    return "denied"  # global, admin


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'registry.db'}"
    with running_server(url, auth=True) as server:
        tokens = server.tokens
        secrets = {"bad": "mgt_not-a-token", "none": None}
        _, secrets["admin"] = tokens.create("root", "admin")
        _, secrets["producer"] = tokens.create("checkout-ci", "producer", ["checkout"])
        _, secrets["other-producer"] = tokens.create("billing-ci", "producer", ["billing"])
        _, secrets["consumer"] = tokens.create("billing-reader", "consumer", ["billing"])
        revoked, secrets["revoked"] = tokens.create("old", "producer", ["checkout"])
        tokens.revoke(revoked.id)
        expired, secrets["expired"] = tokens.create("temp", "admin", expires_in=timedelta(hours=1))
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as connection:  # an hour later, without waiting an hour
            connection.execute(
                sqlalchemy.update(ApiTokenRow)
                .where(ApiTokenRow.id == expired.id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        engine.dispose()
        with RegistryClient(server.grpc_target, secrets["admin"]) as admin:
            admin.register(SUBJECT, V1)
        yield server, secrets


def _outcome(call) -> tuple[str, str]:
    try:
        call()
    except Unauthenticated as exc:
        return "unauthenticated", exc.message
    except PermissionDenied as exc:
        return "denied", exc.message
    except (
        SubjectNotFound,
        VersionNotFound,
        ConsumerNotFound,
        TokenNotFound,
        SchemaNotFound,
        SubjectModeNotFound,
    ) as exc:
        return "allowed", exc.message  # past the guard; failed on its own terms (nothing to delete)
    except MeshgateError as exc:
        return f"failed: {type(exc).__name__}", exc.message
    return "allowed", ""


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("call", list(GRPC_CALLS))
def test_grpc_access_matrix(secured, call, caller):
    server, secrets = secured
    needs, run = GRPC_CALLS[call]
    with RegistryClient(server.grpc_target, secrets[caller]) as client:
        outcome, message = _outcome(lambda: run(client))
    assert outcome == expected(caller, needs), message


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("call", list(HTTP_CALLS))
def test_http_access_matrix(secured, call, caller):
    server, secrets = secured
    needs, method, path, body = HTTP_CALLS[call]
    headers = {"Authorization": f"Bearer {secrets[caller]}"} if secrets[caller] else {}
    response = httpx.request(method, server.http_url + path, json=body, headers=headers, timeout=10)
    outcome = {401: "unauthenticated", 403: "denied"}.get(response.status_code, "allowed")
    assert outcome == expected(caller, needs), response.text
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "credentials", ["token:{secret}", "anyone:{secret}"], ids=["confluent-user-info", "any-user"]
)
def test_http_basic_auth_takes_the_token_as_password(secured, credentials):
    server, secrets = secured
    basic = base64.b64encode(credentials.format(secret=secrets["producer"]).encode()).decode()
    response = httpx.post(
        f"{server.http_url}/subjects/{SUBJECT}/versions",
        json={"schema": V1},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Token abc", "expected 'Bearer <token>' or Basic"),
        ("Basic !!!", "not valid base64"),
        (f"Basic {base64.b64encode(b'user-only').decode()}", "token as the password"),
    ],
)
def test_malformed_credentials_are_401_with_the_reason(secured, header, reason):
    server, _ = secured
    response = httpx.get(f"{server.http_url}/subjects", headers={"Authorization": header})
    assert response.status_code == 401
    assert reason in response.json()["message"]


def test_refusals_say_why(secured):
    server, secrets = secured
    reasons = {}
    for caller in ("none", "bad", "expired", "revoked"):
        with RegistryClient(server.grpc_target, secrets[caller]) as client:
            reasons[caller] = _outcome(lambda client=client: client.register(SUBJECT, V1))[1]
    with RegistryClient(server.grpc_target, secrets["other-producer"]) as client:
        reasons["other-producer"] = _outcome(lambda: client.register(SUBJECT, V1))[1]
    assert "no token" in reasons["none"]
    assert reasons["bad"] == "unknown token"
    assert "'temp'" in reasons["expired"] and "expired at" in reasons["expired"]
    assert "'old'" in reasons["revoked"] and "revoked at" in reasons["revoked"]
    assert "'billing-ci' (producer of billing)" in reasons["other-producer"]
    assert "belongs to domain 'checkout'" in reasons["other-producer"]


def test_the_audit_log_records_writes_and_refusals_with_who_what_and_where(secured):
    server, secrets = secured
    with RegistryClient(server.grpc_target, secrets["producer"]) as producer:
        producer.set_config(SUBJECT, "FULL")
    with RegistryClient(server.grpc_target, secrets["consumer"]) as consumer:
        _outcome(lambda: consumer.set_config(SUBJECT, "NONE"))
    httpx.put(
        f"{server.http_url}/config/{SUBJECT}",
        json={"compatibility": "BACKWARD"},
        headers={"Authorization": f"Bearer {secrets['producer']}"},
    )
    with RegistryClient(server.grpc_target, secrets["admin"]) as admin:
        entries = admin.audit(3)
    http_entry, refused, granted = entries
    assert (granted.token_name, granted.action, granted.target, granted.outcome) == (
        "checkout-ci",
        "SetConfig",
        SUBJECT,
        "ok",
    )
    assert granted.peer.startswith("ipv4:127.0.0.1:") and granted.time is not None
    assert (refused.token_name, refused.outcome) == ("billing-reader", "PermissionDenied")
    assert (http_entry.action, http_entry.token_name, http_entry.outcome) == (
        "PUT /config/{subject}",
        "checkout-ci",
        "ok",
    )
    assert http_entry.peer.startswith("127.0.0.1:")


def test_tokens_created_over_grpc_work_and_are_listed_without_secrets(secured):
    server, secrets = secured
    with RegistryClient(server.grpc_target, secrets["admin"]) as admin:
        created, secret = admin.create_token("fresh", "producer", ["payments"], expires_in=timedelta(days=30))
        assert created.created_by == "root" and created.expires_at is not None
        with RegistryClient(server.grpc_target, secret) as fresh:
            assert fresh.register("payments.Paid", V1).version == 1
        admin.revoke_token(created.id)
        listed = {t.name: t for t in admin.list_tokens(include_revoked=True)}
        assert listed["fresh"].revoked_at is not None
        assert "fresh" not in {t.name for t in admin.list_tokens()}
    with RegistryClient(server.grpc_target, secret) as fresh:
        assert _outcome(lambda: fresh.list_subjects())[0] == "unauthenticated"


def test_confluents_own_client_authenticates_with_basic_auth_user_info(secured):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    server, secrets = secured

    def client(secret: str | None) -> SchemaRegistryClient:
        config = {"url": server.http_url, "max.retries": 0}
        if secret:
            config["basic.auth.user.info"] = f"token:{secret}"
        return SchemaRegistryClient(config)

    schema_id = client(secrets["producer"]).register_schema("checkout.orders-value", Schema(V1, "AVRO"))
    assert client(secrets["consumer"]).get_schema(schema_id).schema_str
    with pytest.raises(SchemaRegistryError) as unauthenticated:
        client(None).get_subjects()
    assert unauthenticated.value.http_status_code == 401
    with pytest.raises(SchemaRegistryError) as denied:
        client(secrets["consumer"]).register_schema("checkout.orders-value", Schema(V1, "AVRO"))
    assert denied.value.http_status_code == 403 and "consumers only read" in denied.value.error_message
