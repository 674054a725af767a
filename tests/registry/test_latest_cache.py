"""The live-version cache across two replicas on one PostgreSQL: a version registered (or deleted)
on one is served as the latest by the other from the next call on, cache or not."""

from __future__ import annotations

import json

from registry.client import RegistryClient
from tests.registry.registry_harness import running_server


def _schema(index: int) -> str:
    fields = [{"name": "id", "type": "string"}]
    fields += [{"name": f"f{i}", "type": ["null", "string"], "default": None} for i in range(index)]
    return json.dumps({"type": "record", "name": "E", "fields": fields})


def test_version_registered_on_one_replica_is_latest_on_the_other_at_once(postgres_url):
    with running_server(postgres_url, auth=False) as a, running_server(postgres_url, auth=False) as b:
        with RegistryClient(a.grpc_target) as first, RegistryClient(b.grpc_target) as second:
            first.register("cache.E", _schema(0))
            assert second.get_version("cache.E", "latest").version == 1
            for index in range(1, 15):
                registered = first.register("cache.E", _schema(index))
                assert second.get_version("cache.E", "latest").version == registered.version
            first.delete_version("cache.E", "latest")
            assert second.get_version("cache.E", "latest").version == 14
