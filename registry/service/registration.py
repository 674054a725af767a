"""Registering a schema as a subject's next version, and checking one without registering it.

- a schema already registered under a subject returns the existing version (idempotent), unless the
  caller passes metadata that differs from it (in any but the order of its quality rules), or
  Confluent metadata or a rule set that differ from it after merging: then a new version with the
  same schema id is created;
  a new version registered without metadata carries the latest version's metadata forward;
- identical schemas (after normalisation, with the same references) share one global id;
- compatibility checks skip soft-deleted versions and apply the subject's level and rule set;
- every registered consumer of the subject must be able to read the new schema (``consumers``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict

from registry.compat import Level, ParsedSchema, SchemaFormat, Violation, check_compatibility
from registry.contract import ContractMetadata, Reference, domain_of
from registry.data_contracts import merge_metadata, merge_rule_sets, properties_of
from registry.errors import (
    IdDoesNotMatch,
    IncompatibleSchema,
    InvalidArgument,
    OperationNotPermitted,
    SchemaNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from registry.model import (
    VERSION_REGISTERED,
    BrokenConsumer,
    CheckResult,
    DataContractConfig,
    RegisteredSchema,
    as_references,
)
from registry.service.arguments import check_schema_id, check_size, check_subject, schema_format
from registry.service.caches import SchemaCache
from registry.service.config import Configs
from registry.service.consumers import Consumers
from registry.service.parsing import SchemaParser
from registry.store import Store, StoredVersion
from registry.store.subjects import VersionRow
from registry.versions import parse_version

SHOWN_VIOLATIONS = 5  # how many violations an error message spells out


class Registration:
    def __init__(
        self, store: Store, schemas: SchemaCache, parser: SchemaParser, configs: Configs, consumers: Consumers
    ):
        self.store = store
        self.schemas = schemas
        self.parser = parser
        self.configs = configs
        self.consumers = consumers

    def register(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        metadata: ContractMetadata | None = None,
        normalize: bool = False,
        data_metadata: dict | None = None,
        rule_set: dict | None = None,
        schema_id: int | None = None,
        version: int | None = None,
    ) -> RegisteredSchema:
        """Add ``schema`` as the subject's next version, or return the version that already has it.

        ``data_metadata`` / ``rule_set``: Confluent's ``metadata`` and ``ruleSet`` (None: the
        previous version's), merged with the config's defaults and overrides. ``schema_id`` (and
        ``version``): IMPORT mode's registration under a given id, kept as given, unchecked.
        """
        check_subject(subject)
        new_format = schema_format(format)
        check_size(schema, "schema")
        refs = as_references(references)
        importing = schema_id is not None
        if importing:
            check_schema_id(schema_id)

        fresh: dict[
            int, ParsedSchema
        ] = {}  # a new schema id -> its parse, handed to the cache once committed

        def work(session) -> RegisteredSchema:
            fresh.clear()  # ``write`` may run this again after a conflict
            self.configs.require_registrable(session, subject, importing)
            self.store.lock_subject(session, subject)
            parsed = self.parser.parse(session, new_format, schema, refs, subject)
            fingerprint = schema_fingerprint(parsed, refs)
            versions = self.store.version_rows(session, subject)  # JSON decoded only where read
            live = [v for v in versions if not v.deleted]
            existing_id = self.store.find_schema_id(session, new_format.name, fingerprint)
            config = self.configs.config_for(session, subject, new_format)
            if importing:
                new_metadata, new_rules = data_metadata, rule_set
            else:
                new_metadata, new_rules = _merged(config.data_contract, data_metadata, rule_set, live)
            for stored in reversed(live):
                if (
                    stored.schema_id == existing_id
                    and (metadata is None or _same_contract(stored.meta, metadata.to_dict()))
                    and (stored.data_metadata, stored.rule_set) == (new_metadata, new_rules)
                    and (version is None or stored.version == version)
                ):
                    return self.schemas.registered(stored.stored())
            number = self._new_version(subject, versions, version if importing else None)
            if not importing:
                if version is not None and version != number:
                    raise InvalidArgument(f"version: {version} is not the next version ({number})")
                checked = _same_group(config.data_contract.compatibility_group, new_metadata, live)
                violations, against = self._level_violations(
                    new_format, config.level, config.ruleset, parsed, checked
                )
                broken = self.consumers.broken_by(session, subject, new_format, parsed, config.ruleset)
                if violations or broken:
                    raise IncompatibleSchema(
                        incompatibility_message(subject, config.level, violations, broken, against),
                        violations + [v for consumer in broken for v in consumer.violations],
                        [consumer.name for consumer in broken],
                        broken,
                    )
            stored_text = parsed.canonical if normalize else schema
            if existing_id is None:
                if importing and self.store.schema(session, schema_id) is not None:
                    raise IdDoesNotMatch(f"schema id {schema_id} already names another schema")
                new_id = self.store.add_schema(
                    session, new_format.name, fingerprint, stored_text, [asdict(r) for r in refs], schema_id
                )
                schema_text = stored_text
                if stored_text == schema:
                    fresh[new_id] = parsed
            else:
                if importing and existing_id != schema_id:
                    raise IdDoesNotMatch(f"the schema is registered under id {existing_id}, not {schema_id}")
                new_id, schema_text = existing_id, self.schemas.get(existing_id).schema
            meta = metadata or (
                ContractMetadata.from_dict(live[-1].meta)
                if live
                else ContractMetadata(owner_domain=domain_of(subject) if "." in subject else "")
            )
            self.store.add_version(session, subject, number, new_id, meta.to_dict(), new_metadata, new_rules)
            self.store.bump_subject_seq(session, subject)
            self.store.append_event(
                session, VERSION_REGISTERED, subject, number, new_id, format=new_format.name
            )
            return RegisteredSchema(
                subject=subject,
                version=number,
                schema_id=new_id,
                format=new_format.name,
                schema=schema_text,
                references=refs,
                metadata=meta,
                guid=self.store.schema(session, new_id).guid,
                data_metadata=new_metadata,
                rule_set=new_rules,
            )

        registered = self.store.write(work)
        for new_id, parsed in fresh.items():
            self.parser.remember(new_id, parsed)
        return registered

    def _new_version(self, subject: str, versions: Sequence[VersionRow], wanted: int | None) -> int:
        """The next version number, or (IMPORT) the one wanted when it is free."""
        if wanted is None:
            return max((v.version for v in versions), default=0) + 1
        if any(v.version == wanted for v in versions):
            raise OperationNotPermitted(
                f"version {wanted} of subject {subject!r} exists already; an import cannot overwrite it"
            )
        return wanted

    def check(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        version: int | str = "latest",
        data_metadata: dict | None = None,
    ) -> CheckResult:
        """Would ``schema`` be accepted? ``version``: "latest" applies the subject's level as register
        does; "all" checks against every live version; a number checks against that version only.
        Under a compatibility group only the versions of the schema's group (``data_metadata``, or
        the previous version's) count. Registered consumers are checked in every case."""
        check_subject(subject)
        new_format = schema_format(format)
        check_size(schema, "schema")
        refs = as_references(references)
        wanted = None if version == "all" else parse_version(version)
        with self.store.read() as session:
            parsed = self.parser.parse(session, new_format, schema, refs, subject)
            live = [v for v in self.store.versions(session, subject) if not v.deleted]
            config = self.configs.config_for(session, subject, new_format)
            if wanted is None:
                new_metadata, _ = _merged(config.data_contract, data_metadata, None, live)
                live = _same_group(config.data_contract.compatibility_group, new_metadata, live)
            level = config.level
            if version == "all":
                if level is not Level.NONE and not level.transitive:
                    level = Level(f"{level.value}_TRANSITIVE")
            elif wanted is not None:
                if not live:
                    raise SubjectNotFound(f"subject {subject!r} not found")
                live = [v for v in live if v.version == wanted]
                if not live:
                    raise VersionNotFound(f"version {wanted} of subject {subject!r} not found")
            violations, _ = self._level_violations(new_format, level, config.ruleset, parsed, live)
            broken = self.consumers.broken_by(session, subject, new_format, parsed, config.ruleset)
        return CheckResult(
            violations=violations + [v for consumer in broken for v in consumer.violations],
            consumers=[consumer.name for consumer in broken],
            broken_consumers=broken,
        )

    def lookup(
        self,
        subject: str,
        schema: str,
        format: str = "AVRO",
        references: Iterable[Reference | dict] = (),
        include_deleted: bool = False,
    ) -> RegisteredSchema:
        """The subject's newest version holding this schema (after normalisation)."""
        new_format = schema_format(format)
        check_size(schema, "schema")
        refs = as_references(references)
        with self.store.read() as session:
            versions = [v for v in self.store.versions(session, subject) if include_deleted or not v.deleted]
            if not versions:
                raise SubjectNotFound(f"subject {subject!r} not found")
            parsed = self.parser.parse(session, new_format, schema, refs, subject)
            schema_id = self.store.find_schema_id(session, new_format.name, schema_fingerprint(parsed, refs))
            for stored in reversed(versions):
                if stored.schema_id == schema_id:
                    return self.schemas.registered(stored)
        raise SchemaNotFound(f"schema not found under subject {subject!r}")

    def _level_violations(
        self,
        new_format: SchemaFormat,
        level: Level,
        ruleset: str | None,
        parsed: ParsedSchema,
        live: Sequence[StoredVersion | VersionRow],
    ) -> tuple[list[Violation], list[int]]:
        """The violations, and the versions holding a schema they were found against (of schemas
        that check alike, ``check_key``, the newest)."""
        if level is Level.NONE or not live:
            return [], []
        # Versions sharing a schema id give the same verdict: each id is checked once, where it was
        # last registered (the checks go newest first).
        holders: dict[int, list[int]] = {}
        for stored in live:
            holders.setdefault(stored.schema_id, []).append(stored.version)
        ids = sorted(holders, key=lambda schema_id: holders[schema_id][-1])
        previous = [self.parser.parsed(schema_id) for schema_id in ids]
        formats = {schema.format_name for schema in previous}
        if formats != {new_format.name}:
            return [
                Violation(
                    "FORMAT_CHANGED",
                    "schema",
                    f"the subject holds {', '.join(sorted(formats))} schemas; a {new_format.name} schema cannot follow them",
                )
            ], []
        result = check_compatibility(new_format, level, parsed, previous, ruleset)
        against = {version for index in set(result.against) for version in holders[ids[index]]}
        return result.violations, sorted(against)


