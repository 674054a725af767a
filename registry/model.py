"""The registry's value types: what the SDK, the servers and the CLIs hand each other.

Plain frozen dataclasses with no store or server behind them, so ``registry.client`` imports this
module, not the service: a client process never loads SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime

from registry.compat import CompatibilityResult, Level, Violation
from registry.contract import ContractMetadata, Reference
from registry.errors import InvalidArgument
from registry.limits import check_string_field, check_subject

MODES = ("READWRITE", "READONLY", "IMPORT")
"""IMPORT: registrations keep the schema id (and version) they are given, as Confluent's migrations do."""
ROLES = ("admin", "producer", "consumer")


@dataclass(frozen=True)
class SchemaRecord:
    """A schema under its global id, independent of any subject."""

    id: int
    format: str
    schema: str
    references: tuple[Reference, ...] = ()
    guid: str = ""  # Confluent's schema GUID: a UUID that names the schema on any registry


@dataclass(frozen=True)
class RegisteredSchema:
    """One version of a subject."""

    subject: str
    version: int
    schema_id: int
    format: str
    schema: str
    references: tuple[Reference, ...]
    metadata: ContractMetadata
    deleted: bool = False
    guid: str = ""
    data_metadata: dict | None = None
    """Confluent's ``metadata`` as stored (``registry.data_contracts`` adds the contract's own)."""
    rule_set: dict | None = None
    """Confluent's ``ruleSet`` as stored (``registry.data_contracts`` adds the contract's own)."""


@dataclass(frozen=True)
class DataContractConfig:
    """A config's Confluent data-contract settings, in Confluent's JSON shapes.

    ``compatibility_group``: a metadata property; a new version is checked only against the versions
    with the same value of it. The metadata and rule sets are merged into every registration:
    ``merge(merge(default, the version's own or the previous version's), override)``.
    """

    compatibility_group: str | None = None
    default_metadata: dict | None = None
    override_metadata: dict | None = None
    default_rule_set: dict | None = None
    override_rule_set: dict | None = None

    def updated(self, change: DataContractConfig) -> DataContractConfig:
        """These settings with every field ``change`` sets replaced (as Confluent merges a PUT)."""
        return DataContractConfig(
            *(
                new if new is not None else old
                for old, new in zip(_field_values(self), _field_values(change), strict=True)
            )
        )


def _field_values(value) -> tuple:
    """A dataclass's field values in order, not copied (``dataclasses.astuple`` deep-copies)."""
    return tuple(getattr(value, f.name) for f in fields(value))


@dataclass(frozen=True)
class SubjectConfig:
    """A compatibility setting; ``inherited``: not set at this scope, so the wider one applies.

    For a subject that is the global setting (or the server default); for the global setting, the
    server default. Confluent's ``GET /config/{subject}`` tells the two apart (40408).
    """

    level: Level
    ruleset: str | None = None
    inherited: bool = False
    data_contract: DataContractConfig = DataContractConfig()


@dataclass(frozen=True)
class Consumer:
    """A reader of a subject: reads with the schema of ``version`` or with ``reader_schema``."""

    name: str
    subject: str
    format: str
    version: int | None = None
    reader_schema: str | None = None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokenConsumer:
    """A registered consumer a schema would break, as data (``contract-check`` reads it, not text).

    ``fields``: the consumer's registered fields the change breaks (empty when it registered none,
    i.e. it reads every field: the violations' paths say where). ``violations``: the same values
    that ``CheckResult.violations`` / ``IncompatibleSchema.violations`` list for this consumer.
    """

    name: str
    fields: tuple[str, ...]
    violations: tuple[Violation, ...]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "fields": list(self.fields),
            "violations": [v.to_dict() for v in self.violations],
        }


