"""The Open Data Contract Standard (ODCS v3), which datacontract-cli reads and writes, to and from
meshgate contracts.

``to_odcs`` writes a version as one ODCS document: the subject as ``id``, the owner as ``domain``,
the description as ``description.purpose``, one schema object (the subject's table) whose
properties are the schema's fields with the contract's promises on them (``required`` for
``not_null`` and non-null fields, ``unique``, ``primaryKey``, ``classification: pii``,
``logicalTypeOptions`` ``minimum`` / ``maximum`` / ``pattern``, an ``invalidValues`` library rule for
``accepted_values``), the freshness SLA as ``slaProperties``, and the schema text itself, its format
and ``mask_pii_at`` as custom properties, so ``from_odcs`` reads back the same contract. A document
without meshgate's custom properties gets an Avro schema made from its properties.

The properties come from the schema's neutral field tree (``ParsedSchema.fields()``), so Avro,
Protobuf and JSON Schema contracts export alike: ``physicalType`` is the neutral kind (``long``,
``decimal(10,2)``, ``record`` ...), ``logicalType`` its ODCS counterpart.

Both directions return the parts that have no counterpart as warnings: nothing is dropped silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from registry.compat import get_format
from registry.compat.fields import Field, Type
from registry.contract import (
    SUBJECT_PATTERN,
    Contract,
    ContractMetadata,
    QualityRule,
    domain_of,
    load_contract,
    table_name,
    validate_subject,
)
from registry.errors import InvalidArgument, MeshgateError
from registry.limits import load_yaml
from registry.model import RegisteredSchema

API_VERSION = "v3.1.0"
PII = "pii"
FORMAT_PROPERTY = "meshgateFormat"
SCHEMA_PROPERTY = "meshgateSchema"
MASK_PROPERTY = "meshgateMaskPiiAt"
_SLA_UNITS = {"s": "s", "m": "m", "h": "h", "d": "d"}
_LOGICAL_TYPES = {
    "string": "string",
    "uuid": "string",
    "bytes": "string",
    "fixed": "string",
    "enum": "string",
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "record": "object",
    "map": "object",
    "list": "array",
}
"""Neutral kind -> ODCS ``logicalType``; the kinds missing here (``union``, ``null``, ``json``) have
no ODCS type: exported as ``string`` with a warning."""
_LOGICAL_AVRO = {
    "string": "string",
    "integer": "long",
    "number": "double",
    "boolean": "boolean",
    "date": "string",
}
_TOP_LEVEL = {"apiVersion", "kind", "id", "name", "version", "status", "domain", "description", "schema"}
_PROPERTY_KEYS = {
    "name",
    "logicalType",
    "physicalType",
    "required",
    "unique",
    "primaryKey",
    "primaryKeyPosition",
    "classification",
    "logicalTypeOptions",
    "quality",
    "properties",
}


def is_odcs(data: Any) -> bool:
    """Whether a parsed YAML document is an ODCS v3 data contract (not a meshgate contract file)."""
    return (
        isinstance(data, dict)
        and data.get("kind") == "DataContract"
        and str(data.get("apiVersion", "")).startswith("v3")
    )


# ---- meshgate -> ODCS ---------------------------------------------------------------------------


def to_odcs(registered: RegisteredSchema) -> tuple[dict, list[str]]:
    """The version as an ODCS v3 document, and what of it ODCS cannot carry."""
    meta = registered.metadata
    warnings: list[str] = []
    rules = _rules_by_field(meta.quality_rules)
    fields = _schema_fields(registered.format, registered.schema)
    if fields is None:
        warnings.append(
            f"schema.properties: the fields of this {registered.format} schema are not listed (it needs "
            f"the schemas it references, or has no finite field tree); the schema text is kept in "
            f"customProperties.{SCHEMA_PROPERTY}"
        )
        fields = ()
    for rule in meta.quality_rules:
        found = _find(fields, rule.field) if rule.rule == "not_null" else None
        if found is not None and not found.nullable:
            warnings.append(f"quality rule not_null on {rule.field}: implied by its non-null type (required)")
    properties = [_property(f, f.name, meta, rules, warnings) for f in fields]
    for path, field_rules in sorted(rules.items()):
        for rule in field_rules:
            warnings.append(
                f"quality rule {rule.rule} on {path}: no field {path} in the schema; not exported"
            )
    for path in meta.pii_fields + meta.primary_key:
        if _find(fields, path) is None:
            warnings.append(
                f"{path}: no such field in the schema; its PII / primary key mark is not exported"
            )
    if registered.references:
        names = ", ".join(f"{r.subject} version {r.version}" for r in registered.references)
        warnings.append(f"references ({names}): ODCS has no schema references; not exported")
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": registered.subject,
        "name": registered.subject,
        "version": str(registered.version),
        "status": "active",
    }
    if meta.owner_domain:
        document["domain"] = meta.owner_domain
    if meta.description:
        document["description"] = {"purpose": meta.description}
    name = _object_name(registered.subject)
    document["schema"] = [
        {
            "name": name,
            "physicalName": name,
            "logicalType": "object",
            "physicalType": "table",
            "properties": properties,
        }
    ]
    if meta.freshness_sla:
        amount, unit = int(meta.freshness_sla[:-1]), meta.freshness_sla[-1]
        document["slaProperties"] = [{"property": "freshness", "value": amount, "unit": _SLA_UNITS[unit]}]
    document["customProperties"] = [
        {"property": FORMAT_PROPERTY, "value": registered.format},
        {"property": SCHEMA_PROPERTY, "value": registered.schema},
        {"property": MASK_PROPERTY, "value": meta.mask_pii_at},
    ]
    return document, warnings


def _property(
    field: Field, path: str, meta: ContractMetadata, rules: dict[str, list[QualityRule]], warnings: list[str]
) -> dict:
    """One field as an ODCS property; the rules it carries are taken out of ``rules``."""
    own = rules.pop(path, [])
    kinds = {rule.rule: rule for rule in own}
    kind = field.type.kind
    logical = _LOGICAL_TYPES.get(kind)
    if logical is None:
        warnings.append(f"{path}: a {kind} value has no ODCS logical type; exported as logicalType string")
    prop: dict[str, Any] = {
        "name": field.name,
        "logicalType": logical or "string",
        "physicalType": _physical_type(field.type),
        "required": not field.nullable or "not_null" in kinds,
    }
    if "unique" in kinds:
        prop["unique"] = True
    if path in meta.primary_key:
        prop["primaryKey"] = True
        prop["primaryKeyPosition"] = meta.primary_key.index(path) + 1
    if path in meta.pii_fields:
        prop["classification"] = PII
    options = {}
    for kind, key in (("min", "minimum"), ("max", "maximum"), ("regex", "pattern")):
        if kind in kinds:
            options[key] = kinds[kind].value
    if options:
        prop["logicalTypeOptions"] = options
    if "accepted_values" in kinds:
        prop["quality"] = [
            {
                "type": "library",
                "metric": "invalidValues",
                "arguments": {"validValues": list(kinds["accepted_values"].values)},
                "mustBe": 0,
            }
        ]
    leftovers = [r for r in own if list(kinds.values()).count(r) == 0]
    if leftovers:  # a second rule of one kind on one field: ODCS has one slot per kind
        rules[path] = leftovers
    if field.type.fields:
        prop["properties"] = [
            _property(f, f"{path}.{f.name}", meta, rules, warnings) for f in field.type.fields
        ]
    return prop


def _physical_type(kind: Type) -> str:
    if kind.kind == "decimal":
        return f"decimal({kind.precision},{kind.scale})"
    return kind.kind


def _rules_by_field(quality_rules: list[QualityRule]) -> dict[str, list[QualityRule]]:
    found: dict[str, list[QualityRule]] = {}
    for rule in quality_rules:
        found.setdefault(rule.field, []).append(rule)
    return found


def _object_name(subject: str) -> str:
    if SUBJECT_PATTERN.match(subject):
        return table_name(subject)
    return re.sub(r"[^A-Za-z0-9_]", "_", subject)


def _schema_fields(format_name: str, text: str) -> tuple[Field, ...] | None:
    """The neutral field tree of the schema, or None where there is none to list (a schema that
    imports others, a recursive type, an unknown format)."""
    try:
        return get_format(format_name).parse(text).fields()
    except (MeshgateError, ValueError):
        return None


def _find(fields: tuple[Field, ...], path: str) -> Field | None:
    head, _, rest = path.partition(".")
    for field in fields:
        if field.name == head:
            return field if not rest else _find(field.type.fields, rest)
    return None


# ---- ODCS -> meshgate ---------------------------------------------------------------------------


def load_contract_file(path: str | Path) -> tuple[Contract, list[str]]:
    """A meshgate contract file or an ODCS v3 file (told apart by ``kind: DataContract``), with
    the ODCS parts that do not map as warnings."""
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None  # load_contract names the file, line and column
    if is_odcs(data):
        return from_odcs(data, str(path))
    return load_contract(path), []


def load_odcs(path: str | Path) -> tuple[Contract, list[str]]:
    """Read an ODCS v3 file as a meshgate contract, with the parts that do not map as warnings."""
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"{path}: cannot read the data contract: {exc}") from None
    return from_odcs(data, str(path))


def from_odcs(data: Any, where: str = "contract") -> tuple[Contract, list[str]]:
    if not is_odcs(data):
        raise InvalidArgument(f"{where}: not an ODCS v3 data contract (apiVersion v3.x, kind DataContract)")
    warnings = [
        f"{key}: not mapped to meshgate"
        for key in sorted(set(data) - _TOP_LEVEL - {"slaProperties", "customProperties"})
    ]
    subject = data.get("id")
    if not isinstance(subject, str):
        raise InvalidArgument(f"{where}: id: the subject (domain.Name) is required")
    try:
        validate_subject(subject)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: id: {exc.message}") from None
    custom = _custom_properties(data.get("customProperties"), warnings, where)
    objects = data.get("schema")
    if not isinstance(objects, list) or not objects or not isinstance(objects[0], dict):
        raise InvalidArgument(f"{where}: schema: one schema object with properties is required")
    for extra in objects[1:]:
        warnings.append(f"schema {extra.get('name', '?')!r}: only the first schema object is registered")
    for key in sorted(
        set(objects[0]) - {"name", "physicalName", "logicalType", "physicalType", "properties"}
    ):
        warnings.append(f"schema[0].{key}: not mapped to meshgate")
    properties = objects[0].get("properties") or []
    meta = ContractMetadata(owner_domain=str(data.get("domain") or domain_of(subject)))
    description = data.get("description")
    if isinstance(description, dict):
        meta.description = str(description.get("purpose") or "")
        for key in sorted(set(description) - {"purpose"}):
            warnings.append(f"description.{key}: not mapped to meshgate")
    rules: list[QualityRule] = []
    required: list[str] = []
    _read_properties(properties, "", meta, rules, required, warnings)
    meta.freshness_sla = _freshness(data.get("slaProperties"), warnings)
    meta.mask_pii_at = custom.get(MASK_PROPERTY, "silver")
    schema_format = custom.get(FORMAT_PROPERTY, "AVRO")
    schema = custom.get(SCHEMA_PROPERTY) or _avro_from_properties(subject, properties)
    fields = _schema_fields(schema_format, schema) or ()
    for path in required:  # a non-null field needs no rule: its schema refuses nulls already
        found = _find(fields, path)
        if found is None or found.nullable:
            rules.append(QualityRule(path, "not_null"))
    meta.quality_rules = _ordered(rules)
    meta = ContractMetadata.from_dict(meta.to_dict(), where)
    contract = Contract(
        subject=subject, format=schema_format, schema=schema, metadata=meta, source_file=where
    )
    return contract, warnings


def _custom_properties(raw: Any, warnings: list[str], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in raw or []:
        if not isinstance(item, dict) or "property" not in item:
            raise InvalidArgument(f"{where}: customProperties: each needs a property and a value")
        if item["property"] in (FORMAT_PROPERTY, SCHEMA_PROPERTY, MASK_PROPERTY):
            found[item["property"]] = str(item.get("value"))
        else:
            warnings.append(f"customProperties.{item['property']}: not mapped to meshgate")
    return found


def _read_properties(
    properties: list, prefix: str, meta: ContractMetadata, rules: list, required: list, warnings: list
) -> None:
    for prop in properties:
        path = prefix + str(prop.get("name"))
        for key in sorted(set(prop) - _PROPERTY_KEYS):
            warnings.append(f"{path}.{key}: not mapped to meshgate")
        if prop.get("required"):
            required.append(path)
        if prop.get("unique"):
            rules.append(QualityRule(path, "unique"))
        if prop.get("primaryKey"):
            meta.primary_key.append(path)
        classification = prop.get("classification")
        if classification == PII:
            meta.pii_fields.append(path)
        elif classification:
            warnings.append(f"{path}.classification {classification!r}: only {PII!r} maps (to a PII field)")
        options = dict(prop.get("logicalTypeOptions") or {})
        for key, kind in (("minimum", "min"), ("maximum", "max"), ("pattern", "regex")):
            if key in options:
                rules.append(QualityRule(path, kind, value=options.pop(key)))
        for key in sorted(options):
            warnings.append(f"{path}.logicalTypeOptions.{key}: not mapped to meshgate")
        for i, check in enumerate(prop.get("quality") or []):
            valid = _valid_values(check)
            if valid:
                rules.append(QualityRule(path, "accepted_values", values=tuple(valid)))
            else:
                warnings.append(
                    f"{path}.quality[{i}]: only invalidValues rules with validValues map to meshgate"
                )
        if prop.get("properties"):
            _read_properties(prop["properties"], path + ".", meta, rules, required, warnings)


def _valid_values(check: Any) -> list | None:
    """The accepted values of an ``invalidValues`` rule (ODCS 3.1; ``mustBe: 0``) or of a 3.0
    ``validValues`` rule."""
    if not isinstance(check, dict) or check.get("type", "library") != "library":
        return None
    if check.get("metric") == "invalidValues" and check.get("mustBe", 0) == 0:
        return (check.get("arguments") or {}).get("validValues")
    if check.get("rule") == "validValues":
        return check.get("validValues")
    return None


def _freshness(raw: Any, warnings: list[str]) -> str:
    found = ""
    for item in raw or []:
        unit = str(item.get("unit", "")) if isinstance(item, dict) else ""
        if isinstance(item, dict) and item.get("property") == "freshness" and unit[:1] in _SLA_UNITS:
            found = f"{int(item['value'])}{unit[:1]}"
        else:
            name = item.get("property") if isinstance(item, dict) else item
            warnings.append(f"slaProperties {name!r}: only freshness maps to meshgate")
    return found


def _ordered(rules: list[QualityRule]) -> list[QualityRule]:
    """Rules in a stable order (by field, then kind), as ``to_odcs`` groups them."""
    order = ("not_null", "unique", "accepted_values", "min", "max", "regex")
    return sorted(rules, key=lambda r: (r.field, order.index(r.rule)))


def _avro_from_properties(subject: str, properties: list) -> str:
    """An Avro record for an ODCS schema object without meshgate's schema text."""

    def field(prop: dict, namespace: str) -> dict:
        name = str(prop["name"])
        if prop.get("properties"):
            kind: Any = {
                "type": "record",
                "name": name,
                "fields": [field(p, name) for p in prop["properties"]],
            }
        elif prop.get("logicalType") == "array":
            kind = {"type": "array", "items": "string"}
        else:
            kind = _LOGICAL_AVRO.get(str(prop.get("logicalType")), "string")
        if prop.get("required"):
            return {"name": name, "type": kind}
        return {"name": name, "type": ["null", kind], "default": None}

    namespace, name = subject.rsplit(".", 1)
    record = {
        "type": "record",
        "name": name,
        "namespace": namespace,
        "fields": [field(p, name) for p in properties],
    }
    return json.dumps(record)
