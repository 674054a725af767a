"""Every call of the registry SDK, described once: its public parameters, the gRPC request they make
and how the response reads back into the model's types (``watch``: the one server stream).

A description sends nothing. ``registry.client`` turns each into a method of ``RegistryClient`` (which
blocks) and of ``AsyncRegistryClient`` (which is awaited), so the two clients cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from registry import wire
from registry.api import registry_pb2 as pb
from registry.compat import Level
from registry.contract import Contract, ContractMetadata, Reference
from registry.errors import InvalidArgument
from registry.model import (
    ApiToken,
    AuditEntry,
    CheckResult,
    Consumer,
    DataContractConfig,
    Delivery,
    RegisteredSchema,
    SchemaRecord,
    SubjectConfig,
    Webhook,
    as_references,
)
from registry.versions import parse_version

R = TypeVar("R")


@dataclass(frozen=True)
class Call(Generic[R]):
    """One RPC ready to send: its name on the ``ContractRegistry`` stub, its request, how its answer
    reads. ``lasting``: the answer never changes (a schema by id), so a client keeps it."""

    rpc: str
    request: Any
    read: Callable[[Any], R]
    lasting: bool = False


def register(
    subject: str | Contract,
    schema: str | None = None,
    format: str = "AVRO",
    references: Iterable[Reference] = (),
    metadata: ContractMetadata | None = None,
    normalize: bool = False,
    data_metadata: dict | None = None,
    rule_set: dict | None = None,
    schema_id: int | None = None,
    version: int | None = None,
) -> Call[RegisteredSchema]:
    """Register a ``Contract`` (its schema, references and metadata) or the given fields;
    ``data_metadata`` / ``rule_set``: Confluent's ``metadata`` and ``ruleSet`` (None: the previous
    version's). ``schema_id`` (and ``version``): IMPORT mode's registration under a given id."""
    request = pb.RegisterRequest(
        **_schema_fields(subject, schema, format, references),
        normalize=normalize,
        data_metadata_json=wire.json_text(data_metadata),
        rule_set_json=wire.json_text(rule_set),
        id=schema_id,
        version=version,
    )
    if isinstance(subject, Contract):
        metadata = subject.metadata
    if metadata is not None:
        request.metadata.CopyFrom(wire.metadata_to_pb(metadata))
    return Call("Register", request, wire.schema_version_from_pb)


def check(
    subject: str | Contract,
    schema: str | None = None,
    format: str = "AVRO",
    references: Iterable[Reference] = (),
    version: int | str = "latest",
    data_metadata: dict | None = None,
) -> Call[CheckResult]:
    """Would the schema be accepted? ``version``: "latest", "all", or one version number;
    ``data_metadata``: the candidate's Confluent metadata (its compatibility group)."""
    fields = _schema_fields(subject, schema, format, references)
    request = pb.CheckCompatibilityRequest(
        **fields, version=str(version), data_metadata_json=wire.json_text(data_metadata)
    )
    return Call(
        "CheckCompatibility",
        request,
        wire.check_result_from_pb,
    )


def lookup(
    subject: str | Contract,
    schema: str | None = None,
    format: str = "AVRO",
    references: Iterable[Reference] = (),
    include_deleted: bool = False,
) -> Call[RegisteredSchema]:
    """The version of ``subject`` that holds the schema."""
    fields = _schema_fields(subject, schema, format, references)
    return Call(
        "LookupSchema",
        pb.LookupSchemaRequest(**fields, include_deleted=include_deleted),
        wire.schema_version_from_pb,
    )


def get_by_id(schema_id: int) -> Call[SchemaRecord]:
    """The schema under a global id (kept by the client: ids never change)."""
    return Call("GetSchemaById", pb.GetSchemaByIdRequest(id=schema_id), wire.schema_from_pb, lasting=True)


def get_by_guid(guid: str) -> Call[SchemaRecord]:
    """The schema of a Confluent schema GUID (kept by the client: a GUID names one schema)."""
    return Call("GetSchemaByGuid", pb.GetSchemaByGuidRequest(guid=guid), wire.schema_from_pb, lasting=True)


def versions_for_id(schema_id: int, subject: str | None = None) -> Call[list[tuple[str, int]]]:
    """Every live (subject, version) that holds the schema id; ``subject``: only that subject's."""
    return Call(
        "ListSchemaVersions",
        pb.ListSchemaVersionsRequest(id=schema_id, subject=subject or ""),
        lambda response: [(v.subject, v.version) for v in response.versions],
    )


def referenced_by(subject: str, version: int | str = "latest") -> Call[list[int]]:
    """The ids of the live schemas that reference this version (Confluent's ``referencedby``)."""
    request = pb.GetReferencedByRequest(subject=subject, version=_wire_version(version))
    return Call("GetReferencedBy", request, lambda response: list(response.ids))