@dataclass
class CheckResult(CompatibilityResult):
    """A compatibility verdict; ``consumers`` names the registered consumers the schema would break,
    ``broken_consumers`` says for each which of its fields and why."""

    consumers: list[str] = field(default_factory=list)
    broken_consumers: list[BrokenConsumer] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "consumers": list(self.consumers),
            "broken_consumers": [c.to_dict() for c in self.broken_consumers],
        }


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    role: str
    domains: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: datetime
    token_id: int | None
    token_name: str
    action: str
    target: str
    peer: str
    outcome: str
    role: str = ""  # the caller's role when the row was written ("admin": anonymous caller, auth off)


@dataclass(frozen=True)
class BridgedGap:
    """A break in a Watch stream that the SDK bridged: the events after ``after_sequence`` up to
    ``resumed_at`` arrived once the stream resumed on ``address``, ``seconds`` after the break."""

    after_sequence: int
    resumed_at: int
    seconds: float
    address: str


VERSION_REGISTERED = "VERSION_REGISTERED"
VERSION_SOFT_DELETED = "VERSION_SOFT_DELETED"
VERSION_HARD_DELETED = "VERSION_HARD_DELETED"
CONFIG_CHANGED = "CONFIG_CHANGED"
CONFIG_DELETED = "CONFIG_DELETED"
MODE_CHANGED = "MODE_CHANGED"
CONSUMER_ADDED = "CONSUMER_ADDED"
CONSUMER_REMOVED = "CONSUMER_REMOVED"
EVENT_TYPES = (
    VERSION_REGISTERED,
    VERSION_SOFT_DELETED,
    VERSION_HARD_DELETED,
    CONFIG_CHANGED,
    CONFIG_DELETED,
    MODE_CHANGED,
    CONSUMER_ADDED,
    CONSUMER_REMOVED,
)


@dataclass(frozen=True)
class Event:
    """One change. ``subject`` is "" for the global config and mode; ``detail`` holds the rest
    (level, mode, consumer name, …)."""

    sequence: int
    type: str
    subject: str
    version: int | None = None
    schema_id: int | None = None
    time: datetime | None = None
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "sequence": self.sequence,
            "type": self.type,
            "subject": self.subject,
            "version": self.version,
            "schema_id": self.schema_id,
            "time": self.time.isoformat() if self.time else None,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class EventFilter:
    """Which events a watcher wants: a subject prefix (a domain "checkout" is the prefix
    "checkout.") and event types (empty: all)."""

    subject_prefix: str = ""
    types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, subject_prefix: str = "", domain: str = "", types=()) -> EventFilter:
        if subject_prefix and domain:
            raise InvalidArgument("watch: give a subject prefix or a domain, not both")
        unknown = sorted(set(types) - set(EVENT_TYPES))
        if unknown:
            raise InvalidArgument(
                f"watch: unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
            )
        return cls(f"{domain}." if domain else subject_prefix, frozenset(types))

    def matches(self, event: Event) -> bool:
        return event.subject.startswith(self.subject_prefix) and (not self.types or event.type in self.types)


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str
    subject_prefix: str
    event_types: tuple[str, ...]
    cursor: int
    attempts: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: int
    sequence: int
    attempt: int
    time: datetime
    status_code: int | None
    outcome: str


def as_references(references: Iterable[Reference | dict]) -> tuple[Reference, ...]:
    """Validated references from ``Reference``s or ``{name, subject, version}`` mappings."""
    result = []
    for i, ref in enumerate(references or ()):
        if isinstance(ref, dict):
            try:
                ref = Reference(
                    name=str(ref["name"]), subject=str(ref["subject"]), version=int(ref["version"])
                )
            except (KeyError, TypeError, ValueError):
                raise InvalidArgument(
                    f"references[{i}]: needs name, subject and an integer version"
                ) from None
        if not ref.name or not ref.subject or ref.version < 1:
            raise InvalidArgument(f"references[{i}]: needs a name, a subject and a version >= 1")
        check_string_field(ref.name, f"references[{i}].name")
        check_subject(ref.subject, f"references[{i}].subject")
        result.append(ref)
    return tuple(result)
