"""The subject list: one summary per subject, kept current by the event log, paged and filtered.

The subject names and the summaries (latest version, format, level, mode, consumer count, last
change) are read on first need and cached; every page load first reads the event log past the last
position seen and drops what changed (the names on a version event, the summaries of the subjects
concerned), so a change through any replica shows at once. A first
page of 10,000 subjects costs the list of names and the summaries of one page; a filter on format,
level or mode computes each summary once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.contract import domain_of
from registry.errors import SubjectNotFound, VersionNotFound
from registry.model import VERSION_HARD_DELETED, VERSION_REGISTERED, VERSION_SOFT_DELETED

_LOG_PAGE = 5_000
_VERSION_EVENTS = frozenset((VERSION_REGISTERED, VERSION_SOFT_DELETED, VERSION_HARD_DELETED))


@dataclass(frozen=True)
class SubjectSummary:
    subject: str
    domain: str
    version: int
    format: str
    schema_id: int
    level: str
    mode: str
    consumers: int = 0
    changed: datetime | None = None


@dataclass(frozen=True)
class SubjectQuery:
    """What the list shows: a search text (part of the name) and exact filters ("" = any)."""

    search: str = ""
    domain: str = ""
    format: str = ""
    level: str = ""
    mode: str = ""

    @property
    def needs_summaries(self) -> bool:
        return bool(self.format or self.level or self.mode)

    def keeps_name(self, subject: str) -> bool:
        return self.search.lower() in subject.lower() and (
            not self.domain or domain_of(subject) == self.domain
        )

    def keeps(self, summary: SubjectSummary) -> bool:
        return all(
            not wanted or wanted == actual
            for wanted, actual in (
                (self.format, summary.format),
                (self.level, summary.level),
                (self.mode, summary.mode),
            )
        )


@dataclass(frozen=True)
class SubjectPage:
    rows: list[SubjectSummary]
    total: int
    domains: list[str]


class SubjectIndex:
    """Summaries over a ``RegistryService`` and the ``EventLog`` of its store."""

    def __init__(self, service: Any, event_log: Any):
        self.service = service
        self.event_log = event_log
        self._summaries: dict[str, SubjectSummary] = {}
        self._changed: dict[str, datetime] = {}
        self._names: tuple[list[str], list[str]] | None = None
        self._position: int | None = None
        self._lock = threading.Lock()

    def page(self, query: SubjectQuery, offset: int, limit: int) -> SubjectPage:
        """One page of the subjects ``query`` keeps, sorted by name (synchronous: a worker thread)."""
        self._catch_up()
        names, domains = self._names_and_domains()
        if query.search or query.domain:
            names = [name for name in names if query.keeps_name(name)]
        counts = self._consumer_counts()
        if query.needs_summaries:
            kept = [s for s in (self._summary(n, counts) for n in names) if s and query.keeps(s)]
            return SubjectPage(kept[offset : offset + limit], len(kept), domains)
        rows = [s for s in (self._summary(n, counts) for n in names[offset : offset + limit]) if s]
        return SubjectPage(rows, len(names), domains)

    def _names_and_domains(self) -> tuple[list[str], list[str]]:
        """Every live subject (cached until a version event) and their domains."""
        cached = self._names
        if cached is None:
            names = self.service.list_subjects()
            cached = (names, sorted({domain_of(name) for name in names}))
            with self._lock:
                self._names = cached
        return cached

    def _consumer_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for consumer in self.service.list_consumers():
            counts[consumer.subject] = counts.get(consumer.subject, 0) + 1
        return counts

    def _summary(self, subject: str, counts: dict[str, int]) -> SubjectSummary | None:
        """The cached summary (an event of the subject drops it, consumer changes included)."""
        summary = self._summaries.get(subject)
        if summary is None:
            try:
                latest = self.service.get_version(subject)
            except (SubjectNotFound, VersionNotFound):  # deleted since the names were listed
                return None
            summary = SubjectSummary(
                subject=subject,
                domain=domain_of(subject),
                version=latest.version,
                format=latest.format,
                schema_id=latest.schema_id,
                level=self.service.get_config(subject).level.value,
                mode=self.service.get_mode(subject),
                consumers=counts.get(subject, 0),
                changed=self._changed.get(subject),
            )
            with self._lock:
                self._summaries[subject] = summary
        return summary

    def _catch_up(self) -> None:
        """Drop the summaries of subjects changed since the last look (all of them on a global change)."""
        with self._lock:
            compacted, _ = self.event_log.bounds()
            if self._position is None or self._position < compacted:  # first look, or events lost
                self._summaries.clear()
                self._names = None
                self._position = compacted
            while True:
                events = self.event_log.read(self._position, _LOG_PAGE)
                for event in events:
                    if event.type in _VERSION_EVENTS:  # a subject may have come or gone
                        self._names = None
                    if event.subject:
                        self._summaries.pop(event.subject, None)
                        if event.time is not None:
                            self._changed[event.subject] = event.time
                    else:  # the global level or mode: every inheriting subject may show another
                        self._summaries.clear()
                    self._position = event.sequence
                if len(events) < _LOG_PAGE:
                    return