def _same_contract(stored: dict, given: dict) -> bool:
    """Equal contract metadata; the order of quality rules says nothing (ODCS files reorder them)."""

    def key(meta: dict) -> dict:
        rules = sorted(json.dumps(rule, sort_keys=True) for rule in meta.get("quality_rules", []))
        return {**meta, "quality_rules": rules}

    return key(stored) == key(given)


def _merged(
    config: DataContractConfig,
    data_metadata: dict | None,
    rule_set: dict | None,
    live: Sequence[StoredVersion | VersionRow],
) -> tuple[dict | None, dict | None]:
    """Confluent's merge: ``merge(merge(default, the given or else the previous version's), override)``."""
    previous = live[-1] if live else None
    given_metadata = data_metadata if data_metadata is not None else previous and previous.data_metadata
    given_rules = rule_set if rule_set is not None else previous and previous.rule_set
    return (
        merge_metadata(
            merge_metadata(config.default_metadata, given_metadata or None), config.override_metadata
        ),
        merge_rule_sets(
            merge_rule_sets(config.default_rule_set, given_rules or None), config.override_rule_set
        ),
    )


def _same_group(
    group: str | None, metadata: dict | None, live: Sequence[StoredVersion | VersionRow]
) -> list[StoredVersion | VersionRow]:
    """The versions a new one is checked against: with a compatibility group, only those whose
    metadata has the same value of that property (absent included), as Confluent does."""
    if not group:
        return list(live)
    value = properties_of(metadata).get(group)
    return [v for v in live if properties_of(v.data_metadata).get(group) == value]