def get_version(
    subject: str, version: int | str = "latest", include_deleted: bool = False
) -> Call[RegisteredSchema]:
    request = pb.GetSchemaByVersionRequest(
        subject=subject, version=_wire_version(version), include_deleted=include_deleted
    )
    return Call("GetSchemaByVersion", request, wire.schema_version_from_pb)


def latest_with_metadata(
    subject: str, properties: dict[str, str], include_deleted: bool = False
) -> Call[RegisteredSchema]:
    """The newest version whose Confluent metadata properties hold every pair."""
    request = pb.GetLatestWithMetadataRequest(
        subject=subject, properties=properties, include_deleted=include_deleted
    )
    return Call("GetLatestWithMetadata", request, wire.schema_version_from_pb)


def latest(subject: str) -> Call[RegisteredSchema]:
    """``get_version(subject, "latest")``."""
    return get_version(subject, "latest")


def list_subjects(prefix: str = "", include_deleted: bool = False) -> Call[list[str]]:
    request = pb.ListSubjectsRequest(prefix=prefix, include_deleted=include_deleted)
    return Call("ListSubjects", request, lambda response: list(response.subjects))


def list_versions(subject: str, include_deleted: bool = False) -> Call[list[int]]:
    request = pb.ListVersionsRequest(subject=subject, include_deleted=include_deleted)
    return Call("ListVersions", request, lambda response: list(response.versions))


def delete_subject(subject: str, permanent: bool = False) -> Call[list[int]]:
    request = pb.DeleteSubjectRequest(subject=subject, permanent=permanent)
    return Call("DeleteSubject", request, lambda response: list(response.versions))


def delete_version(subject: str, version: int | str, permanent: bool = False) -> Call[int]:
    request = pb.DeleteVersionRequest(subject=subject, version=_wire_version(version), permanent=permanent)
    return Call("DeleteVersion", request, lambda response: response.version)


def get_config(subject: str | None = None) -> Call[SubjectConfig]:
    return Call("GetConfig", pb.GetConfigRequest(subject=subject or ""), wire.config_from_pb)


def set_config(
    subject: str | None,
    level: Level | str | None,
    ruleset: str | None = None,
    data_contract: DataContractConfig | None = None,
) -> Call[SubjectConfig]:
    """Set the level and rule set; ``data_contract``'s set fields replace the scope's own (then
    ``level`` None keeps the level in force)."""
    level = level.value if isinstance(level, Level) else str(level or "")
    contract = data_contract or DataContractConfig()
    request = pb.SetConfigRequest(
        subject=subject or "",
        level=level,
        ruleset=ruleset or "",
        compatibility_group=contract.compatibility_group or "",
        default_metadata_json=wire.json_text(contract.default_metadata),
        override_metadata_json=wire.json_text(contract.override_metadata),
        default_rule_set_json=wire.json_text(contract.default_rule_set),
        override_rule_set_json=wire.json_text(contract.override_rule_set),
    )
    return Call("SetConfig", request, wire.config_from_pb)


def delete_config(subject: str | None) -> Call[SubjectConfig]:
    return Call("DeleteConfig", pb.DeleteConfigRequest(subject=subject or ""), wire.config_from_pb)


def get_mode(subject: str | None = None) -> Call[str]:
    return Call("GetMode", pb.GetModeRequest(subject=subject or ""), lambda response: response.mode)


def set_mode(subject: str | None, mode: str, force: bool = False) -> Call[str]:
    """Set the mode (READWRITE, READONLY, IMPORT); IMPORT over existing schemas needs ``force``."""
    request = pb.SetModeRequest(subject=subject or "", mode=mode, force=force)
    return Call("SetMode", request, lambda response: response.mode)


def delete_mode(subject: str) -> Call[str]:
    """Remove the subject's own mode (the global one applies again); returns the removed mode."""
    return Call("DeleteMode", pb.DeleteModeRequest(subject=subject), lambda response: response.mode)


def register_consumer(
    name: str,
    subject: str,
    version: int | None = None,
    reader_schema: str | None = None,
    fields: Iterable[str] = (),
    format: str | None = None,
) -> Call[Consumer]:
    request = pb.RegisterConsumerRequest(
        name=name,
        subject=subject,
        version=version or 0,
        reader_schema=reader_schema or "",
        fields=list(fields),
        format=format or "",
    )
    return Call("RegisterConsumer", request, wire.consumer_from_pb)


def list_consumers(subject: str | None = None) -> Call[list[Consumer]]:
    return Call(
        "ListConsumers",
        pb.ListConsumersRequest(subject=subject or ""),
        lambda response: [wire.consumer_from_pb(c) for c in response.consumers],
    )


def remove_consumer(name: str, subject: str) -> Call[None]:
    return Call("RemoveConsumer", pb.RemoveConsumerRequest(name=name, subject=subject), _nothing)


