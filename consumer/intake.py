"""Sorting a polled batch into decodable events and refused messages, keeping positions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.model.positioned import PositionedEvent
from schemas.codec import EventCodec
from schemas.errors import DecodeError, InvalidEventError


@dataclass(frozen=True)
class RefusedMessage:
    """A message that is not a valid lifecycle event, with where it came from and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    error_kind: str
    reason: str


@dataclass
class Intake:
    """One polled batch: events to apply, messages to dead-letter, and the next offsets."""

    events: list[PositionedEvent] = field(default_factory=list)
    refused: list[RefusedMessage] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.events) + len(self.refused)


def sort_records(records: Iterable[Any], codec: EventCodec) -> Intake:
    """Decode every record; the next offset of a partition is its last record's offset + 1."""
    intake = Intake()
    for record in records:
        position = (record.topic, record.partition)
        intake.next_offsets[position] = max(intake.next_offsets.get(position, 0), record.offset + 1)
        try:
            event = codec.decode(record.value if record.value is not None else b"")
        except (DecodeError, InvalidEventError) as exc:
            intake.refused.append(_refused(record, type(exc).__name__, str(exc)))
            continue
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != event.credential_id:
            reason = (
                f"message key {key!r} differs from envelope.credentialId {event.credential_id!r}"
            )
            intake.refused.append(_refused(record, InvalidEventError.__name__, reason))
            continue
        intake.events.append(PositionedEvent(event, record.topic, record.partition, record.offset))
    return intake


def _refused(record: Any, error_kind: str, reason: str) -> RefusedMessage:
    return RefusedMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers or []),
        error_kind=error_kind,
        reason=reason,
    )
