"""Checking changed contracts: against the registry (levels and consumers) or offline against a git ref.

Both modes parse every new schema locally first (a schema that does not parse is a usage error with
file and line), and both ask the dbt manifest, when configured, which models read a dropped column.
"""

from __future__ import annotations

from ci_plugin import dbt_consumers
from ci_plugin.changes import ContractChange, ContractFile, load_at_ref
from ci_plugin.columns import top_level_fields
from ci_plugin.config import Config, ConfigError
from ci_plugin.findings import CheckReport, ContractResult, Finding
from ci_plugin.references import ResolveReferences
from registry.compat import Level, ParsedSchema, check_compatibility, get_format
from registry.contract import table_name
from registry.data_contract_diff import metadata_changes, rule_set_changes, served_after
from registry.data_contracts import published_metadata, published_rule_set
from registry.errors import InvalidSchema, SubjectNotFound, VersionNotFound

DEFAULT_LEVEL = Level.BACKWARD


def level_of(found: ContractFile) -> Level:
    text = found.contract.compatibility
    if not text:
        return DEFAULT_LEVEL
    try:
        return Level.parse(text)
    except ValueError as exc:
        raise ConfigError(f"{found.yaml_path}: compatibility: {exc}") from None


def parse(found: ContractFile, references: dict[str, str]) -> ParsedSchema:
    """The contract's schema, parsed; an unparseable schema is a usage error naming file and line."""
    schema_format = get_format(found.contract.format)
    try:
        return schema_format.parse(found.contract.schema, references, source_name=found.schema_path)
    except InvalidSchema as exc:
        raise ConfigError(f"{exc.message} (schema of {found.yaml_path})") from None


def _result(change: ContractChange, against: str) -> ContractResult:
    current = change.current
    return ContractResult(
        subject=change.subject,
        status=change.status,
        contract_file=current.yaml_path,
        schema_file=current.schema_path,
        checked_against=against,
    )


def check_offline(
    config: Config,
    changes: list[ContractChange],
    base: str,
    against: str,
    resolve: ResolveReferences,
    manifest: dict | None,
    against_name: str = "base",
) -> CheckReport:
    """Each changed contract against its own file at commit ``against`` (``against_name`` is how the
    user named it), at the contract's level."""
    report = CheckReport(base=base, mode="offline")
    for change in changes:
        result = _result(change, f"{against_name} ({against[:12]})")
        if change.new is not None:
            new_schema = parse(change.new, resolve(change.new))
            old = change.old if against == base else _old_at(config, change, against)
            if old is None:
                result.notes.append(f"new subject {change.subject}: no earlier version at {against[:12]}")
            else:
                level = level_of(change.new)
                result.level = level.value
                old_schema = parse(old, resolve(old))
                compat = check_compatibility(
                    get_format(change.new.contract.format), level, new_schema, [old_schema]
                )
                for violation in compat.violations:
                    result.findings.append(_compat_finding(change.new, violation))
                result.findings.extend(
                    data_contract_findings(
                        change.new,
                        published_metadata(change.subject, old.contract.metadata),
                        published_rule_set(old.contract.metadata),
                    )
                )
        result.findings.extend(dbt_findings(config, change, manifest, resolve))
        if change.new is None and not result.findings:
            known = (
                "no dbt model reads it" if manifest is not None else "no consumers are known (configure dbt)"
            )
            result.notes.append(f"deleted; offline, {known}; the registry would also check its consumers")
        report.results.append(result)
    return report


def check_against_registry(
    config: Config,
    changes: list[ContractChange],
    base: str,
    client,
    resolve: ResolveReferences,
    manifest: dict | None,
) -> CheckReport:
    """Each changed contract as the registry would judge it: its level over every registered version
    and every registered consumer's reader schema. ``Unavailable`` propagates to the caller."""
    report = CheckReport(base=base, mode="registry")
    for change in changes:
        result = _result(change, "registry")
        subject = change.subject
        if change.new is not None:
            parse(change.new, resolve(change.new))
            contract = change.new.contract
            if not _registered_versions(client, subject):
                result.notes.append(f"new subject {subject}: no registered version yet")
            result.level = client.get_config(subject).level.value
            missing = _unregistered_references(client, contract)
            if missing:
                result.notes.append(
                    f"references {', '.join(missing)}, not registered yet: the registry checks it at publish"
                )
            else:
                verdict = client.check(
                    subject, contract.schema, contract.format, contract.references, version="all"
                )
                for violation in verdict.violations:
                    result.findings.append(_registry_finding(change.new, violation, verdict.broken_consumers))
            if _registered_versions(client, subject):
                latest = client.get_version(subject, "latest")
                result.findings.extend(
                    data_contract_findings(change.new, latest.data_metadata, latest.rule_set)
                )
        else:
            consumers = sorted(consumer.name for consumer in client.list_consumers(subject))
            if consumers:
                result.findings.append(
                    Finding(
                        rule="CONTRACT_DELETED_WITH_CONSUMERS",
                        message=f"Contract {subject} is deleted but the registry has consumers: {', '.join(consumers)}.",
                        file=change.old.yaml_path,
                        fix="Keep the contract until its consumers have moved off it and unregistered.",
                        consumers=tuple(consumers),
                    )
                )
            else:
                result.notes.append(f"deleted; the registry lists no consumers of {subject}")
        result.findings.extend(dbt_findings(config, change, manifest, resolve))
        report.results.append(result)
    return report