def create_token(
    name: str, role: str, domains: Iterable[str] = (), expires_in: timedelta | None = None
) -> Call[tuple[ApiToken, str]]:
    """A new API token and its secret (admin only; the secret is never shown again)."""
    request = pb.CreateTokenRequest(
        name=name,
        role=role,
        domains=list(domains),
        expires_in_seconds=int(expires_in.total_seconds()) if expires_in else 0,
    )
    return Call(
        "CreateToken", request, lambda response: (wire.api_token_from_pb(response.token), response.secret)
    )


def list_tokens(include_revoked: bool = False) -> Call[list[ApiToken]]:
    return Call(
        "ListTokens",
        pb.ListTokensRequest(include_revoked=include_revoked),
        lambda response: [wire.api_token_from_pb(t) for t in response.tokens],
    )


def revoke_token(token_id: int) -> Call[ApiToken]:
    return Call("RevokeToken", pb.RevokeTokenRequest(id=token_id), wire.api_token_from_pb)


def audit(limit: int = 100) -> Call[list[AuditEntry]]:
    """The newest ``limit`` audit entries, newest first (admin only)."""
    return Call(
        "ListAudit",
        pb.ListAuditRequest(limit=limit),
        lambda response: [wire.audit_entry_from_pb(e) for e in response.entries],
    )


def add_webhook(
    url: str,
    secret: str | None = None,
    subject_prefix: str = "",
    event_types: Iterable[str] = (),
    after_sequence: int | None = None,
) -> Call[tuple[Webhook, str]]:
    """Subscribe ``url`` to change events (admin); returns it and its signing secret."""
    request = pb.AddWebhookRequest(
        url=url, secret=secret or "", subject_prefix=subject_prefix, event_types=list(event_types)
    )
    if after_sequence is not None:
        request.after_sequence = after_sequence
    return Call(
        "AddWebhook", request, lambda response: (wire.webhook_from_pb(response.webhook), response.secret)
    )


def list_webhooks() -> Call[list[Webhook]]:
    return Call(
        "ListWebhooks",
        pb.ListWebhooksRequest(),
        lambda response: [wire.webhook_from_pb(w) for w in response.webhooks],
    )


def remove_webhook(webhook_id: int) -> Call[None]:
    return Call("RemoveWebhook", pb.RemoveWebhookRequest(id=webhook_id), _nothing)


def deliveries(webhook_id: int | None = None, limit: int = 100) -> Call[list[Delivery]]:
    """The delivery log, newest first."""
    return Call(
        "ListDeliveries",
        pb.ListDeliveriesRequest(webhook_id=webhook_id or 0, limit=limit),
        lambda response: [wire.delivery_from_pb(d) for d in response.deliveries],
    )


@dataclass(frozen=True)
class Watch:
    """A Watch stream to open: its request (whose ``after_sequence`` moves with every event received)
    and whether a broken stream is resumed."""

    request: pb.WatchRequest
    reconnect: bool


def watch(
    after_sequence: int = 0,
    subject_prefix: str = "",
    event_types: Iterable[str] = (),
    reconnect: bool = True,
    domain: str = "",
) -> Watch:
    """Change events after ``after_sequence``: the missed ones first, then live ones as they come.

    With ``reconnect`` a broken stream (server restart, too slow a reader) is resumed from the
    last sequence received, so every event arrives once, in order: within a back-off capped at 2 s
    of its address (or the next address of the target) answering again; the stream's ``gaps`` lists
    the breaks it bridged. ``RegistryClient`` returns an ``EventStream`` (``close()`` ends it, also
    from another thread), ``AsyncRegistryClient`` an ``AsyncEventStream``:
    ``async for event in client.watch(): …``.
    """
    if after_sequence < 0:
        raise InvalidArgument("after_sequence: must be 0 or more")
    request = pb.WatchRequest(
        after_sequence=after_sequence,
        subject_prefix=subject_prefix,
        domain=domain,
        event_types=list(event_types),
        batch=True,  # many events a message when behind; the stream hands them out one by one
    )
    return Watch(request, reconnect)


def _schema_fields(subject, schema, format, references) -> dict[str, Any]:
    """The subject, schema, format and references of a request, from a ``Contract`` or the arguments."""
    if isinstance(subject, Contract):
        contract = subject
        subject, schema, format, references = (
            contract.subject,
            contract.schema,
            contract.format,
            contract.references,
        )
    elif schema is None:
        raise TypeError("schema is required when no Contract is given")
    return {
        "subject": subject,
        "schema": schema,
        "format": format,
        "references": wire.references_to_pb(as_references(references)),
    }


def _wire_version(version: int | str) -> int:
    """The wire form of a version argument: 0 is the latest."""
    return parse_version(version) or 0


def _nothing(response: Any) -> None:
    return None
