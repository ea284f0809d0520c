"""The pure parts of the bulk replay: the event ledger (in memory and spilled), how many
workers an automatic replay starts and how the partitions are shared out among them."""

from __future__ import annotations

import re
import uuid

import click
import pytest

from client_audit.cli.params import WorkerCount
from consumer.bulk_workers import automatic_workers, share_partitions
from projections.bulk.ledger import EventLedger, payload_digest


def test_equal_payloads_have_equal_digests_and_others_do_not() -> None:
    payload = {"envelope": {"eventId": "e", "sequence": 1}, "sourceIp": "10.0.0.1"}
    assert payload_digest(payload) == payload_digest(dict(payload))
    assert payload_digest(payload) != payload_digest({**payload, "sourceIp": "10.0.0.2"})


def test_the_ledger_answers_the_same_before_and_after_it_spills_to_disk() -> None:
    ids = [uuid.uuid4() for _ in range(10)]
    ledger = EventLedger(memory_limit=5)
    try:
        ledger.record((event_id, bytes([number])) for number, event_id in enumerate(ids[:4]))
        assert not ledger.spilled
        assert ledger.known([ids[1], ids[8]]) == {ids[1]: b"\x01"}

        ledger.record((event_id, bytes([number + 4])) for number, event_id in
                      enumerate(ids[4:8]))
        assert ledger.spilled, "past its memory limit"
        ledger.record([(ids[8], b"\x08")])

        assert ledger.known(ids) == {event_id: bytes([n]) for n, event_id in enumerate(ids[:9])}
        assert len(ledger) == 9
    finally:
        ledger.close()


def test_partitions_are_shared_by_message_count_and_no_worker_is_idle() -> None:
    counts = {0: 100, 1: 90, 2: 10, 3: 10, 4: 5, 5: 0}
    shares = share_partitions(counts, 2)
    assert [sorted(share) for share in shares] == [[0, 3], [1, 2, 4, 5]], "110 and 105"
    assert share_partitions({0: 5}, 4) == [frozenset({0})]
    assert sorted(len(share) for share in share_partitions(counts, 6)) == [1] * 6


def test_an_automatic_replay_has_a_worker_per_processor_and_busy_partition() -> None:
    large = {partition: 20_000 for partition in range(6)}
    assert automatic_workers(large, cpus=2) == 2
    assert automatic_workers(large, cpus=16) == 6, "no more workers than partitions"
    assert automatic_workers({0: 60_000, 1: 0, 2: 0}, cpus=8) == 1, "one partition has messages"
    assert automatic_workers({0: 20_000, 1: 20_000}, cpus=8) == 1, "below 50,000 messages"
    assert automatic_workers({}, cpus=8) == 1


@pytest.mark.parametrize(("given", "expected"), [("auto", None), (" AUTO ", None), ("3", 3),
                                                 ("64", 64), (2, 2)])
def test_a_worker_count_is_auto_or_a_number_in_range(given: object, expected: int | None) -> None:
    assert WorkerCount(64).convert(given, None, None) == expected


@pytest.mark.parametrize(("given", "message"), [
    ("0", "must be auto or a number from 1 to 64 (got 0)"),
    ("65", "must be auto or a number from 1 to 64 (got 65)"),
    ("-1", "(got -1)"),
    ("two", "'two' is neither auto nor a whole number"),
    ("", "'' is neither auto nor a whole number"),
])
def test_other_worker_counts_are_refused_precisely(given: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=re.escape(message)):
        WorkerCount(64).convert(given, None, None)
