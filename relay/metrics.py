"""Prometheus metrics of the relay (registered in the projector's registry when it runs
inside ``project``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter


@dataclass
class RelayMetrics:
    """Alerts published, publish failures, and delivery attempts by target and outcome."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.published = Counter(
            "client_audit_alerts_published",
            "Alerts published to the alert topic (confirmed by the broker).",
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "client_audit_alert_publish_failures",
            "Rounds of alerts the broker did not confirm (retried).",
            registry=self.registry,
        )
        self.attempts = Counter(
            "client_audit_alert_delivery_attempts",
            "Delivery attempts to webhooks and SIEMs, by target and outcome "
            "(delivered, retry, failed).",
            ["target", "outcome"],
            registry=self.registry,
        )
