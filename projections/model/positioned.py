"""A lifecycle event together with the Kafka position it was read from."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models import LifecycleEvent

PartitionKey = tuple[str, int]
"""A Kafka topic and partition."""


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    event: LifecycleEvent
    topic: str
    partition: int
    offset: int
