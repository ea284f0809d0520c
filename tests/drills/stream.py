"""The drills' simulated stream: generated and encoded once per session, sent fast.

Generating and encoding 50,000 events takes several seconds, so the stream is built once
and cached; each drill then sends the same bytes, keys and headers that ``EventPublisher``
would, through an idempotent ``acks=all`` producer.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer

from producer.publisher import message_headers
from producer.simulate import Simulation, SimulationConfig
from schemas.codec import EventCodec
from schemas.models import LifecycleEvent

log = logging.getLogger(__name__)

DRILL_EVENTS_ENV = "CLIENT_AUDIT_DRILL_EVENTS"
DRILL_SEED_ENV = "CLIENT_AUDIT_DRILL_SEED"
DEFAULT_EVENTS = 50_000
MINIMUM_CI_EVENTS = 50_000
DEFAULT_SEED = 20260106
_EVENTS_PER_CREDENTIAL = 8
"""Fewer than the simulator's average, so the credentials always yield enough events."""


@dataclass(frozen=True)
class StreamMessage:
    """One lifecycle message as the publisher sends it."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event_id: str


@dataclass(frozen=True)
class DrillStream:
    """The events of one simulated stream and their encoded messages, in publishing order."""

    events: tuple[LifecycleEvent, ...]
    messages: tuple[StreamMessage, ...]

    def __len__(self) -> int:
        return len(self.events)

    @property
    def event_ids(self) -> frozenset[str]:
        return frozenset(message.event_id for message in self.messages)


def configured_events() -> int:
    """How many events a drill publishes; at least 50,000 when ``$CI`` is set."""
    count = int(os.environ.get(DRILL_EVENTS_ENV, DEFAULT_EVENTS))
    if os.environ.get("CI") and count < MINIMUM_CI_EVENTS:
        raise ValueError(
            f"{DRILL_EVENTS_ENV}={count}: CI runs the drills with at least "
            f"{MINIMUM_CI_EVENTS} events"
        )
    if count < 1:
        raise ValueError(f"{DRILL_EVENTS_ENV} must be positive, got {count}")
    return count


def configured_seed() -> int:
    return int(os.environ.get(DRILL_SEED_ENV, DEFAULT_SEED))


@functools.cache
def drill_stream(count: int, seed: int) -> DrillStream:
    """The first ``count`` events (in order of occurrence) of a seeded simulation."""
    credentials = count // _EVENTS_PER_CREDENTIAL + 1
    simulation = Simulation(SimulationConfig(credentials=credentials, seed=seed))
    events = tuple(itertools.islice(simulation.events(), count))
    if len(events) < count:
        raise ValueError(f"the simulation of {credentials} credentials gave only {len(events)}")
    codec = EventCodec()
    messages = tuple(
        StreamMessage(
            key=event.credential_id.encode(),
            value=codec.encode(event),
            headers=tuple(message_headers(event, codec.writer_of(event).fingerprint_hex)),
            event_id=str(event.event_id),
        )
        for event in events
    )
    log.info("drill stream ready: %d events of %d credentials", count, credentials)
    return DrillStream(events, messages)


def open_producer(bootstrap: str, client_id: str, timeout_s: float = 60.0) -> KafkaProducer:
    """An idempotent ``acks=all`` producer configured like ``EventPublisher``."""
    timeout_ms = int(timeout_s * 1000)
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        compression_type="lz4",
        max_block_ms=timeout_ms,
        request_timeout_ms=min(timeout_ms, 30_000),
        delivery_timeout_ms=timeout_ms + 1000,
        allow_auto_create_topics=False,
    )


@dataclass(frozen=True)
class SentMessage:
    """Where the broker stored a message."""

    partition: int
    offset: int


def send_messages(
    producer: KafkaProducer,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]],
    timeout_s: float = 60.0,
) -> list[SentMessage]:
    """Send (key, value, headers) in order; return each one's stored position once confirmed."""
    futures: list[Any] = [
        producer.send(topic, key=key, value=value, headers=list(headers))
        for key, value, headers in messages
    ]
    producer.flush(timeout=timeout_s)
    stored = [future.get(timeout=timeout_s) for future in futures]
    return [SentMessage(metadata.partition, metadata.offset) for metadata in stored]


def publish_stream(
    bootstrap: str, topic: str, messages: Sequence[StreamMessage], client_id: str = "drill"
) -> list[SentMessage]:
    """Publish the stream's messages in order; return their stored positions."""
    producer = open_producer(bootstrap, client_id)
    try:
        return send_messages(producer, topic, ((m.key, m.value, m.headers) for m in messages))
    finally:
        producer.close(timeout=30)
