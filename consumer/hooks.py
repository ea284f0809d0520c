"""What the projector loop is given rather than builds: its store, dead-letter sink and
per-batch observer. The live projector and replays pass different ones; unit tests pass
small stand-ins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from consumer.intake import Intake, RefusedMessage
from projections.model.positioned import PositionedEvent
from projections.write.store import ApplyResult


class BatchStore(Protocol):
    """Where batches are applied, and the consumer positions they stored."""

    def apply(
        self, batch: Sequence[PositionedEvent], next_offsets: Mapping[tuple[str, int], int]
    ) -> ApplyResult: ...

    def positions(self, topic: str) -> dict[int, int]: ...


class DeadLetterSink(Protocol):
    """Takes refused messages; returns once they are kept, or raises DeadLetterError."""

    def write(self, messages: Sequence[RefusedMessage]) -> None: ...

    def close(self) -> None: ...


BatchObserver = Callable[[Intake, ApplyResult], None]
"""Called after every committed batch with what was read and what the store did."""
