"""Publishing alerts to the alert topic with the idempotent producer, confirmed."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kafka.errors import KafkaError

from producer.publisher import confirmations, confirmed_producer
from projections.alerts.model import Alert
from relay.messages import DEFAULT_SOURCE, kafka_message

log = logging.getLogger(__name__)


class AlertTopicError(Exception):
    """Alerts the broker did not confirm; none of the batch may be marked published."""


class AlertPublisher:
    """Sends alerts to the alert topic; :meth:`publish` returns once each is confirmed.

    The producer is idempotent with acks=all: a send the client retries is stored once.
    A relay that dies after the broker confirmed but before the outbox recorded it sends the
    alert again on restart, with the same ``ce_id`` (the copy says what it is).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        source: str = DEFAULT_SOURCE,
        timeout_s: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.source = source
        self.timeout_s = timeout_s
        self._producer = confirmed_producer(
            bootstrap_servers, "client-audit-relay", timeout_s, compression_type="lz4",
            **(client_options or {}),
        )

    def publish(self, alerts: Sequence[Alert]) -> None:
        """Send ``alerts`` in order and wait for every confirmation; AlertTopicError when
        any is not confirmed."""
        started = time.monotonic()
        futures = []
        try:
            for alert in alerts:
                message = kafka_message(alert, self.source)
                futures.append(self._producer.send(
                    self.topic, key=message.key, value=message.value,
                    headers=list(message.headers.items()),
                ))
        except KafkaError as exc:
            raise AlertTopicError(f"could not send alerts to {self.topic}: {exc}") from exc
        failures = confirmations(self._producer, futures, self.timeout_s, started)
        if failures:
            raise AlertTopicError(
                f"{len(failures)} of {len(futures)} alerts were not confirmed by Kafka "
                f"(topic {self.topic}); first error: {failures[0]}"
            )

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)
