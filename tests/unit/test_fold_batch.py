"""Folding a batch in memory: late and duplicate sequences, without a database."""

from __future__ import annotations

import pytest

from projections.model.anomalies import Anomaly
from projections.model.batch import fold_batch, late_candidates
from projections.model.credential import CredentialStatus
from projections.model.fold import fold_all
from tests.builders_projection import History, Partition


def test_late_candidates_are_the_events_at_or_before_the_running_last_sequence() -> None:
    h, other = History("a"), History("b")
    events = Partition().place(
        [
            h.used(sequence=4),
            h.used(sequence=2),
            other.created(sequence=1),
            h.used(sequence=6),
            h.used(sequence=5),
            h.used(sequence=6),
            other.used(sequence=1),
        ]
    )
    assert late_candidates(events, {"a": 3}) == {("a", 2), ("a", 5), ("a", 6), ("b", 1)}


def test_in_order_batch_is_folded_like_fold_all() -> None:
    h = History()
    events = [h.created(), h.used("10.0.0.1"), h.roles_scoped("admin"), h.deleted()]
    outcome = fold_batch(Partition().place(events), {}, set(), {})
    assert outcome.states == {"cred-1": fold_all(events)}
    assert [flags for _positioned, flags in outcome.entries] == [(), (), (), ()]


def test_second_event_at_a_sequence_in_the_batch_is_a_duplicate() -> None:
    h = History()
    created = h.created()
    first = h.updated(display_name="first", sequence=2)
    second = h.updated(display_name="second", sequence=2)
    outcome = fold_batch(Partition().place([created, first, second]), {}, set(), {})
    assert [flags for _positioned, flags in outcome.entries] == [
        (),
        (),
        (Anomaly.SEQUENCE_DUPLICATE,),
    ]
    state = outcome.states["cred-1"]
    assert state.display_name == "first"
    assert state.anomaly_count == 1


def test_late_event_taken_in_the_log_is_a_duplicate() -> None:
    h = History()
    stored = fold_all([h.created(), h.updated(display_name="b")])
    assert stored is not None
    clash = h.updated(display_name="other", sequence=2)
    outcome = fold_batch(Partition().place([clash]), {"cred-1": stored}, {("cred-1", 2)}, {})
    assert outcome.entries[0][1] == (Anomaly.SEQUENCE_DUPLICATE,)
    assert outcome.states["cred-1"].display_name == "b"


def test_late_event_is_refolded_into_its_place() -> None:
    h = History()
    created = h.created(allow_source_cidr=("10.0.0.0/8",))
    use = h.used("10.0.0.1", sequence=2)
    deleted = h.deleted(sequence=4)
    stored = fold_all([created, use, deleted])
    assert stored is not None
    late_use = h.used("10.9.9.9", sequence=3)
    outcome = fold_batch(
        Partition().place([late_use]),
        {"cred-1": stored},
        set(),
        {"cred-1": [created, use, deleted]},
    )
    flags = outcome.entries[0][1]
    assert flags == (Anomaly.NEW_SOURCE_IP, Anomaly.SEQUENCE_LATE), (
        "judged at its place: before the deletion, from a new address"
    )
    state = outcome.states["cred-1"]
    assert state.status is CredentialStatus.DELETED
    assert state.last_sequence == 4
    assert state.last_event_id == deleted.event_id
    assert state.seen_source_ips == ("10.0.0.1", "10.9.9.9")
    assert state.last_used_at == late_use.used_at
    assert state.anomaly_count == stored.anomaly_count + 1


def test_late_event_needs_the_history() -> None:
    h = History()
    stored = fold_all([h.created(), h.used(sequence=3)])
    assert stored is not None
    with pytest.raises(LookupError):
        fold_batch(Partition().place([h.used(sequence=2)]), {"cred-1": stored}, set(), {})
