"""Conversions between the service's dataclasses and the gRPC messages (server and client share them)."""

from __future__ import annotations

import json
from datetime import datetime

from registry.api import registry_pb2 as pb
from registry.compat import Level, Violation
from registry.contract import ContractMetadata, Reference
from registry.data_contracts import parse_metadata, parse_rule_set, served
from registry.errors import InvalidArgument
from registry.model import (
    ApiToken,
    AuditEntry,
    BrokenConsumer,
    CheckResult,
    Consumer,
    DataContractConfig,
    Delivery,
    Event,
    RegisteredSchema,
    SchemaRecord,
    SubjectConfig,
    Webhook,
)


def references_to_pb(references) -> list[pb.Reference]:
    return [pb.Reference(name=r.name, subject=r.subject, version=r.version) for r in references]


def references_from_pb(references) -> tuple[Reference, ...]:
    return tuple(Reference(name=r.name, subject=r.subject, version=r.version) for r in references)


def config_to_pb(subject: str, config: SubjectConfig) -> pb.Config:
    contract = config.data_contract
    return pb.Config(
        subject=subject,
        level=config.level.value,
        ruleset=config.ruleset or "",
        inherited=config.inherited,
        compatibility_group=contract.compatibility_group or "",
        default_metadata_json=json_text(contract.default_metadata),
        override_metadata_json=json_text(contract.override_metadata),
        default_rule_set_json=json_text(contract.default_rule_set),
        override_rule_set_json=json_text(contract.override_rule_set),
    )


def config_from_pb(message: pb.Config) -> SubjectConfig:
    return SubjectConfig(
        Level(message.level),
        message.ruleset or None,
        message.inherited,
        data_contract_config_from_pb(message),
    )


def data_contract_config_from_pb(message: pb.Config | pb.SetConfigRequest) -> DataContractConfig:
    """The Confluent data-contract settings of a ``Config`` or ``SetConfigRequest`` (empty: unset)."""
    return DataContractConfig(
        compatibility_group=message.compatibility_group or None,
        default_metadata=metadata_from_json(message.default_metadata_json, "default_metadata_json"),
        override_metadata=metadata_from_json(message.override_metadata_json, "override_metadata_json"),
        default_rule_set=rule_set_from_json(message.default_rule_set_json, "default_rule_set_json"),
        override_rule_set=rule_set_from_json(message.override_rule_set_json, "override_rule_set_json"),
    )


def json_text(value: dict | None) -> str:
    """Confluent data-contract JSON for a message field; "" for none."""
    return "" if value is None else json.dumps(value, sort_keys=True)


def metadata_from_json(text: str, where: str) -> dict | None:
    return parse_metadata(_json_field(text, where), where)


def rule_set_from_json(text: str, where: str) -> dict | None:
    return parse_rule_set(_json_field(text, where), where)


def _json_field(text: str, where: str):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidArgument(f"{where}: not valid JSON") from None


def metadata_to_pb(metadata: ContractMetadata) -> pb.ContractMetadata:
    return pb.ContractMetadata(
        owner_domain=metadata.owner_domain,
        description=metadata.description,
        primary_key=metadata.primary_key,
        pii_fields=metadata.pii_fields,
        quality_rules=[
            pb.QualityRule(
                field=rule.field,
                rule=rule.rule,
                values_json=json.dumps(list(rule.values)) if rule.values else "",
                value_json=json.dumps(rule.value) if rule.value is not None else "",
            )
            for rule in metadata.quality_rules
        ],
        freshness_sla=metadata.freshness_sla,
        mask_pii_at=metadata.mask_pii_at,
    )


