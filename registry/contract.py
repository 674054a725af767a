"""The contract: a schema plus the metadata a data product promises about it.

A contract lives in a repository as a YAML file that points at its schema file (the shape is in the
README, "Contract files"). ``load_contract`` reads and validates one, naming file and field path in
every error.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registry.compat import FORMATS
from registry.errors import InvalidArgument
from registry.limits import check_json_text, check_yaml_depth

SUBJECT_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
QUALITY_RULES = ("not_null", "unique", "accepted_values", "min", "max", "regex")
MASK_PII_AT = ("silver", "bronze")


def domain_of(subject: str) -> str:
    """The owning domain: the subject's part before the first dot."""
    return subject.split(".", 1)[0]


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def table_name(subject: str) -> str:
    """The table name of a subject's data in every lakehouse tier and in the dbt sources.

    ``checkout.CheckoutCompleted`` -> ``checkout__checkout_completed``: the owning domain, two
    underscores, the rest of the subject in snake case (further dots become single underscores). It
    lives here, beside the subject rules, so the gate, dbt glue and contract-check share one rule.
    """
    domain, rest = validate_subject(subject).split(".", 1)
    return f"{_snake(domain)}__{'_'.join(_snake(part) for part in rest.split('.'))}"


def validate_subject(subject: str) -> str:
    if not SUBJECT_PATTERN.match(subject or ""):
        raise InvalidArgument(
            f"subject {subject!r} is not of the form domain.Name (letters, digits, underscores, dotted)"
        )
    return subject


@dataclass(frozen=True)
class QualityRule:
    """A data-quality assertion on one field (dotted path), checked by the gate and by dbt.

    ``unique`` may name a composite key: several paths, written as a list in the contract YAML and
    kept comma-joined in ``field`` (one string, as the registry's wire form has it); ``fields``
    gives them apart.
    """

    field: str
    rule: str  # one of QUALITY_RULES
    values: tuple = ()  # accepted_values
    value: Any = None  # min / max bound, or the regex pattern

    @property
    def fields(self) -> tuple[str, ...]:
        """The field paths the rule covers: one, or the parts of a composite ``unique`` key."""
        return (
            tuple(part.strip() for part in self.field.split(",")) if self.rule == "unique" else (self.field,)
        )


@dataclass(frozen=True)
class Reference:
    """Another subject's schema that this schema imports (Avro named type, Protobuf import or JSON
    Schema ``$ref``), under the name the schema uses for it."""

    name: str
    subject: str
    version: int