def incompatibility_message(
    subject: str,
    level: Level,
    violations: Sequence[Violation],
    broken: Sequence[BrokenConsumer],
    against: Sequence[int] = (),
) -> str:
    """``against``: the versions the violations were found against, named in the message."""
    consumer_violations = [v for consumer in broken for v in consumer.violations]
    parts = []
    if violations:
        named = ""
        if against:
            numbers = ", ".join(str(number) for number in against)
            named = f"version{'s' if len(against) > 1 else ''} {numbers} of "
        parts.append(f"the schema is incompatible with {named}subject {subject!r} at level {level.value}")
    if broken:
        parts.append(f"it would break consumer(s) {', '.join(consumer.name for consumer in broken)}")
    shown = [*violations, *consumer_violations][:SHOWN_VIOLATIONS]
    details = "; ".join(f"{v.path}: {v.message} [{v.rule}]" for v in shown)
    more = len(violations) + len(consumer_violations) - len(shown)
    return f"{' and '.join(parts)}: {details}" + (f" (and {more} more)" if more > 0 else "")


def schema_fingerprint(parsed: ParsedSchema, refs: Sequence[Reference]) -> str:
    """Identity of a schema for global ids: its normalised form plus what it references."""
    material = json.dumps([parsed.fingerprint, [asdict(r) for r in refs]], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()