def data_contract_findings(
    new: ContractFile, old_metadata: dict | None, old_rules: dict | None
) -> list[Finding]:
    """Confluent rules and metadata that registering ``new`` after a version serving ``old_metadata``
    and ``old_rules`` would change, as warnings and notes (never breaking, as in Confluent)."""
    new_metadata, new_rules = served_after(
        new.contract.subject, new.contract.metadata, old_metadata, old_rules
    )
    changes = rule_set_changes(old_rules, new_rules) + metadata_changes(old_metadata, new_metadata)
    return [
        Finding(rule=c.rule, message=c.message, file=new.yaml_path, path=c.path, severity=c.severity)
        for c in changes
    ]


def _unregistered_references(client, contract) -> list[str]:
    """References to versions the registry does not hold yet (typically added by the same change)."""
    missing = []
    for reference in contract.references:
        try:
            client.get_version(reference.subject, reference.version)
        except (SubjectNotFound, VersionNotFound):
            missing.append(f"{reference.subject} version {reference.version}")
    return missing


def _registered_versions(client, subject: str) -> list[int]:
    try:
        return client.list_versions(subject)
    except SubjectNotFound:
        return []


def _old_at(config: Config, change: ContractChange, ref: str) -> ContractFile | None:
    path = change.old.yaml_path if change.old is not None else change.new.yaml_path
    return load_at_ref(config, ref, path)


def _compat_finding(new: ContractFile, violation) -> Finding:
    """An engine violation: its message already ends with the fix (the engines' rule tables say it)."""
    return Finding(
        rule=violation.rule,
        message=violation.message,
        file=new.schema_path,
        line=violation.line,
        path=violation.path,
    )


def _registry_finding(new: ContractFile, violation, broken_consumers) -> Finding:
    """A violation from the registry: of the subject's level, or of a registered consumer (the
    verdict's ``broken_consumers`` list each consumer's violations and the fields they break)."""
    consumer = next((c for c in broken_consumers if violation in c.violations), None)
    if consumer is None:
        fix = "Make the change compatible with every registered version at the subject's level, or publish a new subject."
    elif consumer.fields:
        fix = f"Keep field(s) {', '.join(consumer.fields)} that consumer {consumer.name} reads, or agree a migration with its owners first."
    else:
        fix = f"Keep what consumer {consumer.name} reads (see the message), or agree a migration with its owners first."
    return Finding(
        rule=violation.rule,
        message=violation.message,
        file=new.schema_path,
        line=violation.line,
        path=violation.path,
        fix=fix,
        consumers=(consumer.name,) if consumer else (),
    )


def dbt_findings(
    config: Config, change: ContractChange, manifest: dict | None, resolve: ResolveReferences
) -> list[Finding]:
    """Columns that dbt models read and that this change drops (or the whole table, when deleted)."""
    if manifest is None or change.old is None:
        return []
    source, table = _dbt_source(config, change.old)
    uses = dbt_consumers.source_consumers(manifest, source, table)
    if not uses:
        return []
    if change.new is None:
        models = [use.model for use in uses]
        return [
            Finding(
                rule="DBT_SOURCE_DELETED",
                message=f"Contract {change.subject} is deleted but dbt models read {source}.{table}: {', '.join(models)}.",
                file=change.old.yaml_path,
                fix="Remove or migrate those dbt models first, then delete the contract.",
                consumers=tuple(models),
            )
        ]
    old_contract, new_contract = change.old.contract, change.new.contract
    old_fields = top_level_fields(
        old_contract.format, old_contract.schema, change.subject, resolve(change.old)
    )
    new_fields = set(
        top_level_fields(new_contract.format, new_contract.schema, change.subject, resolve(change.new))
    )
    findings = []
    for column in old_fields:
        if column in new_fields:
            continue
        for use in uses:
            if use.reads(column):
                findings.append(
                    Finding(
                        rule="DBT_COLUMN_DROPPED",
                        message=(
                            f"Field {column!r} is dropped (or renamed) but dbt model {use.model} ({use.file}) "
                            f"reads column {column} of {source}.{table}."
                        ),
                        file=change.new.schema_path,
                        path=f"{change.subject.rsplit('.', 1)[-1]}.{column}",
                        fix=f"Keep field {column!r}, or first change dbt model {use.model} to stop reading it.",
                        consumers=(use.model,),
                    )
                )
    return findings


def _dbt_source(config: Config, found: ContractFile) -> tuple[str, str]:
    if found.entry is not None and found.entry.dbt_source:
        source, table = found.entry.dbt_source.split(".", 1)
        return source, table
    return config.dbt.source, table_name(found.contract.subject)
