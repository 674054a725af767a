"""What a check found, per contract: the shape every report format renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Finding:
    """One finding: where it is (repository-relative file, 1-based line), why, and the fix.

    ``severity`` is ``error`` for a breaking change; ``warning`` and ``note`` (changed Confluent rules
    and metadata, which Confluent keeps out of compatibility) are reported but never break."""

    rule: str
    message: str
    file: str
    line: int | None = None
    path: str = ""  # the schema element, e.g. CheckoutCompleted.amount
    fix: str = ""
    consumers: tuple[str, ...] = ()  # who it breaks: registry consumers or dbt models
    severity: str = "error"  # error (breaking), warning or note

    @property
    def breaking(self) -> bool:
        return self.severity == "error"


@dataclass
class ContractResult:
    subject: str
    status: str  # added, modified, renamed, deleted
    contract_file: str
    schema_file: str
    checked_against: str  # "registry", or the ref and its commit: "main (1a2b3c4d5e6f)"
    level: str | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        return any(finding.breaking for finding in self.findings)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["breaking"] = self.breaking
        return data


@dataclass
class CheckReport:
    base: str
    mode: str  # "registry" or "offline"
    results: list[ContractResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # run-wide, e.g. the offline fallback

    @property
    def breaking(self) -> bool:
        return any(result.breaking for result in self.results)

    @property
    def findings(self) -> list[tuple[ContractResult, Finding]]:
        return [(result, finding) for result in self.results for finding in result.findings]

    def to_dict(self) -> dict:
        return {
            "breaking": self.breaking,
            "base": self.base,
            "mode": self.mode,
            "notes": list(self.notes),
            "contracts": [result.to_dict() for result in self.results],
        }
