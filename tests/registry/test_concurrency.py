"""Consistency under concurrent writers and crashes, through real server processes.

Two server processes on one PostgreSQL with 8 concurrent clients; a server killed with SIGKILL while
clients register. Afterwards versions are gap-free, ids unique, every version readable with its
metadata and compatible with its predecessor.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.client import RegistryClient
from registry.compat import Level, check_compatibility, get_format
from registry.contract import ContractMetadata
from registry.errors import MeshgateError
from registry.server import start_subprocess
from tests.registry.registry_harness import BACKENDS, database_url

CLIENTS = 8
PER_CLIENT = 5
SUBJECTS = ["load.Orders", "load.Payments"]


def _schema(client: int, index: int) -> str:
    """Every schema of this family is compatible with every other one (one optional field each)."""
    return json.dumps(
        {
            "type": "record",
            "name": "Event",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": f"f_{client}_{index}", "type": ["null", "string"], "default": None},
            ],
        }
    )


def _assert_consistent(client: RegistryClient, subject: str, expected_versions: int | None = None) -> list:
    versions = client.list_versions(subject)
    assert versions == list(range(1, len(versions) + 1)), f"gaps or duplicates in {subject}: {versions}"
    if expected_versions is not None:
        assert len(versions) == expected_versions
    stored = [client.get_version(subject, v) for v in versions]
    avro = get_format("AVRO")
    parsed = [avro.parse(s.schema) for s in stored]
    for previous, current in zip(parsed, parsed[1:], strict=False):
        assert check_compatibility(avro, Level.BACKWARD, current, [previous]).compatible
    return stored


def test_two_servers_and_eight_clients_keep_versions_gap_free(postgres_url):
    servers = [start_subprocess(postgres_url), start_subprocess(postgres_url)]
    try:

        def register_all(client_number: int) -> list[tuple[str, int, int]]:
            target = servers[client_number % 2].grpc_target
            done = []
            with RegistryClient(target, timeout=30) as client:
                for index in range(PER_CLIENT):
                    for subject in SUBJECTS:
                        registered = client.register(subject, _schema(client_number, index))
                        done.append((subject, registered.version, registered.schema_id))
            return done

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [item for batch in pool.map(register_all, range(CLIENTS)) for item in batch]

        with RegistryClient(servers[0].grpc_target) as client:
            for subject in SUBJECTS:
                stored = _assert_consistent(client, subject, CLIENTS * PER_CLIENT)
                assert len({s.schema_id for s in stored}) == len(stored), "one schema id per distinct schema"
            # the same schema registered under both subjects shares one global id
            by_schema = {}
            for subject, version, schema_id in results:
                by_schema.setdefault(client.get_version(subject, version).schema, set()).add(schema_id)
            assert all(len(ids) == 1 for ids in by_schema.values())
            assert len({next(iter(ids)) for ids in by_schema.values()}) == CLIENTS * PER_CLIENT
    finally:
        for server in servers:
            server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_during_registration_leaves_no_half_written_version(backend, tmp_path):
    with database_url(backend, tmp_path) as url:
        server = start_subprocess(url)
        acknowledged: list[tuple[str, int]] = []
        enough = threading.Event()
        metadata = ContractMetadata(owner_domain="load", pii_fields=["id"], freshness_sla="1h")

        def keep_registering(client_number: int) -> None:
            with RegistryClient(server.grpc_target, timeout=10) as client:
                for index in range(1000):
                    try:
                        registered = client.register(
                            SUBJECTS[0], _schema(client_number, index), metadata=metadata
                        )
                    except MeshgateError:
                        return  # the server is gone
                    acknowledged.append((registered.subject, registered.version))
                    if len(acknowledged) >= 12:
                        enough.set()

        threads = [threading.Thread(target=keep_registering, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            assert enough.wait(60), "clients did not get far enough to crash the server mid-stream"
            server.kill()
        finally:
            for thread in threads:
                thread.join(30)

        restarted = start_subprocess(url)
        try:
            with RegistryClient(restarted.grpc_target) as client:
                stored = _assert_consistent(client, SUBJECTS[0])
                assert {v for _, v in acknowledged} <= {s.version for s in stored}
                for version in stored:
                    assert version.metadata == metadata
                    assert client.get_by_id(version.schema_id).schema == version.schema
        finally:
            restarted.stop()
