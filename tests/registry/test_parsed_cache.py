"""The parsed-schema cache behind transitive checks: the same verdicts warm or cold, and bounded."""

from __future__ import annotations

import json

import pytest

from registry.compat import lru
from registry.compat.lru import LruCache
from registry.errors import IncompatibleSchema
from registry.service import RegistryService
from registry.service.caches import SchemaCache
from registry.service.parsing import SchemaParser
from registry.store import Store, sqlite_url
from tests.registry.registry_harness import BACKENDS, database_url


def _avro(fields: dict[str, object]) -> str:
    items = [{"name": "id", "type": "string"}]
    items += [{"name": name, "type": kind, "default": None} for name, kind in fields.items()]
    return json.dumps({"type": "record", "name": "Order", "fields": items})


NUMBERS = {"note": 2, "extra": 3}


def _proto(fields: dict[str, str]) -> str:
    lines = ['syntax = "proto3";', "package shop.v1;", "message Order {", "  string id = 1;"]
    lines += [f"  {kind} {name} = {NUMBERS[name]};" for name, kind in fields.items()]
    return "\n".join([*lines, "}", ""])


def _json(fields: dict[str, str]) -> str:
    properties = {"id": {"type": "string"}, **{name: {"type": kind} for name, kind in fields.items()}}
    return json.dumps({"type": "object", "properties": properties, "additionalProperties": False})


# (format, level, history registered oldest first, a candidate only an early version refuses)
HISTORIES = [
    (
        "AVRO",
        "BACKWARD_TRANSITIVE",
        [_avro({"note": ["null", "string"]}), _avro({}), _avro({"extra": ["null", "string"]})],
        _avro({"note": ["null", "long"]}),
    ),
    (
        "PROTOBUF",
        "FULL_TRANSITIVE",
        [_proto({"note": "string"}), _proto({}), _proto({"extra": "string"})],
        _proto({"note": "double"}),
    ),
    (
        "JSON",
        "BACKWARD_TRANSITIVE",
        [_json({"note": "string"}), _json({}), _json({"extra": "string"})],
        _json({"note": "integer", "extra": "string"}),
    ),
]


@pytest.mark.parametrize(
    ("format_name", "level", "history", "candidate"), HISTORIES, ids=lambda v: str(v)[:8]
)
def test_a_transitive_check_finds_the_same_violations_with_a_warm_and_a_cold_cache(
    tmp_path, format_name, level, history, candidate
):
    url = sqlite_url(tmp_path)
    warm = RegistryService(Store(url))
    warm.set_config("shop.Order", "NONE")
    for text in history:
        warm.register("shop.Order", text, format_name)
    warm.set_config("shop.Order", level)
    cold = RegistryService(Store(url))  # parses every stored version again
    verdicts = [service.check("shop.Order", candidate, format_name).violations for service in (warm, cold)]
    assert verdicts[0] == verdicts[1]
    assert verdicts[0], "only the first version refuses the candidate: a transitive check must say so"
    latest_only = warm.check("shop.Order", candidate, format_name, version="3")
    assert not latest_only.violations
    with pytest.raises(IncompatibleSchema) as refused:
        warm.register("shop.Order", candidate, format_name)
    assert f"incompatible with version 1 of subject 'shop.Order' at level {level}" in str(refused.value)
    warm.store.close()
    cold.store.close()


def test_the_cache_of_parsed_stored_schemas_is_bounded_and_reparses_what_it_dropped(tmp_path):
    store = Store(sqlite_url(tmp_path))
    service = RegistryService(store)
    service.set_config("shop.Order", "NONE")
    ids = [service.register("shop.Order", _avro({f"f{i}": ["null", "string"]})).schema_id for i in range(5)]
    parser = SchemaParser(store, SchemaCache(store), size=3)
    first = [parser.parsed(schema_id) for schema_id in ids]
    assert len(parser.stored) == 3
    assert parser.parsed(ids[-1]) is first[-1]  # still cached
    again = parser.parsed(ids[0])  # dropped, parsed again
    assert again is not first[0] and again.canonical == first[0].canonical
    assert len(parser.stored) == 3
    store.close()


def test_the_lru_cache_drops_the_least_recently_used_entry_first():
    cache = LruCache(2)
    cache.put(1, "one")
    cache.put(2, "two")
    assert cache.get(1) == "one"  # 2 is now the least recently used
    cache.put(3, "three")
    assert (cache.get(1), cache.get(2), cache.get(3)) == ("one", None, "three")
    assert len(cache) == 2


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        yield url


def test_registration_reads_the_metadata_of_the_versions_it_needs_on_sqlite_and_postgresql(url):
    """The versions' JSON columns are read as text and decoded where used: metadata carried forward,
    an idempotent re-registration, and a transitive violation against version 1 all still hold."""
    service = RegistryService(Store(url))
    subject = "shop.Order"
    service.set_config(subject, "NONE")
    first = service.register(
        subject, _avro({"note": ["null", "string"]}), data_metadata={"properties": {"team": "a"}}
    )
    service.register(subject, _avro({}))
    again = service.register(subject, _avro({"extra": ["null", "string"]}))
    assert again.data_metadata == {"properties": {"team": "a"}}  # the previous version's, carried forward
    assert service.register(subject, _avro({"extra": ["null", "string"]})).version == again.version
    # version 4 holds version 1's schema again (new metadata): the id is checked once, as version 4
    fourth = service.register(
        subject, _avro({"note": ["null", "string"]}), data_metadata={"properties": {"team": "b"}}
    )
    assert (fourth.version, fourth.schema_id) == (4, first.schema_id)
    service.set_config(subject, "BACKWARD_TRANSITIVE")
    with pytest.raises(IncompatibleSchema) as refused:
        service.register(subject, _avro({"note": ["null", "long"]}))
    assert "incompatible with versions 1, 4 of subject 'shop.Order'" in str(refused.value)
    assert "note" in str(refused.value)
    service.store.close()


def test_equal_field_keys_are_shared_and_the_table_of_them_is_bounded(monkeypatch):
    monkeypatch.setattr(lru, "SHARED_KEYS", 2)
    monkeypatch.setattr(lru, "_shared", {})
    first = lru.shared(("id", "string"))
    assert lru.shared(("id", "string")) is first  # an equal key built elsewhere: the same object
    lru.shared(("note", "long"))
    again = lru.shared(("extra", "long"))  # the table was full: it starts over
    assert len(lru._shared) == 1 and lru.shared(("extra", "long")) is again
    assert lru.shared(("id", "string")) == first  # still equal, no longer the same object