def metadata_from_pb(message: pb.ContractMetadata) -> ContractMetadata:
    """Validated like a contract file's metadata: errors name the field (``metadata.quality_rules[0]``)."""
    rules = []
    for i, rule in enumerate(message.quality_rules):
        raw: dict = {"field": rule.field, "rule": rule.rule}
        for key, text in (("values", rule.values_json), ("value", rule.value_json)):
            if text:
                try:
                    raw[key] = json.loads(text)
                except ValueError:
                    raise InvalidArgument(f"metadata.quality_rules[{i}].{key}_json: not valid JSON") from None
        rules.append(raw)
    return ContractMetadata.from_dict(
        {
            "owner_domain": message.owner_domain,
            "description": message.description,
            "primary_key": list(message.primary_key),
            "pii_fields": list(message.pii_fields),
            "quality_rules": rules,
            "freshness_sla": message.freshness_sla,
            "mask_pii_at": message.mask_pii_at or "silver",
        }
    )


def schema_version_to_pb(registered: RegisteredSchema) -> pb.SchemaVersion:
    """The version with its Confluent data contract as served (``registry.data_contracts.served``)."""
    data_metadata, rule_set = served(
        registered.subject, registered.metadata, registered.data_metadata, registered.rule_set
    )
    return pb.SchemaVersion(
        subject=registered.subject,
        version=registered.version,
        schema_id=registered.schema_id,
        format=registered.format,
        schema=registered.schema,
        references=references_to_pb(registered.references),
        metadata=metadata_to_pb(registered.metadata),
        deleted=registered.deleted,
        guid=registered.guid,
        data_metadata_json=json_text(data_metadata),
        rule_set_json=json_text(rule_set),
    )


def schema_version_from_pb(message: pb.SchemaVersion) -> RegisteredSchema:
    return RegisteredSchema(
        subject=message.subject,
        version=message.version,
        schema_id=message.schema_id,
        format=message.format,
        schema=message.schema,
        references=references_from_pb(message.references),
        metadata=metadata_from_pb(message.metadata),
        deleted=message.deleted,
        guid=message.guid,
        data_metadata=metadata_from_json(message.data_metadata_json, "data_metadata_json"),
        rule_set=rule_set_from_json(message.rule_set_json, "rule_set_json"),
    )


def schema_to_pb(record: SchemaRecord) -> pb.Schema:
    return pb.Schema(
        id=record.id,
        format=record.format,
        schema=record.schema,
        references=references_to_pb(record.references),
        guid=record.guid,
    )


def schema_from_pb(message: pb.Schema) -> SchemaRecord:
    return SchemaRecord(
        id=message.id,
        format=message.format,
        schema=message.schema,
        references=references_from_pb(message.references),
        guid=message.guid,
    )


def violations_to_pb(violations) -> list[pb.Violation]:
    return [pb.Violation(rule=v.rule, path=v.path, message=v.message, line=v.line or 0) for v in violations]


def violations_from_pb(violations) -> list[Violation]:
    return [Violation(v.rule, v.path, v.message, v.line or None) for v in violations]


def broken_consumer_to_pb(consumer: BrokenConsumer) -> pb.BrokenConsumer:
    return pb.BrokenConsumer(
        name=consumer.name, fields=consumer.fields, violations=violations_to_pb(consumer.violations)
    )


def broken_consumer_from_pb(message: pb.BrokenConsumer) -> BrokenConsumer:
    return BrokenConsumer(message.name, tuple(message.fields), tuple(violations_from_pb(message.violations)))


def check_result_to_pb(result: CheckResult) -> pb.CheckCompatibilityResponse:
    return pb.CheckCompatibilityResponse(
        compatible=result.compatible,
        violations=violations_to_pb(result.violations),
        consumers=result.consumers,
        broken_consumers=[broken_consumer_to_pb(c) for c in result.broken_consumers],
    )


def check_result_from_pb(message: pb.CheckCompatibilityResponse) -> CheckResult:
    return CheckResult(
        violations=violations_from_pb(message.violations),
        consumers=list(message.consumers),
        broken_consumers=[broken_consumer_from_pb(c) for c in message.broken_consumers],
    )


