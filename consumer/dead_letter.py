"""Writing refused messages to the dead-letter topic: original bytes plus the reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.errors import KafkaError

from consumer.errors import DeadLetterError
from consumer.intake import RefusedMessage

log = logging.getLogger(__name__)

HEADER_ERROR = "dlq-error"
HEADER_ERROR_KIND = "dlq-error-kind"
HEADER_SOURCE_TOPIC = "dlq-source-topic"
HEADER_SOURCE_PARTITION = "dlq-source-partition"
HEADER_SOURCE_OFFSET = "dlq-source-offset"
HEADER_REFUSED_AT = "dlq-refused-at"
DEAD_LETTER_HEADERS = (
    HEADER_ERROR,
    HEADER_ERROR_KIND,
    HEADER_SOURCE_TOPIC,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_OFFSET,
    HEADER_REFUSED_AT,
)


def dead_letter_headers(message: RefusedMessage, refused_at: datetime) -> list[tuple[str, bytes]]:
    """The original headers followed by the reason and the source position."""
    return [
        *message.headers,
        (HEADER_ERROR, message.reason.encode()),
        (HEADER_ERROR_KIND, message.error_kind.encode()),
        (HEADER_SOURCE_TOPIC, message.topic.encode()),
        (HEADER_SOURCE_PARTITION, str(message.partition).encode()),
        (HEADER_SOURCE_OFFSET, str(message.offset).encode()),
        (HEADER_REFUSED_AT, refused_at.isoformat().encode()),
    ]


class DeadLetterWriter:
    """Publishes refused messages with their original key and value; confirmed or raises."""

    def __init__(self, bootstrap_servers: str, topic: str, timeout_s: float = 30.0) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id="client-audit-dead-letter",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_block_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000,
            request_timeout_ms=int(timeout_s * 1000),
            allow_auto_create_topics=False,
        )

    def write(self, messages: Sequence[RefusedMessage]) -> None:
        if not messages:
            return
        refused_at = datetime.now(UTC)
        try:
            futures = [
                self._producer.send(
                    self.topic,
                    key=message.key,
                    value=message.value,
                    headers=dead_letter_headers(message, refused_at),
                )
                for message in messages
            ]
            self._producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=self.timeout_s)
        except KafkaError as exc:
            raise DeadLetterError(
                f"could not write {len(messages)} refused messages to {self.topic}: {exc}"
            ) from exc
        for message in messages:
            log.warning(
                "dead-lettered %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                message.reason,
            )

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)