@dataclass
class ContractMetadata:
    owner_domain: str = ""
    description: str = ""
    primary_key: list[str] = field(default_factory=list)
    pii_fields: list[str] = field(default_factory=list)
    quality_rules: list[QualityRule] = field(default_factory=list)
    freshness_sla: str = ""  # e.g. "1h", "24h"
    mask_pii_at: str = "silver"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["quality_rules"] = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(r).items()}
            for r in self.quality_rules
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict | None, where: str = "metadata") -> ContractMetadata:
        data = dict(data or {})
        rules = [
            _quality_rule(raw, f"{where}.quality_rules[{i}]")
            for i, raw in enumerate(data.pop("quality_rules", []) or [])
        ]
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise InvalidArgument(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        meta = cls(quality_rules=rules, **data)
        _check_metadata(meta, where)
        return meta


@dataclass
class Contract:
    subject: str
    format: str
    schema: str
    references: list[Reference] = field(default_factory=list)
    metadata: ContractMetadata = field(default_factory=ContractMetadata)
    compatibility: str | None = None  # the subject's level, when the contract sets one
    source_file: str | None = None  # the YAML file it came from
    schema_file: str | None = None  # the schema file it points at
    data_metadata: dict | None = None  # Confluent metadata of the version (registry.data_contracts)
    rule_set: dict | None = None  # Confluent rule set of the version; the gate enforces its CEL rules

    @property
    def domain(self) -> str:
        return domain_of(self.subject)


def _quality_rule(raw: Any, where: str) -> QualityRule:
    if not isinstance(raw, dict):
        raise InvalidArgument(
            f"{where}: expected a mapping with 'field' and 'rule', got {type(raw).__name__}"
        )
    name = raw.get("rule")
    if name not in QUALITY_RULES:
        raise InvalidArgument(f"{where}.rule: {name!r} is not one of {', '.join(QUALITY_RULES)}")
    composite = raw.get("field")
    if name == "unique" and isinstance(composite, list) and composite:
        if not all(isinstance(part, str) and part and "," not in part for part in composite):
            raise InvalidArgument(f"{where}.field: a composite unique key is a list of field paths")
        raw = {**raw, "field": ",".join(composite)}
    if not isinstance(raw.get("field"), str) or not raw["field"]:
        raise InvalidArgument(f"{where}.field: a field path is required")
    values = tuple(raw.get("values") or ())
    value = raw.get("value")
    if name == "accepted_values" and not values:
        raise InvalidArgument(f"{where}.values: accepted_values needs a non-empty list")
    if name in ("min", "max") and not isinstance(value, int | float):
        raise InvalidArgument(f"{where}.value: {name} needs a number, got {value!r}")
    if name == "regex":
        if not isinstance(value, str):
            raise InvalidArgument(f"{where}.value: regex needs a pattern string")
        try:
            re.compile(value)
        except re.error as exc:
            raise InvalidArgument(f"{where}.value: invalid regular expression: {exc}") from None
    extra = set(raw) - {"field", "rule", "values", "value"}
    if extra:
        raise InvalidArgument(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    return QualityRule(field=raw["field"], rule=name, values=values, value=value)


def _check_metadata(meta: ContractMetadata, where: str) -> None:
    if meta.mask_pii_at not in MASK_PII_AT:
        raise InvalidArgument(f"{where}.mask_pii_at: {meta.mask_pii_at!r} is not one of silver, bronze")
    for name in ("primary_key", "pii_fields"):
        value = getattr(meta, name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidArgument(f"{where}.{name}: expected a list of field paths")
    if meta.freshness_sla and not re.fullmatch(r"\d+[smhd]", meta.freshness_sla):
        raise InvalidArgument(
            f"{where}.freshness_sla: {meta.freshness_sla!r} is not a duration like 30m, 1h, 2d"
        )


# Keys of the contract YAML file, mapped to ContractMetadata fields.
_YAML_METADATA = {
    "owner": "owner_domain",
    "description": "description",
    "primary_key": "primary_key",
    "pii": "pii_fields",
    "quality": "quality_rules",
    "freshness_sla": "freshness_sla",
    "mask_pii_at": "mask_pii_at",
}
_YAML_KEYS = {"subject", "format", "schema", "references", "compatibility", *_YAML_METADATA}


def load_contract(path: str | Path) -> Contract:
    """Read a contract YAML file and the schema file it points at."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        check_yaml_depth(text, where)
        check_json_text(text, where)  # number literals and escapes within the limits, before YAML parses
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InvalidArgument(f"{where}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{where}: cannot read contract: {exc}") from None
    return contract_from_dict(data, path)


def contract_from_dict(data: Any, path: Path) -> Contract:
    where = str(path)
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}: a contract file must be a YAML mapping")
    unknown = {str(key) for key in data if not isinstance(key, str) or key not in _YAML_KEYS}
    if unknown:
        raise InvalidArgument(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("subject", "format", "schema"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidArgument(f"{where}: '{key}' is required")
    try:
        validate_subject(data["subject"])
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: subject: {exc.message}") from None
    fmt = data["format"].upper()
    if fmt not in FORMATS:
        raise InvalidArgument(f"{where}: format: {data['format']!r} is not one of {', '.join(FORMATS)}")
    schema_path = (path.parent / data["schema"]).resolve()
    try:
        schema_text = schema_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{where}: schema: cannot read {data['schema']}: {exc}") from None
    references = []
    for i, ref in enumerate(data.get("references") or []):
        if not isinstance(ref, dict) or not {"name", "subject", "version"} <= set(ref):
            raise InvalidArgument(f"{where}: references[{i}]: needs name, subject and version")
        version = ref["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidArgument(
                f"{where}: references[{i}].version: a version number (1, 2, ...), got {version!r}"
            )
        references.append(Reference(name=str(ref["name"]), subject=str(ref["subject"]), version=version))
    metadata = ContractMetadata.from_dict(
        {field_name: data[key] for key, field_name in _YAML_METADATA.items() if key in data}, where
    )
    if not metadata.owner_domain:
        metadata.owner_domain = domain_of(data["subject"])
    return Contract(
        subject=data["subject"],
        format=fmt,
        schema=schema_text,
        references=references,
        metadata=metadata,
        compatibility=data.get("compatibility"),
        source_file=str(path),
        schema_file=str(schema_path),
    )
