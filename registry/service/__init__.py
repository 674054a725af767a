"""The registry's logic, shared by the gRPC and HTTP servers: ``RegistryService``.

Servers call it in worker threads (``asyncio.to_thread``); every write is one store transaction,
so the rules (Confluent Schema Registry semantics) hold for several replicas on one PostgreSQL as
they do for one process on SQLite. One module per concern, each stating its rules:

- ``registration``: register and check a schema (levels, global ids, consumers' verdicts), lookup;
- ``subjects``: read, list and delete versions, schemas by id;
- ``config``: compatibility levels, rule sets and modes;
- ``consumers``: registered consumers and which of them a schema breaks;
- ``parsing``: schemas parsed with their references resolved, parsed forms cached;
- ``caches``: schemas by id, and each subject's live versions following the event log;
- ``arguments``: argument checks.
SQL lives in ``registry.store``; the service hands the store's sessions through, never a query.
"""

from __future__ import annotations

from registry.compat import Level
from registry.service.caches import LiveVersionCache, SchemaCache
from registry.service.config import Configs
from registry.service.consumers import Consumers
from registry.service.parsing import SchemaParser
from registry.service.registration import Registration
from registry.service.subjects import Subjects
from registry.store import Store


class RegistryService:
    """Every call of the registry, each answered by the part that owns its concern.

    The public methods are the parts' own (bound here, not wrapped), so their signatures and
    docstrings live in one place.
    """

    def __init__(self, store: Store, default_level: Level = Level.BACKWARD):
        self.store = store  # the owner (server, CLI) closes it
        self.default_level = default_level
        schemas = SchemaCache(store)
        parser = SchemaParser(store, schemas)
        configs = Configs(store, schemas, default_level)
        consumers = Consumers(store, schemas, parser, configs)
        registration = Registration(store, schemas, parser, configs, consumers)
        self.live_versions = LiveVersionCache(store, schemas)
        """Kept in step with the event log by a server's ``EventHub.follow``."""
        subjects = Subjects(store, schemas, self.live_versions, configs)

        self.register = registration.register
        self.check = registration.check
        self.lookup = registration.lookup

        self.get_by_id = subjects.get_by_id
        self.get_by_guid = subjects.get_by_guid
        self.referenced_by = subjects.referenced_by
        self.latest_with_metadata = subjects.latest_with_metadata
        self.cached_schema = subjects.cached_schema
        self.subjects_for_id = subjects.subjects_for_id
        self.versions_for_id = subjects.versions_for_id
        self.get_version = subjects.get_version
        self.cached_version = subjects.cached_version
        self.list_subjects = subjects.list_subjects
        self.list_versions = subjects.list_versions
        self.delete_subject = subjects.delete_subject
        self.delete_version = subjects.delete_version

        self.get_config = configs.get_config
        self.set_config = configs.set_config
        self.delete_config = configs.delete_config
        self.get_mode = configs.get_mode
        self.set_mode = configs.set_mode
        self.delete_mode = configs.delete_mode

        self.register_consumer = consumers.register_consumer
        self.list_consumers = consumers.list_consumers
        self.remove_consumer = consumers.remove_consumer

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the store answers (health checks)."""
        self.store.ping()


__all__ = ["RegistryService"]
