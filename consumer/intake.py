"""Sorting a polled batch into decodable events and refused messages, keeping positions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.model.positioned import PositionedEvent
from schemas.codec import EventCodec
from schemas.errors import DecodeError, InvalidEventError

REASON_MAX = 4096
"""Characters of a refusal's reason kept (the rest is cut, marked with an ellipsis)."""

SourcePosition = tuple[str, int, int]
"""A message's topic, partition and offset."""


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

    @property
    def source(self) -> SourcePosition:
        return (self.topic, self.partition, self.offset)


@dataclass
class Intake:
    """One polled batch: events to apply, messages to dead-letter, and the next offsets."""

    events: list[PositionedEvent] = field(default_factory=list)
    refused: list[RefusedMessage] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: dict[SourcePosition, Any] = field(default_factory=dict)
    """The polled record of every event, by position: what is dead-lettered if the store
    refuses the event."""

    def __len__(self) -> int:
        return len(self.events) + len(self.refused)

    def refusal(self, positioned: PositionedEvent, error_kind: str, reason: str) -> RefusedMessage:
        """The dead letter of an event the store refused, with its original bytes."""
        record = self.records[(positioned.topic, positioned.partition, positioned.offset)]
        return _refused(record, error_kind, reason)


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
        mismatch = key_mismatch(record.key, event.credential_id)
        if mismatch is not None:
            intake.refused.append(_refused(record, InvalidEventError.__name__, mismatch))
            continue
        intake.events.append(PositionedEvent(event, record.topic, record.partition, record.offset))
        intake.records[(record.topic, record.partition, record.offset)] = record
    return intake


def key_mismatch(key: bytes | None, credential_id: str) -> str | None:
    """Why a message key is not the UTF-8 text of the event's credential id (None: it is)."""
    if key is None:
        return f"message has no key; envelope.credentialId is {credential_id!r}"
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"message key is not UTF-8 ({exc.reason} at byte {exc.start}: "
            f"{key[:64].hex()}); envelope.credentialId is {credential_id!r}"
        )
    if text != credential_id:
        return f"message key {text!r} differs from envelope.credentialId {credential_id!r}"
    return None


def _refused(record: Any, error_kind: str, reason: str) -> RefusedMessage:
    return RefusedMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers or []),
        error_kind=error_kind,
        reason=reason if len(reason) <= REASON_MAX else reason[: REASON_MAX - 1] + "…",
    )