def consumer_to_pb(consumer: Consumer) -> pb.Consumer:
    return pb.Consumer(
        name=consumer.name,
        subject=consumer.subject,
        format=consumer.format,
        version=consumer.version or 0,
        reader_schema=consumer.reader_schema or "",
        fields=consumer.fields,
    )


def consumer_from_pb(message: pb.Consumer) -> Consumer:
    return Consumer(
        name=message.name,
        subject=message.subject,
        format=message.format,
        version=message.version or None,
        reader_schema=message.reader_schema or None,
        fields=tuple(message.fields),
    )


def event_to_pb(event: Event) -> pb.ChangeEvent:
    return pb.ChangeEvent(
        sequence=event.sequence,
        type=event.type,
        subject=event.subject,
        version=event.version or 0,
        schema_id=event.schema_id or 0,
        time=event.time.isoformat() if event.time else "",
        detail_json=json.dumps(event.detail, sort_keys=True),
    )


def event_from_pb(message: pb.ChangeEvent) -> Event:
    return Event(
        sequence=message.sequence,
        type=message.type,
        subject=message.subject,
        version=message.version or None,
        schema_id=message.schema_id or None,
        time=datetime.fromisoformat(message.time) if message.time else None,
        detail=json.loads(message.detail_json) if message.detail_json else {},
    )


def api_token_to_pb(token: ApiToken) -> pb.ApiToken:
    return pb.ApiToken(
        id=token.id,
        name=token.name,
        role=token.role,
        domains=list(token.domains),
        created_at=_time_text(token.created_at),
        expires_at=_time_text(token.expires_at),
        revoked_at=_time_text(token.revoked_at),
        created_by=token.created_by,
    )


def api_token_from_pb(message: pb.ApiToken) -> ApiToken:
    return ApiToken(
        id=message.id,
        name=message.name,
        role=message.role,
        domains=tuple(message.domains),
        created_at=_time(message.created_at),
        created_by=message.created_by,
        expires_at=_time(message.expires_at),
        revoked_at=_time(message.revoked_at),
    )


def audit_entry_to_pb(entry: AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        id=entry.id,
        time=_time_text(entry.time),
        token_id=entry.token_id or 0,
        token_name=entry.token_name,
        action=entry.action,
        target=entry.target,
        peer=entry.peer,
        outcome=entry.outcome,
        role=entry.role,
    )


def audit_entry_from_pb(message: pb.AuditEntry) -> AuditEntry:
    return AuditEntry(
        id=message.id,
        time=_time(message.time),
        token_id=message.token_id or None,
        token_name=message.token_name,
        action=message.action,
        target=message.target,
        peer=message.peer,
        outcome=message.outcome,
        role=message.role,
    )


def _time_text(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _time(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def webhook_to_pb(webhook: Webhook) -> pb.Webhook:
    return pb.Webhook(
        id=webhook.id,
        url=webhook.url,
        subject_prefix=webhook.subject_prefix,
        event_types=list(webhook.event_types),
        cursor=webhook.cursor,
        attempts=webhook.attempts,
        created_at=_time_text(webhook.created_at),
        created_by=webhook.created_by,
    )


def webhook_from_pb(message: pb.Webhook) -> Webhook:
    return Webhook(
        id=message.id,
        url=message.url,
        subject_prefix=message.subject_prefix,
        event_types=tuple(message.event_types),
        cursor=message.cursor,
        attempts=message.attempts,
        created_at=_time(message.created_at),
        created_by=message.created_by,
    )


def delivery_to_pb(delivery: Delivery) -> pb.Delivery:
    return pb.Delivery(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        sequence=delivery.sequence,
        attempt=delivery.attempt,
        time=_time_text(delivery.time),
        status_code=delivery.status_code or 0,
        outcome=delivery.outcome,
    )


def delivery_from_pb(message: pb.Delivery) -> Delivery:
    return Delivery(
        id=message.id,
        webhook_id=message.webhook_id,
        sequence=message.sequence,
        attempt=message.attempt,
        time=_time(message.time),
        status_code=message.status_code or None,
        outcome=message.outcome,
    )
