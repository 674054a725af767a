"""Prometheus metrics of one registry server: requests, latencies, cache hits, compatibility rejections.

Each server instance owns a ``Metrics`` with its own ``CollectorRegistry`` (never the process-wide
default), so several servers in one process (tests, benchmarks) keep separate counts. The gRPC and the
HTTP side both report through the same calls: ``observe`` once per request, ``lookup`` once per read
the caches may answer, and ``rejection`` once per schema refused as incompatible.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

OK = "ok"
"""The outcome of a request that succeeded; failures use the error type's name or ``internal``."""

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms of one server, exported in the Prometheus text format."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], object] = {}  # see ``_child``
        self._requests = Counter(
            "meshgate_requests",
            "Requests handled, by transport (grpc, http), method and outcome (ok or error type).",
            ("transport", "method", "outcome"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "meshgate_request_duration_seconds",
            "Time spent handling a request, by transport and method.",
            ("transport", "method"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._lookups = Counter(
            "meshgate_cache_lookups",
            "Reads by id or version: answered from the caches (hit) or by a worker thread (miss).",
            ("transport", "method", "result"),
            registry=self.registry,
        )
        self._rejections = Counter(
            "meshgate_compatibility_rejections",
            "Schemas refused because they break the subject's level or a registered consumer.",
            ("subject",),
            registry=self.registry,
        )
        self._audit_reads_dropped = Counter(
            "meshgate_audit_reads_dropped",
            "Allowed reads whose audit row was dropped: the queue was full or the store was down.",
            registry=self.registry,
        )

    def audit_reads_dropped(self, count: int) -> None:
        """Count allowed reads whose audit row was lost (queue full or store down)."""
        self._audit_reads_dropped.inc(count)

    def lookup(self, transport: str, method: str, hit: bool) -> None:
        """Record a read the caches answered on the event loop (hit) or that went to a worker thread."""
        self._child(self._lookups, transport, method, "hit" if hit else "miss").inc()

    def observe(self, transport: str, method: str, seconds: float, outcome: str = OK) -> None:
        """Record one finished request. ``method`` must come from a fixed set (route or RPC name)."""
        self._child(self._requests, transport, method, outcome).inc()
        self._child(self._latency, transport, method).observe(seconds)

    def _child(self, metric, *labels: str):
        """``metric.labels(*labels)``, kept: the label sets are few, and every request asks again."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def rejection(self, subject: str) -> None:
        """Record a schema refused as incompatible under ``subject``."""
        self._rejections.labels(subject).inc()

    def render(self) -> bytes:
        """The current values in the Prometheus text exposition format (``content_type``)."""
        return generate_latest(self.registry)
