"""Prometheus metrics of the projector."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ProjectorMetrics:
    """Counters and gauges one projector process exposes (its own registry)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.applied = Counter(
            "client_audit_events_applied",
            "Lifecycle events applied to the projections.",
            registry=self.registry,
        )
        self.duplicates = Counter(
            "client_audit_events_duplicate",
            "Re-delivered events skipped (same event id).",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "client_audit_events_dead_lettered",
            "Messages refused and sent to the dead-letter topic.",
            registry=self.registry,
        )
        self.anomalies = Counter(
            "client_audit_anomalies",
            "Anomalies flagged on applied events.",
            ["kind"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "client_audit_consumer_lag",
            "Messages between the stored position and the end.",
            ["partition"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "client_audit_batch_seconds",
            "Time to decode, apply and commit one batch.",
            registry=self.registry,
        )
        self.store_failures = Counter(
            "client_audit_store_failures",
            "Failed attempts to commit a batch to the database.",
            registry=self.registry,
        )
        self.poll_failures = Counter(
            "client_audit_poll_failures",
            "Polls of the lifecycle topic that failed with a retriable Kafka error.",
            registry=self.registry,
        )
