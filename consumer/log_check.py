"""Checking the stored audit log against the lifecycle topic it was projected from.

Each partition is read from its beginning up to the position the projection stored (or the
end offset, whichever is lower), without a consumer group, and merged in offset order with
the partition's audit rows. Every row must hold exactly the event decoded from the message
at its offset, and every message that is a valid event must have a row, unless an event
with its id was recorded before (a re-delivery). The first mismatch of each partition is
reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from sqlalchemy import Connection, RowMapping

from consumer.errors import TopicUnavailableError
from consumer.intake import sort_records
from consumer.reading import ReaderSettings, TopicConsumer, open_consumer, topic_partitions
from projections.chain.canonical import canonical_record
from projections.chain.verify import partition_rows
from projections.db.rows import event_from_payload
from projections.forensics.compare import positions
from schemas.codec import EventCodec
from schemas.errors import InvalidEventError
from schemas.models import LifecycleEvent


class LogProblem(StrEnum):
    MISSING_ROW = "missing-row"
    """A valid event on the topic has no audit row."""
    PAYLOAD_MISMATCH = "payload-mismatch"
    """The audit row at an offset holds another event than the message there."""
    ROW_WITHOUT_EVENT = "row-without-event"
    """An audit row's offset holds no valid event on the topic."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a partition: the valid event it holds, or why it holds none."""

    offset: int
    event: LifecycleEvent | None
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class LogMismatch:
    offset: int
    problem: LogProblem
    event_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class PartitionCheck:
    """One partition checked against the topic: what was read, and the first mismatch."""

    topic: str
    partition: int
    messages: int
    rows: int
    checked_below: int
    first_mismatch: LogMismatch | None


def _difference(stored: Any, read: Any, path: str = "") -> str | None:
    """The first path at which two canonical records differ, with both values."""
    if isinstance(stored, dict) and isinstance(read, dict):
        for name in sorted(stored.keys() | read.keys()):
            found = _difference(stored.get(name), read.get(name), f"{path}.{name}".lstrip("."))
            if found is not None:
                return found
        return None
    if stored != read:
        return f"{path or '(event)'}: stored {stored!r}, on the topic {read!r}"
    return None


def _row_event(row: RowMapping) -> LifecycleEvent | str:
    try:
        return event_from_payload(row["event_type"], json.loads(row["payload"]))
    except (InvalidEventError, ValueError, KeyError, TypeError) as exc:
        return f"stored payload is not a valid event: {exc}"


def _compare_row(row: RowMapping, message: Message) -> LogMismatch | None:
    offset, event_id = message.offset, row["event_id"]
    if message.event is None:
        detail = f"the message at this offset is not a valid event ({message.refusal})"
        return LogMismatch(offset, LogProblem.ROW_WITHOUT_EVENT, event_id, detail)
    stored = _row_event(row)
    if isinstance(stored, str):
        return LogMismatch(offset, LogProblem.PAYLOAD_MISMATCH, event_id, stored)
    if stored != message.event:
        found = _difference(canonical_record(stored), canonical_record(message.event))
        detail = found or "the stored event differs from the message"
        return LogMismatch(offset, LogProblem.PAYLOAD_MISMATCH, event_id, detail)
    return None


def first_mismatch(
    messages: Iterable[Message], rows: Iterable[RowMapping]
) -> tuple[int, int, LogMismatch | None]:
    """Merge a partition's messages and audit rows (both in offset order).

    Returns how many messages and rows were read, and the first mismatch.
    """
    pending = iter(rows)
    row = next(pending, None)
    recorded: set[str] = set()
    read = rows_read = 0
    for message in messages:
        read += 1
        if row is not None and row["kafka_offset"] < message.offset:
            detail = "no message at this offset on the topic"
            return read, rows_read + 1, LogMismatch(
                row["kafka_offset"], LogProblem.ROW_WITHOUT_EVENT, row["event_id"], detail
            )
        if row is not None and row["kafka_offset"] == message.offset:
            rows_read += 1
            mismatch = _compare_row(row, message)
            if mismatch is not None:
                return read, rows_read, mismatch
            recorded.add(row["event_id"])
            row = next(pending, None)
        elif message.event is not None and str(message.event.event_id) not in recorded:
            detail = f"{message.event.event_type.value} event has no audit row"
            return read, rows_read, LogMismatch(
                message.offset, LogProblem.MISSING_ROW, str(message.event.event_id), detail
            )
    if row is not None:
        detail = "no message at this offset on the topic"
        return read, rows_read + 1, LogMismatch(
            row["kafka_offset"], LogProblem.ROW_WITHOUT_EVENT, row["event_id"], detail
        )
    return read, rows_read, None


def _messages(
    consumer: TopicConsumer, tp: TopicPartition, below: int, codec: EventCodec, timeout_s: float
) -> Iterator[Message]:
    """The partition's messages from its beginning up to offset ``below``, decoded."""
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    deadline = time.monotonic() + timeout_s
    while consumer.position(tp) < below:
        polled = consumer.poll(timeout_ms=500, max_records=2000)
        records = [record for batch in polled.values() for record in batch]
        records = [record for record in records if record.offset < below]
        if not records:
            if time.monotonic() > deadline:
                raise TopicUnavailableError(
                    f"{tp.topic}[{tp.partition}] stopped answering below {below}"
                )
            continue
        deadline = time.monotonic() + timeout_s
        intake = sort_records(records, codec)
        entries = [Message(p.offset, p.event) for p in intake.events]
        entries += [Message(m.offset, None, m.reason) for m in intake.refused]
        yield from sorted(entries, key=lambda entry: entry.offset)


def check_against_topic(
    connection: Connection,
    bootstrap_servers: str,
    topic: str,
    timeout_s: float = 30.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[PartitionCheck]:
    """Check every partition of ``topic`` up to the stored position of the projection.

    Raises TopicUnavailableError when Kafka or the topic cannot be read."""
    stored = positions(connection)
    codec = EventCodec()
    consumer = open_consumer(
        ReaderSettings(
            bootstrap_servers, "client-audit-log-check", max_poll_records=2000,
            timeout_s=timeout_s, client_options=client_options or {},
        )
    )
    try:
        checks = []
        partitions = topic_partitions(consumer, topic, timeout_s)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            below = min(ends[tp], stored.get((topic, tp.partition), 0))
            read, rows, mismatch = first_mismatch(
                _messages(consumer, tp, below, codec, timeout_s),
                partition_rows(connection, topic, tp.partition, below),
            )
            checks.append(PartitionCheck(topic, tp.partition, read, rows, below, mismatch))
        return checks
    except KafkaError as exc:
        raise TopicUnavailableError(f"could not read {topic!r}: {exc}") from exc
    finally:
        consumer.close()
