"""The projection store: applies batches of positioned events in one transaction each."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from projections.alerts.outbox import outbox_rows, write_outbox
from projections.alerts.rules import AlertRules
from projections.chain import heads as chain_heads
from projections.chain.nodes import node_appender
from projections.db.backends import RowSink
from projections.db.engine import write_transaction
from projections.db.history import histories
from projections.db.rows import payload_of
from projections.model.anomalies import Anomaly
from projections.model.batch import fold_batch, late_candidates
from projections.model.credential import CredentialState
from projections.model.positioned import PositionedEvent
from projections.write import lookups, writes
from projections.write.entries import (
    InvalidBatchError,
    append_chained,
    check_offsets,
    conflict_reason,
    unique_events,
)
from schemas.models import LifecycleEvent

__all__ = ["ApplyResult", "InvalidBatchError", "ProjectionStore", "RefusedEventsError"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one :meth:`ProjectionStore.apply` did."""

    applied: int
    """New events recorded in the audit log and folded into the state."""
    duplicates: int
    """Events skipped because their event id was already recorded (or earlier in the batch)."""
    anomalies: Mapping[Anomaly, int] = field(default_factory=dict)
    """How many recorded events carry each flag."""


class RefusedEventsError(Exception):
    """Events the store will not record, each with the reason; nothing of the batch was
    written. Applying the batch without them is safe.

    An event whose id is already recorded (or earlier in the batch) with other content is
    not a re-delivery but a second fact claiming the same id: it cannot be recorded beside
    the first, and skipping it as a duplicate would hide it.
    """

    def __init__(self, refused: Sequence[tuple[PositionedEvent, str]]) -> None:
        self.refused = list(refused)
        first = self.refused[0][1] if self.refused else ""
        super().__init__(f"{len(self.refused)} events refused; first: {first}")


class ProjectionStore:
    """Current state, audit log and consumer positions in one SQL database.

    Each :meth:`apply` is one transaction: audit entries, credential states, consumer
    positions and audit chain heads are committed together or not at all, so a consumer
    that resumes from :meth:`positions` neither loses nor repeats an effect. Re-delivered
    events (same event id) are skipped. Every new audit entry is hash-chained to the one
    before it in its Kafka partition (:mod:`projections.chain.hashing`).
    """

    def __init__(
        self, engine: Engine, *, clock: Clock = utc_now, alerts: AlertRules | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._alerts = alerts

    def positions(self, topic: str) -> dict[int, int]:
        """Partition -> next offset to read, for the partitions of ``topic`` seen so far."""
        with self._engine.connect() as connection:
            return lookups.next_offsets(connection, topic)

    def state_of(self, credential_id: str) -> CredentialState | None:
        """The stored current state of one credential."""
        with self._engine.connect() as connection:
            return lookups.credential_states(connection, [credential_id]).get(credential_id)

    def apply(
        self,
        batch: Sequence[PositionedEvent],
        next_offsets: Mapping[tuple[str, int], int],
    ) -> ApplyResult:
        """Record and fold ``batch`` (in order), and store ``next_offsets``, in one transaction.

        ``next_offsets`` maps (topic, partition) to the next offset to read: the offset after
        the last message of the partition the caller handled, dead-lettered ones included.
        Every partition in the batch must be there, past its events. Each partition's chain
        head is read (and locked) once; its new entries are chained after it in offset
        order. On any error the transaction is rolled back and the error propagates;
        applying again is safe.
        """
        check_offsets(batch, next_offsets)
        projected_at = self._clock()
        with write_transaction(self._engine) as connection:
            candidates, conflicts = unique_events(batch)
            recorded = lookups.recorded_event_ids(connection, candidates)
            conflicts += _conflicting(connection, candidates, recorded)
            if conflicts:
                raise RefusedEventsError(conflicts)
            fresh = [positioned for key, positioned in candidates.items() if key not in recorded]
            states = lookups.credential_states(
                connection, {positioned.event.credential_id for positioned in fresh}, lock=True
            )
            late = late_candidates(
                fresh, {key: state.last_sequence for key, state in states.items()}
            )
            taken = lookups.taken_sequences(connection, late) if late else set()
            refold = {credential_id for credential_id, sequence in late - taken}
            recorded_histories = _histories(connection, refold)
            outcome = fold_batch(fresh, states, taken, recorded_histories)
            heads = chain_heads.locked_heads(
                connection, {(item.topic, item.partition) for item in fresh}
            )
            frontiers = {key: head.merkle_frontier() for key, head in heads.items()}
            flagged: list[Mapping[str, Any]] = []
            with writes.audit_appender(connection) as append:
                sink = append if self._alerts is None else _noting_flagged(append, flagged)
                moved, completed = append_chained(
                    outcome.entries, heads, frontiers, projected_at, sink
                )
            with node_appender(connection) as nodes:
                for key, emitted in completed.items():
                    nodes.write(heads[key].log_id, emitted)
            if self._alerts is not None:
                write_outbox(connection, outbox_rows(flagged, self._alerts, projected_at))
            writes.upsert_states(connection, list(outcome.states.values()))
            writes.upsert_positions(connection, next_offsets, projected_at)
            chain_heads.store_heads(connection, moved)
        counts = Counter(flag for _positioned, flags in outcome.entries for flag in flags)
        result = ApplyResult(len(fresh), len(batch) - len(fresh), dict(counts))
        log.debug(
            "applied %d events (%d duplicates skipped, %d refolded credentials)",
            result.applied,
            result.duplicates,
            len(refold),
        )
        return result


def _histories(
    connection: Connection, credential_ids: set[str]
) -> dict[str, list[LifecycleEvent]]:
    """The recorded events of every credential to refold (an empty list when none)."""
    found: dict[str, list[LifecycleEvent]] = {credential_id: [] for credential_id in credential_ids}
    if credential_ids:
        found.update(histories(connection, credential_ids))
    return found


def _noting_flagged(append: RowSink, flagged: list[Mapping[str, Any]]) -> RowSink:
    """``append``, also keeping the rows of flagged entries in ``flagged`` (for the alert
    outbox)."""

    def sink(row: Mapping[str, Any]) -> None:
        append(row)
        if row["is_anomaly"]:
            flagged.append(row)

    return sink


def _conflicting(
    connection: Connection, candidates: Mapping[str, PositionedEvent], recorded: set[str]
) -> list[tuple[PositionedEvent, str]]:
    """The candidates whose id is recorded with another event than theirs."""
    if not recorded:
        return []
    stored = lookups.recorded_events(connection, recorded)
    conflicts = []
    for event_id in sorted(recorded):
        positioned = candidates[event_id]
        payload, where = stored[event_id]
        if payload != payload_of(positioned.event):
            conflicts.append((positioned, conflict_reason(positioned, where)))
    return conflicts


