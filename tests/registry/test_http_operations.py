"""The HTTP server's operational side over real HTTP: health, metrics, limits and error hygiene.

Also the one end-to-end lifecycle run on each store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import httpx
import pytest

from registry.errors import UNEXPECTED
from registry.metrics import Metrics
from registry.service import RegistryService
from registry.store import Store, sqlite_url
from tests.registry.http_harness import serve_http
from tests.registry.http_schemas import ORDER_BREAKING, ORDER_V1, ORDER_V2

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@pytest.fixture
def service(tmp_path):
    store = Store(sqlite_url(tmp_path))
    yield RegistryService(store)
    store.close()


def test_healthz_is_200_while_the_store_answers(service):
    with serve_http(service) as url:
        response = httpx.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_and_requests_are_503_when_the_store_is_unreachable(postgres_url):
    import sqlalchemy

    store = Store(postgres_url)
    try:
        with serve_http(RegistryService(store)) as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
            # Take the database away under the running server, as an outage would.
            store.engine.dispose()
            admin = sqlalchemy.create_engine(
                sqlalchemy.engine.make_url(postgres_url).set(database="test"), isolation_level="AUTOCOMMIT"
            )
            name = sqlalchemy.engine.make_url(postgres_url).database
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
            response = httpx.get(f"{url}/healthz")
            request = httpx.get(f"{url}/subjects")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}
        assert request.status_code == 503
        assert request.json()["error_code"] == 50301
    finally:
        store.close()


def test_metrics_count_requests_by_route_and_outcome_and_rejections_by_subject(service):
    metrics = Metrics()
    with serve_http(service, metrics=metrics) as url, httpx.Client(base_url=url) as http:
        http.post("/subjects/orders-value/versions", json={"schema": ORDER_V1})
        http.post("/subjects/orders-value/versions", json={"schema": ORDER_BREAKING})
        http.get("/schemas/ids/424242")
        response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'meshgate_requests_total{method="register",outcome="ok",transport="http"} 1.0' in text
    assert (
        'meshgate_requests_total{method="register",outcome="IncompatibleSchema",transport="http"} 1.0' in text
    )
    assert (
        'meshgate_requests_total{method="schema_by_id",outcome="SchemaNotFound",transport="http"} 1.0' in text
    )
    assert 'meshgate_request_duration_seconds_count{method="register",transport="http"} 2.0' in text
    assert 'meshgate_compatibility_rejections_total{subject="orders-value"} 1.0' in text


def test_each_server_counts_into_its_own_registry():
    first, second = Metrics(), Metrics()
    first.observe("grpc", "Register", 0.01)
    first.rejection("orders-value")
    assert b'meshgate_requests_total{method="Register",outcome="ok",transport="grpc"} 1.0' in first.render()
    assert b"Register" not in second.render()
    assert b"orders-value" not in second.render()


def test_a_body_over_the_limit_is_413_before_parsing(service):
    with serve_http(service, max_request_bytes=1024) as url, httpx.Client(base_url=url) as http:
        big = {"schema": ORDER_V1, "doc": "x" * 2048}
        declared = http.post("/subjects/orders-value/versions", json=big)

        def chunks():  # no Content-Length: the limit must hold while streaming too
            yield b'{"schema": "'
            for _ in range(8):
                yield b"y" * 512
            yield b'"}'

        streamed = http.post("/subjects/orders-value/versions", content=chunks())
        small = http.post("/subjects/orders-value/versions", json={"schema": ORDER_V1})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error_code"] == 41301
        assert "1024" in response.json()["message"]
    assert small.status_code == 200


@pytest.mark.parametrize(
    "content, expected",
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"", "JSON object")],
)
def test_a_malformed_body_is_42202_naming_the_problem(service, content, expected):
    with serve_http(service) as url:
        response = httpx.post(
            f"{url}/subjects/orders-value/versions", content=content, headers={"Content-Type": CONTENT_TYPE}
        )
    assert response.status_code == 422
    assert response.json()["error_code"] == 42202
    assert expected in response.json()["message"]


def test_a_malformed_query_parameter_is_42202_naming_it(service):
    with serve_http(service) as url, httpx.Client(base_url=url) as http:
        flag = http.delete("/subjects/orders-value", params={"permanent": "maybe"})
        offset = http.get("/subjects", params={"offset": "two"})
    assert flag.status_code == 422 and "permanent" in flag.json()["message"]
    assert offset.status_code == 422 and "offset" in offset.json()["message"]


def test_unknown_routes_and_methods_answer_in_confluent_error_shape(service):
    with serve_http(service) as url, httpx.Client(base_url=url) as http:
        missing = http.get("/nothing/here")
        wrong_method = http.put("/schemas/types")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == 404
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_code"] == 405


@pytest.mark.unexpected_error_expected
def test_an_unexpected_error_is_500_without_internals(service, monkeypatch, no_unexpected_server_errors):
    # No real input makes the service fail unexpectedly (that would be a bug to fix), so a service
    # method is replaced by one that raises, to show what a client would see if it happened.
    def broken(schema_id):
        raise RuntimeError("secret connection string postgres://admin:pw@db")

    monkeypatch.setattr(service, "get_by_id", broken)
    with serve_http(service) as url:
        response = httpx.get(f"{url}/schemas/ids/1")
    assert response.status_code == 500
    assert response.json() == {"error_code": 50001, "message": "internal server error"}
    assert "secret" not in response.text and "Traceback" not in response.text
    request_id = response.headers["X-Request-Id"]
    assert [getattr(r, UNEXPECTED) for r in no_unexpected_server_errors.records] == [request_id]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    yield store
    store.close()


def test_lifecycle_on_each_store(any_store):
    """Register, evolve, refuse a break, read back, check, configure and delete: SQLite and PostgreSQL."""
    with serve_http(RegistryService(any_store)) as url, httpx.Client(base_url=url) as http:
        first = http.post("/subjects/orders-value/versions", json={"schema": ORDER_V1}).json()
        second = http.post("/subjects/orders-value/versions", json={"schema": ORDER_V2}).json()
        assert (first["version"], second["version"]) == (1, 2)
        assert (
            http.post("/subjects/orders-value/versions", json={"schema": ORDER_BREAKING}).status_code == 409
        )
        assert http.get(f"/schemas/ids/{second['id']}").json()["schema"]
        assert http.get("/subjects/orders-value/versions/latest").json()["id"] == second["id"]
        assert http.put("/config/orders-value", json={"compatibility": "NONE"}).status_code == 200
        check = http.post(
            "/compatibility/subjects/orders-value/versions/latest", json={"schema": ORDER_BREAKING}
        )
        assert check.json() == {"is_compatible": True}
        assert http.delete("/subjects/orders-value").json() == [1, 2]
        assert http.delete("/subjects/orders-value", params={"permanent": "true"}).json() == [1, 2]
        assert http.get("/subjects").json() == []


def test_one_server_process_shares_schemas_and_metrics_between_rest_and_grpc(tmp_path):
    """The production composition (``RegistryServer``): REST writes are gRPC reads, one /metrics."""
    from registry.client import RegistryClient
    from registry.server import RegistryServer, ThreadedServer

    server = ThreadedServer(RegistryServer(sqlite_url(tmp_path)))
    ports = server.start()
    try:
        url = f"http://127.0.0.1:{ports.http_port}"
        schema_id = httpx.post(f"{url}/subjects/orders-value/versions", json={"schema": ORDER_V1}).json()[
            "id"
        ]
        with RegistryClient(f"127.0.0.1:{ports.grpc_port}") as grpc_client:
            assert grpc_client.get_by_id(schema_id).schema == ORDER_V1
        text = httpx.get(f"{url}/metrics").text
    finally:
        server.stop()
    assert 'meshgate_requests_total{method="register",outcome="ok",transport="http"} 1.0' in text
    assert 'meshgate_requests_total{method="GetSchemaById",outcome="ok",transport="grpc"} 1.0' in text
