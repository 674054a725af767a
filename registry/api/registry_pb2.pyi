from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Reference(_message.Message):
    __slots__ = ("name", "subject", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    version: int
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class QualityRule(_message.Message):
    __slots__ = ("field", "rule", "values_json", "value_json")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    VALUES_JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    field: str
    rule: str
    values_json: str
    value_json: str
    def __init__(self, field: _Optional[str] = ..., rule: _Optional[str] = ..., values_json: _Optional[str] = ..., value_json: _Optional[str] = ...) -> None: ...

class ContractMetadata(_message.Message):
    __slots__ = ("owner_domain", "description", "primary_key", "pii_fields", "quality_rules", "freshness_sla", "mask_pii_at")
    OWNER_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    PII_FIELDS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_RULES_FIELD_NUMBER: _ClassVar[int]
    FRESHNESS_SLA_FIELD_NUMBER: _ClassVar[int]
    MASK_PII_AT_FIELD_NUMBER: _ClassVar[int]
    owner_domain: str
    description: str
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    pii_fields: _containers.RepeatedScalarFieldContainer[str]
    quality_rules: _containers.RepeatedCompositeFieldContainer[QualityRule]
    freshness_sla: str
    mask_pii_at: str
    def __init__(self, owner_domain: _Optional[str] = ..., description: _Optional[str] = ..., primary_key: _Optional[_Iterable[str]] = ..., pii_fields: _Optional[_Iterable[str]] = ..., quality_rules: _Optional[_Iterable[_Union[QualityRule, _Mapping]]] = ..., freshness_sla: _Optional[str] = ..., mask_pii_at: _Optional[str] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("rule", "path", "message", "line")
    RULE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    rule: str
    path: str
    message: str
    line: int
    def __init__(self, rule: _Optional[str] = ..., path: _Optional[str] = ..., message: _Optional[str] = ..., line: _Optional[int] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("id", "format", "schema", "references", "guid")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    GUID_FIELD_NUMBER: _ClassVar[int]
    id: int
    format: str
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    guid: str
    def __init__(self, id: _Optional[int] = ..., format: _Optional[str] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., guid: _Optional[str] = ...) -> None: ...

class SchemaVersion(_message.Message):
    __slots__ = ("subject", "version", "schema_id", "format", "schema", "references", "metadata", "deleted", "guid", "data_metadata_json", "rule_set_json")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    GUID_FIELD_NUMBER: _ClassVar[int]
    DATA_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    schema_id: int
    format: str
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    metadata: ContractMetadata
    deleted: bool
    guid: str
    data_metadata_json: str
    rule_set_json: str
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., schema_id: _Optional[int] = ..., format: _Optional[str] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., metadata: _Optional[_Union[ContractMetadata, _Mapping]] = ..., deleted: _Optional[bool] = ..., guid: _Optional[str] = ..., data_metadata_json: _Optional[str] = ..., rule_set_json: _Optional[str] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("subject", "format", "schema", "references", "metadata", "normalize", "data_metadata_json", "rule_set_json", "id", "version")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    DATA_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    subject: str
    format: str
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    metadata: ContractMetadata
    normalize: bool
    data_metadata_json: str
    rule_set_json: str
    id: int
    version: int
    def __init__(self, subject: _Optional[str] = ..., format: _Optional[str] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., metadata: _Optional[_Union[ContractMetadata, _Mapping]] = ..., normalize: _Optional[bool] = ..., data_metadata_json: _Optional[str] = ..., rule_set_json: _Optional[str] = ..., id: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class GetLatestWithMetadataRequest(_message.Message):
    __slots__ = ("subject", "properties", "include_deleted")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    properties: _containers.ScalarMap[str, str]
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class CheckCompatibilityRequest(_message.Message):
    __slots__ = ("subject", "format", "schema", "references", "version", "data_metadata_json")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    subject: str
    format: str
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    version: str
    data_metadata_json: str
    def __init__(self, subject: _Optional[str] = ..., format: _Optional[str] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., version: _Optional[str] = ..., data_metadata_json: _Optional[str] = ...) -> None: ...

class CheckCompatibilityResponse(_message.Message):
    __slots__ = ("compatible", "violations", "consumers", "broken_consumers")
    COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    BROKEN_CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    compatible: bool
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    consumers: _containers.RepeatedScalarFieldContainer[str]
    broken_consumers: _containers.RepeatedCompositeFieldContainer[BrokenConsumer]
    def __init__(self, compatible: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., consumers: _Optional[_Iterable[str]] = ..., broken_consumers: _Optional[_Iterable[_Union[BrokenConsumer, _Mapping]]] = ...) -> None: ...

class BrokenConsumer(_message.Message):
    __slots__ = ("name", "fields", "violations")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    def __init__(self, name: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ...) -> None: ...

class BrokenConsumers(_message.Message):
    __slots__ = ("consumers",)
    CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    consumers: _containers.RepeatedCompositeFieldContainer[BrokenConsumer]
    def __init__(self, consumers: _Optional[_Iterable[_Union[BrokenConsumer, _Mapping]]] = ...) -> None: ...

class LookupSchemaRequest(_message.Message):
    __slots__ = ("subject", "format", "schema", "references", "include_deleted")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    format: str
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[Reference]
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., format: _Optional[str] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class GetSchemaByIdRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class GetSchemaByGuidRequest(_message.Message):
    __slots__ = ("guid",)
    GUID_FIELD_NUMBER: _ClassVar[int]
    guid: str
    def __init__(self, guid: _Optional[str] = ...) -> None: ...

class ListSchemaVersionsRequest(_message.Message):
    __slots__ = ("id", "subject")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    id: int
    subject: str
    def __init__(self, id: _Optional[int] = ..., subject: _Optional[str] = ...) -> None: ...

class SubjectVersion(_message.Message):
    __slots__ = ("subject", "version")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListSchemaVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[SubjectVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[SubjectVersion, _Mapping]]] = ...) -> None: ...

class GetReferencedByRequest(_message.Message):
    __slots__ = ("subject", "version")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetReferencedByResponse(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetSchemaByVersionRequest(_message.Message):
    __slots__ = ("subject", "version", "include_deleted")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListSubjectsRequest(_message.Message):
    __slots__ = ("prefix", "include_deleted")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    include_deleted: bool
    def __init__(self, prefix: _Optional[str] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListSubjectsResponse(_message.Message):
    __slots__ = ("subjects",)
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subjects: _Optional[_Iterable[str]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("subject", "include_deleted")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, versions: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteSubjectRequest(_message.Message):
    __slots__ = ("subject", "permanent")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    permanent: bool
    def __init__(self, subject: _Optional[str] = ..., permanent: _Optional[bool] = ...) -> None: ...

class DeleteSubjectResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, versions: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteVersionRequest(_message.Message):
    __slots__ = ("subject", "version", "permanent")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    permanent: bool
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., permanent: _Optional[bool] = ...) -> None: ...

class DeleteVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class SetConfigRequest(_message.Message):
    __slots__ = ("subject", "level", "ruleset", "compatibility_group", "default_metadata_json", "override_metadata_json", "default_rule_set_json", "override_rule_set_json")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    RULESET_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    subject: str
    level: str
    ruleset: str
    compatibility_group: str
    default_metadata_json: str
    override_metadata_json: str
    default_rule_set_json: str
    override_rule_set_json: str
    def __init__(self, subject: _Optional[str] = ..., level: _Optional[str] = ..., ruleset: _Optional[str] = ..., compatibility_group: _Optional[str] = ..., default_metadata_json: _Optional[str] = ..., override_metadata_json: _Optional[str] = ..., default_rule_set_json: _Optional[str] = ..., override_rule_set_json: _Optional[str] = ...) -> None: ...

class DeleteConfigRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("subject", "level", "ruleset", "inherited", "compatibility_group", "default_metadata_json", "override_metadata_json", "default_rule_set_json", "override_rule_set_json")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    RULESET_FIELD_NUMBER: _ClassVar[int]
    INHERITED_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_RULE_SET_JSON_FIELD_NUMBER: _ClassVar[int]
    subject: str
    level: str
    ruleset: str
    inherited: bool
    compatibility_group: str
    default_metadata_json: str
    override_metadata_json: str
    default_rule_set_json: str
    override_rule_set_json: str
    def __init__(self, subject: _Optional[str] = ..., level: _Optional[str] = ..., ruleset: _Optional[str] = ..., inherited: _Optional[bool] = ..., compatibility_group: _Optional[str] = ..., default_metadata_json: _Optional[str] = ..., override_metadata_json: _Optional[str] = ..., default_rule_set_json: _Optional[str] = ..., override_rule_set_json: _Optional[str] = ...) -> None: ...

class GetModeRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class SetModeRequest(_message.Message):
    __slots__ = ("subject", "mode", "force")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    mode: str
    force: bool
    def __init__(self, subject: _Optional[str] = ..., mode: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteModeRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class Mode(_message.Message):
    __slots__ = ("subject", "mode")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    mode: str
    def __init__(self, subject: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class RegisterConsumerRequest(_message.Message):
    __slots__ = ("name", "subject", "version", "reader_schema", "fields", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    READER_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    version: int
    reader_schema: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    format: str
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ..., version: _Optional[int] = ..., reader_schema: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., format: _Optional[str] = ...) -> None: ...

class Consumer(_message.Message):
    __slots__ = ("name", "subject", "format", "version", "reader_schema", "fields")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    READER_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    format: str
    version: int
    reader_schema: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ..., format: _Optional[str] = ..., version: _Optional[int] = ..., reader_schema: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ListConsumersRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class ListConsumersResponse(_message.Message):
    __slots__ = ("consumers",)
    CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    consumers: _containers.RepeatedCompositeFieldContainer[Consumer]
    def __init__(self, consumers: _Optional[_Iterable[_Union[Consumer, _Mapping]]] = ...) -> None: ...

class RemoveConsumerRequest(_message.Message):
    __slots__ = ("name", "subject")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class RemoveConsumerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("subject_prefix", "domain", "event_types", "after_sequence", "batch")
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    subject_prefix: str
    domain: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    after_sequence: int
    batch: bool
    def __init__(self, subject_prefix: _Optional[str] = ..., domain: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., after_sequence: _Optional[int] = ..., batch: _Optional[bool] = ...) -> None: ...

class ChangeEvent(_message.Message):
    __slots__ = ("sequence", "type", "subject", "version", "schema_id", "time", "detail_json")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: str
    subject: str
    version: int
    schema_id: int
    time: str
    detail_json: str
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[str] = ..., subject: _Optional[str] = ..., version: _Optional[int] = ..., schema_id: _Optional[int] = ..., time: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("latest_sequence", "time")
    LATEST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    latest_sequence: int
    time: str
    def __init__(self, latest_sequence: _Optional[int] = ..., time: _Optional[str] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("event", "heartbeat", "events")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    event: ChangeEvent
    heartbeat: Heartbeat
    events: _containers.RepeatedCompositeFieldContainer[ChangeEvent]
    def __init__(self, event: _Optional[_Union[ChangeEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ChangeEvent, _Mapping]]] = ...) -> None: ...

class ApiToken(_message.Message):
    __slots__ = ("id", "name", "role", "domains", "created_at", "expires_at", "revoked_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    role: str
    domains: _containers.RepeatedScalarFieldContainer[str]
    created_at: str
    expires_at: str
    revoked_at: str
    created_by: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., domains: _Optional[_Iterable[str]] = ..., created_at: _Optional[str] = ..., expires_at: _Optional[str] = ..., revoked_at: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role", "domains", "expires_in_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    domains: _containers.RepeatedScalarFieldContainer[str]
    expires_in_seconds: int
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., domains: _Optional[_Iterable[str]] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: ApiToken
    secret: str
    def __init__(self, token: _Optional[_Union[ApiToken, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("include_revoked",)
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    include_revoked: bool
    def __init__(self, include_revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[ApiToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[ApiToken, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("id", "time", "token_id", "token_name", "action", "target", "peer", "outcome", "role")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    id: int
    time: str
    token_id: int
    token_name: str
    action: str
    target: str
    peer: str
    outcome: str
    role: str
    def __init__(self, id: _Optional[int] = ..., time: _Optional[str] = ..., token_id: _Optional[int] = ..., token_name: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., peer: _Optional[str] = ..., outcome: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("id", "url", "subject_prefix", "event_types", "cursor", "attempts", "created_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: int
    url: str
    subject_prefix: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    cursor: int
    attempts: int
    created_at: str
    created_by: str
    def __init__(self, id: _Optional[int] = ..., url: _Optional[str] = ..., subject_prefix: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., cursor: _Optional[int] = ..., attempts: _Optional[int] = ..., created_at: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class AddWebhookRequest(_message.Message):
    __slots__ = ("url", "secret", "subject_prefix", "event_types", "after_sequence")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    subject_prefix: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    after_sequence: int
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ..., subject_prefix: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class AddWebhookResponse(_message.Message):
    __slots__ = ("webhook", "secret")
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    secret: str
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListWebhooksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWebhooksResponse(_message.Message):
    __slots__ = ("webhooks",)
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    def __init__(self, webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ...) -> None: ...

class RemoveWebhookRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class RemoveWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("id", "webhook_id", "sequence", "attempt", "time", "status_code", "outcome")
    ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    id: int
    webhook_id: int
    sequence: int
    attempt: int
    time: str
    status_code: int
    outcome: str
    def __init__(self, id: _Optional[int] = ..., webhook_id: _Optional[int] = ..., sequence: _Optional[int] = ..., attempt: _Optional[int] = ..., time: _Optional[str] = ..., status_code: _Optional[int] = ..., outcome: _Optional[str] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("webhook_id", "limit")
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    webhook_id: int
    limit: int
    def __init__(self, webhook_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...
