"""Publish lifecycle events to Kafka: keyed by credential, idempotent, acks=all, confirmed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from kafka import KafkaProducer
from kafka.errors import KafkaError

from producer.errors import BrokerUnavailableError, PublishError
from producer.topics import LIFECYCLE_MAX_MESSAGE_BYTES, unanswered
from schemas.codec import EventCodec
from schemas.models import LifecycleEvent
from schemas.wire import (
    CONTENT_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_FINGERPRINT,
    HEADER_SCHEMA_NAME,
)

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


def message_headers(event: LifecycleEvent, fingerprint_hex: str) -> Headers:
    """The Kafka headers every lifecycle message carries (see schemas.wire)."""
    return [
        (HEADER_EVENT_TYPE, event.event_type.value.encode()),
        (HEADER_SCHEMA_FINGERPRINT, fingerprint_hex.encode()),
        (HEADER_SCHEMA_NAME, event.schema_name.encode()),
        (HEADER_CONTENT_TYPE, CONTENT_TYPE.encode()),
    ]


def confirmed_producer(
    bootstrap_servers: str,
    client_id: str,
    timeout_s: float,
    linger_ms: int = 5,
    **options: Any,
) -> KafkaProducer:
    """An idempotent producer with ``acks=all`` whose every wait (metadata, a full buffer,
    a request, a delivery, bootstrapping) is bounded by about ``timeout_s``, and which never
    creates a topic; ``options``: further kafka-python settings."""
    timeout_ms = int(timeout_s * 1000)
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_block_ms=timeout_ms,
        request_timeout_ms=min(timeout_ms, 30000),
        delivery_timeout_ms=max(timeout_ms, min(timeout_ms, 30000) + linger_ms),
        bootstrap_timeout_ms=timeout_ms,
        allow_auto_create_topics=False,
        **options,
    )


def confirmations(
    producer: KafkaProducer, futures: Sequence[Any], timeout_s: float, started: float
) -> list[BaseException]:
    """Flush ``producer`` and wait for each of ``futures`` (sends made since ``started``, a
    ``time.monotonic()`` reading) until about ``timeout_s`` after it; the errors of the sends
    the broker did not confirm."""
    failures: list[BaseException] = []
    try:
        producer.flush(timeout=timeout_s)
    except KafkaError as exc:
        log.debug("flush did not complete: %s", exc)
    for future in futures:
        remaining = max(0.1, timeout_s - (time.monotonic() - started))
        try:
            future.get(timeout=remaining)
        except Exception as exc:
            failures.append(exc)
    return failures


class EventPublisher:
    """Sends events to the lifecycle topic; every publish call returns only once confirmed.

    The producer is idempotent with acks=all, so a retried send is stored once per partition.
    A broker that does not answer makes the call fail with BrokerUnavailableError or
    PublishError within roughly ``timeout_s``.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        codec: EventCodec | None = None,
        timeout_s: float = 30.0,
        linger_ms: int = 5,
        compression_type: str | None = "lz4",
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``client_options``: further kafka-python options (security protocol, SASL)."""
        self.topic = topic
        self.codec = codec or EventCodec()
        self.timeout_s = timeout_s
        try:
            self._producer = confirmed_producer(
                bootstrap_servers,
                "client-audit-producer",
                timeout_s,
                linger_ms=linger_ms,
                batch_size=256 * 1024,
                compression_type=compression_type,
                max_request_size=LIFECYCLE_MAX_MESSAGE_BYTES,
                **(client_options or {}),
            )
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"{unanswered(bootstrap_servers, timeout_s, client_options or {})}: {exc}"
            ) from exc

    def publish(self, event: LifecycleEvent) -> None:
        """Publish one event and wait for the broker's confirmation."""
        self.publish_many([event])

    def publish_many(self, events: Iterable[LifecycleEvent]) -> int:
        """Publish events in order and wait until every one is confirmed; return the count.

        Events of one credential keep their order: they share a key, hence a partition, and
        the idempotent producer preserves order within a partition across retries.
        """
        started = time.monotonic()
        futures = [self._send(event) for event in events]
        failures = confirmations(self._producer, futures, self.timeout_s, started)
        if failures:
            first = failures[0]
            raise PublishError(
                f"{len(failures)} of {len(futures)} events were not confirmed by Kafka "
                f"(topic {self.topic}); first error: {first}",
                failed=len(failures),
                total=len(futures),
            )
        return len(futures)

    def _send(self, event: LifecycleEvent) -> Any:
        writer = self.codec.writer_of(event)
        value = self.codec.encode(event)
        try:
            return self._producer.send(
                self.topic,
                key=event.credential_id.encode(),
                value=value,
                headers=message_headers(event, writer.fingerprint_hex),
            )
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"could not send to {self.topic} within {self.timeout_s:g} s: {exc}"
            ) from exc

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
