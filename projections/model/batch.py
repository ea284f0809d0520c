"""Folding one batch of new events in memory, given what the database already holds.

Pure: the store loads what is asked for (states, taken sequences, histories), this module
decides every audit entry's flags and every credential's new state, and the store writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from projections.model.anomalies import SEQUENCE_ANOMALIES, Anomaly, in_order
from projections.model.credential import CredentialState
from projections.model.fold import Transition, fold, fold_steps
from projections.model.positioned import PositionedEvent
from schemas.models import LifecycleEvent

SequenceKey = tuple[str, int]
"""A credential id and a sequence number."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Every new event with its flags (in batch order), and the final state of each credential."""

    entries: list[tuple[PositionedEvent, tuple[Anomaly, ...]]]
    states: dict[str, CredentialState]


def late_candidates(
    events: Iterable[PositionedEvent], last_sequences: Mapping[str, int]
) -> set[SequenceKey]:
    """The (credential, sequence) of every event that will arrive at or before its last sequence.

    The last applied sequence only ever grows to the sequence of an event that is not late,
    so this is exactly the set of events :func:`fold_batch` will find late.
    """
    running = dict(last_sequences)
    late: set[SequenceKey] = set()
    for positioned in events:
        credential_id, sequence = positioned.event.credential_id, positioned.event.sequence
        if sequence <= running.get(credential_id, 0):
            late.add((credential_id, sequence))
        else:
            running[credential_id] = sequence
    return late


def fold_batch(
    events: Sequence[PositionedEvent],
    states: Mapping[str, CredentialState],
    taken: set[SequenceKey],
    histories: Mapping[str, Sequence[LifecycleEvent]],
) -> BatchOutcome:
    """Fold new events in batch order onto the stored states.

    ``taken``: the late candidates' (credential, sequence) already in the audit log.
    ``histories``: the recorded events, in audit-log order, of every credential with a late
    candidate that is not taken.

    A late event whose sequence is already taken, in the audit log or earlier in the batch,
    is a SEQUENCE_DUPLICATE and changes no fact: the first event recorded at a sequence
    stands. Any other late event is a SEQUENCE_LATE; the credential's state is refolded
    from its whole history so the older fact takes its place, and the event also carries
    the flags it earns at that place (a use before a later deletion is not a use after it).
    """
    current = dict(states)
    recorded = set(taken)
    batch_history: defaultdict[str, list[LifecycleEvent]] = defaultdict(list)
    entries: list[tuple[PositionedEvent, tuple[Anomaly, ...]]] = []
    changed: set[str] = set()
    for positioned in events:
        event = positioned.event
        credential_id, key = event.credential_id, (event.credential_id, event.sequence)
        before = current.get(credential_id)
        if before is None or event.sequence > before.last_sequence:
            transition = fold(before, event)
        elif key in recorded:
            transition = Transition(
                before._replace(anomaly_count=before.anomaly_count + 1),
                (Anomaly.SEQUENCE_DUPLICATE,),
            )
        else:
            if credential_id not in histories:
                raise LookupError(f"history of credential {credential_id!r} was not loaded")
            history = [*histories[credential_id], *batch_history[credential_id]]
            transition = _refolded(history, event, before)
        recorded.add(key)
        batch_history[credential_id].append(event)
        current[credential_id] = transition.state
        changed.add(credential_id)
        entries.append((positioned, transition.anomalies))
    return BatchOutcome(
        entries, {credential_id: current[credential_id] for credential_id in changed}
    )


def _refolded(
    history: Sequence[LifecycleEvent], late: LifecycleEvent, before: CredentialState
) -> Transition:
    steps = fold_steps([*history, late])
    in_place = next(transition for event, transition in steps if event is late)
    flags = {Anomaly.SEQUENCE_LATE}
    flags.update(anomaly for anomaly in in_place.anomalies if anomaly not in SEQUENCE_ANOMALIES)
    state = steps[-1][1].state._replace(anomaly_count=before.anomaly_count + 1)
    return Transition(state, in_order(flags))
