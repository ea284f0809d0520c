"""Reading Kafka topics: the one place consumers are built, partitions found, time bounded.

The live projector, replays and the log check all read through :func:`open_consumer` (or a
stand-in factory of the same shape, in unit tests) and find a topic's partitions with
:func:`topic_partitions`, so their timeouts and fetch sizes agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consumer.errors import TopicUnavailableError

FETCH_MAX_BYTES = 64 * 1024 * 1024
"""Most bytes one fetch returns over all partitions."""

PARTITION_FETCH_MAX_BYTES = 8 * 1024 * 1024
"""Most bytes one fetch returns per partition (a larger message still comes whole)."""


@dataclass(frozen=True)
class ReaderSettings:
    """How to reach Kafka and which group (if any) to read as.

    ``timeout_s`` bounds connecting and every request; ``client_options`` carries further
    kafka-python options the deployment needs (security protocol, SASL credentials).
    """

    bootstrap_servers: str
    client_id: str
    group_id: str | None = None
    instance_id: str | None = None
    """Static group membership (KIP-345): a restarted member with the same id keeps its
    partitions at once instead of waiting for the session timeout."""
    max_poll_records: int = 500
    timeout_s: float = 30.0
    client_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Never shown in a repr: it may hold a SASL password."""


class TopicConsumer(Protocol):
    """What the readers use of a Kafka consumer (kafka-python's ``KafkaConsumer``)."""

    def topics(self) -> set[str]: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    def subscribe(self, topics: list[str], listener: Any = None) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...
    def position(self, partition: TopicPartition) -> int: ...
    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]: ...
    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[Any, Any]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def commit(self, offsets: Any = None) -> None: ...
    def close(self, autocommit: bool = True) -> None: ...


ConsumerFactory = Callable[[ReaderSettings], TopicConsumer]
"""Builds the consumer a reader reads through."""


def open_consumer(settings: ReaderSettings) -> TopicConsumer:
    """A kafka-python consumer: no auto-commit, earliest start, no topic auto-creation,
    large fetches, and every wait bounded by ``settings.timeout_s``.

    Raises TopicUnavailableError when the bootstrap servers do not answer in time.
    """
    timeout_ms = int(settings.timeout_s * 1000)
    grouped = settings.group_id is not None
    try:
        consumer: TopicConsumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id,
            group_id=settings.group_id,
            group_instance_id=settings.instance_id if grouped else None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.max_poll_records,
            max_poll_interval_ms=600_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            reconnect_backoff_max_ms=2_000,
            fetch_max_bytes=FETCH_MAX_BYTES,
            max_partition_fetch_bytes=PARTITION_FETCH_MAX_BYTES,
            allow_auto_create_topics=False,
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms + 5000,
            **settings.client_options,
        )
    except KafkaError as exc:
        reason = f"Kafka at {settings.bootstrap_servers} did not answer"
        username = settings.client_options.get("sasl_plain_username")
        if username is not None:
            reason += f" (or refused the SASL credentials of {username!r})"
        raise TopicUnavailableError(f"{reason}: {exc}") from exc
    return consumer


def topic_partitions(
    consumer: TopicConsumer, topic: str, timeout_s: float
) -> list[TopicPartition]:
    """The partitions of ``topic``, in order; TopicUnavailableError when it does not exist.

    Metadata for a topic that was just created can lag, so an existing topic without
    partitions yet is asked again until ``timeout_s`` has passed.
    """
    try:
        if topic not in consumer.topics():
            raise TopicUnavailableError(f"topic {topic!r} does not exist")
        deadline = time.monotonic() + timeout_s
        while True:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                return [TopicPartition(topic, partition) for partition in sorted(partitions)]
            if time.monotonic() > deadline:
                raise TopicUnavailableError(f"topic {topic!r} does not exist or has no partitions")
            time.sleep(0.2)
    except KafkaError as exc:
        raise TopicUnavailableError(f"could not read the metadata of {topic!r}: {exc}") from exc
