"""The live-version cache across two replicas: a version registered (or deleted) on one is served as
the latest by the other from the next call on, cache or not (PostgreSQL; SQLite in
test_grpc_server.py), including when the hub's read of the log lands inside a cache lookup."""

from __future__ import annotations

import json
import threading
import time

from registry.client import RegistryClient
from tests.registry.registry_harness import V1, V2, running_server, unique_subject


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


def test_a_hub_read_inside_a_lookup_never_leaves_a_replaced_latest_trusted(tmp_path):
    """The interleaving that once served a replaced latest on SQLite, forced: replica B replaces the
    latest; on replica A a lookup's probe of the store returns only once A's hub has read the log
    (dropping the subject) and caught up. An entry taken before that decision would be the
    replaced one, trusted."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    subject = unique_subject()
    with running_server(url) as a, running_server(url) as b:
        cache = a.service.live_versions
        with RegistryClient(a.grpc_target) as replica_a, RegistryClient(b.grpc_target) as replica_b:
            replica_a.register(subject, V1)
            deadline = time.monotonic() + 30
            while cache.cached(subject) is None and time.monotonic() < deadline:  # A caches and trusts it
                assert replica_a.latest(subject).version == 1
                time.sleep(0.01)
            assert cache.cached(subject).latest.version == 1
            replica_b.register(subject, V2)

        probe, caught_up = cache.write_version, cache.caught_up
        hub_done = threading.Event()

        def hub_caught_up(mark):
            caught_up(mark)
            if mark == probe():
                hub_done.set()

        def probe_while_the_hub_reads() -> int:
            cache.write_version = probe  # only this call waits (the hub's own reading() does not)
            version = probe()
            cache.wake()
            assert hub_done.wait(30), "the hub did not read the log"
            return version

        cache.caught_up = hub_caught_up
        cache.write_version = probe_while_the_hub_reads
        found = cache.cached(subject)  # what the event loop would answer
        assert hub_done.is_set()
        assert found is None or found.latest.version == 2  # None: the worker thread reads the store
        assert cache.get(subject).latest.version == 2
        assert cache.cached(subject).latest.version == 2  # trusted again, with the new latest
