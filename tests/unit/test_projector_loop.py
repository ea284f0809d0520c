"""The projector loop with in-process stand-ins for its parameters.

The consumer factory hands the loop a consumer that serves records from lists; the store
and the dead-letter sink record what they are given and fail on cue. What the loop must
do with them: dead letters kept before their batch is applied, positions stored with the
batch, the informational Kafka commit only after it, retries that commit nothing, rewinds
on stop, and the observer told of every committed batch. The same behaviour on the real
broker and databases is in tests/integration (test_projector.py, test_dead_letters.py).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError, NodeNotReadyError, TopicAuthorizationFailedError
from sqlalchemy.exc import DataError, OperationalError

from consumer.errors import DeadLetterError
from consumer.intake import Intake, RefusedMessage
from consumer.projector import Projector, ProjectorConfig
from consumer.reading import ReaderSettings
from projections.model.positioned import PositionedEvent
from projections.write.store import ApplyResult, RefusedEventsError
from schemas.codec import EventCodec
from tests.builders_projection import History

TOPIC = "lifecycle"
CODEC = EventCodec()


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class ListConsumer:
    """Serves each partition's records from a list, from the position it was sought to."""

    def __init__(self, records: Mapping[int, Sequence[Record]], journal: list[str]) -> None:
        self.records = {partition: list(found) for partition, found in records.items()}
        self.journal = journal
        self.positions: dict[int, int] = {}
        self.assigned: list[TopicPartition] = []
        self.commits: list[dict[int, int]] = []
        self.closed_with: bool | None = None
        self.listener: Any = None

    def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.records) if topic == TOPIC else None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.listener = listener
        self.assign([TopicPartition(TOPIC, partition) for partition in sorted(self.records)])
        listener.on_partitions_assigned(self.assigned)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.journal.append(f"seek {partition.partition}@{offset}")
        self.positions[partition.partition] = offset

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for partition in partitions:
            self.seek(partition, 0)

    def position(self, partition: TopicPartition) -> int:
        return self.positions.get(partition.partition, 0)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        polled: dict[Any, list[Any]] = {}
        room = max_records or 500
        for tp in self.assigned:
            start = self.positions.get(tp.partition, 0)
            taken = self.records[tp.partition][start : start + room]
            if taken:
                polled[tp] = taken
                self.positions[tp.partition] = start + len(taken)
                room -= len(taken)
        return polled

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.records[tp.partition]) for tp in partitions}

    def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in partitions}

    def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[Any, Any]:
        return {}

    def highwater(self, partition: TopicPartition) -> int | None:
        return len(self.records[partition.partition])

    def commit(self, offsets: Any = None) -> None:
        self.journal.append("kafka commit")
        self.commits.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    def close(self, autocommit: bool = True) -> None:
        self.closed_with = autocommit


class RecordingStore:
    """Keeps positions in memory; raises a database error on the calls it is told to."""

    def __init__(self, journal: list[str], fail_applies: int = 0, positions: Any = None) -> None:
        self.journal = journal
        self.fail_applies = fail_applies
        self.stored: dict[int, int] = dict(positions or {})
        self.batches: list[tuple[list[PositionedEvent], dict[tuple[str, int], int]]] = []

    def apply(
        self, batch: Sequence[PositionedEvent], next_offsets: Mapping[tuple[str, int], int]
    ) -> ApplyResult:
        self.journal.append(f"apply {len(batch)}")
        self.batches.append((list(batch), dict(next_offsets)))
        if self.fail_applies:
            self.fail_applies -= 1
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))
        for (_topic, partition), offset in next_offsets.items():
            self.stored[partition] = max(self.stored.get(partition, 0), offset)
        return ApplyResult(len(batch), 0)

    def positions(self, topic: str) -> dict[int, int]:
        return dict(self.stored)


class RecordingSink:
    def __init__(self, journal: list[str], fail_writes: int = 0) -> None:
        self.journal = journal
        self.fail_writes = fail_writes
        self.written: list[list[RefusedMessage]] = []

    def write(self, messages: Sequence[RefusedMessage]) -> None:
        self.journal.append(f"dead-letter {len(messages)}")
        if self.fail_writes:
            self.fail_writes -= 1
            raise DeadLetterError("broker went away")
        self.written.append(list(messages))

    def close(self) -> None:
        self.journal.append("sink closed")


def valid_records(partition: int, count: int, credential: str) -> list[Record]:
    history = History(credential)
    events = [history.created(), *(history.used() for _ in range(count - 1))]
    return [
        Record(TOPIC, partition, offset, credential.encode(), CODEC.encode(event))
        for offset, event in enumerate(events)
    ]


def garbage(partition: int, offset: int) -> Record:
    return Record(TOPIC, partition, offset, b"k", b"not avro")


def config(**changes: Any) -> ProjectorConfig:
    values: dict[str, Any] = {
        "bootstrap_servers": "stand-in:9092", "topic": TOPIC, "dead_letter_topic": "dlq",
        "group_id": None, "batch_size": 100, "poll_timeout_ms": 0, "until_caught_up": True,
        "retry_initial_s": 0.001,
    }
    return ProjectorConfig(**(values | changes))


@dataclass
class Rig:
    consumer: ListConsumer
    store: RecordingStore
    sink: RecordingSink
    journal: list[str]
    settings: list[ReaderSettings] = field(default_factory=list)
    observed: list[tuple[Intake, ApplyResult]] = field(default_factory=list)

    def projector(self, **changes: Any) -> Projector:
        def factory(settings: ReaderSettings) -> ListConsumer:
            self.settings.append(settings)
            return self.consumer

        def observe(intake: Intake, result: ApplyResult) -> None:
            self.journal.append("observed")
            self.observed.append((intake, result))

        return Projector(
            config(**changes), self.store, self.sink, on_batch=observe,
            consumer_factory=factory,
        )


def rig(records: Mapping[int, Sequence[Record]], **store_options: Any) -> Rig:
    journal: list[str] = []
    return Rig(
        ListConsumer(records, journal),
        RecordingStore(journal, **store_options),
        RecordingSink(journal),
        journal,
    )


def test_dead_letters_are_kept_before_the_batch_is_applied_and_kafka_commits_after() -> None:
    records = valid_records(0, 3, "cred-a")
    records.insert(1, garbage(0, 1))
    records = [Record(TOPIC, 0, offset, r.key, r.value) for offset, r in enumerate(records)]
    setup = rig({0: records})
    report = setup.projector(group_id="group-1").run()

    kept = setup.journal.index("dead-letter 1")
    applied = setup.journal.index("apply 3")
    committed = setup.journal.index("kafka commit")
    assert kept < applied < committed < setup.journal.index("observed")
    assert [m.offset for m in setup.sink.written[0]] == [1]
    assert "shorter than the 10-byte header" in setup.sink.written[0][0].reason
    batch, next_offsets = setup.store.batches[0]
    assert [p.offset for p in batch] == [0, 2, 3]
    assert next_offsets == {(TOPIC, 0): 4}
    assert setup.consumer.commits == [{0: 4}]
    assert (report.applied, report.dead_lettered, report.batches) == (3, 1, 1)


def test_reader_settings_come_from_the_config() -> None:
    setup = rig({0: valid_records(0, 1, "cred-a")})
    setup.projector(group_id="g", instance_id="i-1", batch_size=7, timeout_s=3.0,
                    client_options={"security_protocol": "SASL_PLAINTEXT"}).run()
    (settings,) = setup.settings
    assert (settings.group_id, settings.instance_id, settings.max_poll_records) == ("g", "i-1", 7)
    assert settings.timeout_s == 3.0
    assert settings.client_options == {"security_protocol": "SASL_PLAINTEXT"}


def test_partitions_start_at_stored_positions_else_start_offsets_else_the_beginning() -> None:
    setup = rig(
        {p: valid_records(p, 4, f"cred-{p}") for p in (0, 1, 2)}, positions={0: 3}
    )
    setup.projector(start_offsets={1: 2}).run()
    assert setup.journal[:3] == ["seek 0@3", "seek 1@2", "seek 2@0"]
    applied = sorted(p.offset for batch, _ in setup.store.batches for p in batch
                     if p.partition in (0, 1))
    assert applied == [2, 3, 3]


def test_group_members_seek_to_stored_positions_when_partitions_are_assigned() -> None:
    setup = rig({0: valid_records(0, 5, "cred-a")}, positions={0: 4})
    setup.projector(group_id="group-1").run()
    assert setup.consumer.listener is not None
    assert setup.journal[0] == "seek 0@4"
    assert [p.offset for p in setup.store.batches[0][0]] == [4]


def test_until_caught_up_stops_once_the_stored_positions_reach_the_end() -> None:
    setup = rig({0: valid_records(0, 250, "cred-a")})
    report = setup.projector(batch_size=100).run()
    assert [len(batch) for batch, _ in setup.store.batches] == [100, 100, 50]
    assert setup.store.stored == {0: 250}
    assert report.applied == 250
    assert setup.consumer.closed_with is False


def test_a_stop_request_finishes_the_current_batch_and_leaves() -> None:
    setup = rig({0: valid_records(0, 300, "cred-a")})
    projector = setup.projector(batch_size=100, until_caught_up=False)
    original = setup.store.apply

    def apply_then_stop(batch: Any, next_offsets: Any) -> ApplyResult:
        projector.stop()
        return original(batch, next_offsets)

    setup.store.apply = apply_then_stop  # type: ignore[method-assign]
    report = projector.run()
    assert report.batches == 1
    assert setup.store.stored == {0: 100}
    assert setup.consumer.closed_with is False


def test_a_failing_dead_letter_write_is_retried_and_nothing_is_applied_meanwhile() -> None:
    records = [garbage(0, 0), *valid_records(0, 2, "cred-a")]
    records = [Record(TOPIC, 0, offset, r.key, r.value) for offset, r in enumerate(records)]
    setup = rig({0: records})
    setup.sink.fail_writes = 2
    setup.projector().run()
    assert setup.journal[1:5] == ["dead-letter 1", "dead-letter 1", "dead-letter 1", "apply 2"]
    assert len(setup.sink.written) == 1
    assert len(setup.store.batches) == 1


def test_a_store_error_is_retried_and_kafka_hears_only_of_the_commit() -> None:
    setup = rig({0: valid_records(0, 3, "cred-a")}, fail_applies=2)
    setup.projector(group_id="group-1").run()
    assert setup.journal.count("apply 3") == 3
    assert setup.journal.count("kafka commit") == 1
    assert setup.journal.index("kafka commit") > max(
        index for index, entry in enumerate(setup.journal) if entry == "apply 3"
    )
    first, second, third = setup.store.batches
    assert first == second == third
    assert setup.store.stored == {0: 3}


def test_stopping_during_a_store_outage_rewinds_the_batch_and_commits_nothing() -> None:
    setup = rig({0: valid_records(0, 3, "cred-a")}, fail_applies=10**9)
    projector = setup.projector(group_id="group-1", until_caught_up=False, retry_initial_s=0.01)
    stopper = threading.Timer(0.2, projector.stop)
    stopper.start()
    try:
        report = projector.run()
    finally:
        stopper.cancel()
    assert report.batches == 0
    assert setup.consumer.commits == []
    assert setup.store.stored == {}
    assert setup.journal[-1] == "seek 0@0"
    assert setup.consumer.positions[0] == 0


def test_the_observer_hears_of_every_committed_batch_with_its_intake() -> None:
    setup = rig({0: valid_records(0, 3, "cred-a"), 1: [garbage(1, 0)]}, fail_applies=1)
    setup.projector(batch_size=2).run()
    intakes = [intake for intake, _result in setup.observed]
    assert sum(len(intake.events) for intake in intakes) == 3
    assert sum(len(intake.refused) for intake in intakes) == 1
    assert [result.applied for _intake, result in setup.observed] == [
        len(intake.events) for intake in intakes
    ]
    assert len(setup.observed) == len(setup.store.batches) - 1


def test_a_batch_of_refused_messages_only_still_moves_the_positions() -> None:
    setup = rig({0: [garbage(0, 0), garbage(0, 1)]})
    report = setup.projector().run()
    assert setup.store.batches == [([], {(TOPIC, 0): 2})]
    assert report.dead_lettered == 2
    assert setup.store.stored == {0: 2}


@pytest.mark.parametrize(
    ("credential", "key", "reason"),
    [
        ("cred-a", None, "message has no key; envelope.credentialId is 'cred-a'"),
        ("cred-a", b"cred-b", "message key 'cred-b' differs from envelope.credentialId"),
        ("\ufffd\ufffd", b"\xff\xfe", "message key is not UTF-8 (invalid start byte at byte 0"),
    ],
)
def test_a_key_that_is_not_the_credential_id_is_refused(
    credential: str, key: bytes | None, reason: str
) -> None:
    (record,) = valid_records(0, 1, credential)
    setup = rig({0: [Record(TOPIC, 0, 0, key, record.value)]})
    setup.projector().run()
    (refused,) = setup.sink.written[0]
    assert reason in refused.reason
    assert setup.store.batches == [([], {(TOPIC, 0): 1})]


class RefusingStore(RecordingStore):
    """Refuses, for their content, every batch holding one of the given offsets, and names
    conflicting events at others (as the real store does for a reused event id)."""

    def __init__(
        self, journal: list[str], bad: set[int], conflicting: frozenset[int] = frozenset()
    ) -> None:
        super().__init__(journal)
        self.bad = bad
        self.conflicting = set(conflicting)
        self.applied_offsets: list[int] = []

    def apply(
        self, batch: Sequence[PositionedEvent], next_offsets: Mapping[tuple[str, int], int]
    ) -> ApplyResult:
        named = [(p, "event id reused") for p in batch if p.offset in self.conflicting]
        if named:
            self.journal.append(f"refuse {[p.offset for p, _ in named]}")
            raise RefusedEventsError(named)
        if any(p.offset in self.bad for p in batch):
            self.journal.append(f"content fault {len(batch)}")
            raise DataError("INSERT", {}, ValueError("PostgreSQL text fields cannot contain NUL"))
        self.applied_offsets.extend(p.offset for p in batch)
        result = super().apply(batch, next_offsets)
        self.journal.append(f"stored up to {max(next_offsets.values(), default=0)}")
        return result


def refusing_rig(
    records: Mapping[int, Sequence[Record]], **options: Any
) -> tuple[Rig, RefusingStore]:
    journal: list[str] = []
    store = RefusingStore(journal, **options)
    return Rig(ListConsumer(records, journal), store, RecordingSink(journal), journal), store


def test_events_the_store_refuses_are_isolated_and_dead_lettered_the_rest_applied_once() -> None:
    records = valid_records(0, 40, "cred-a")
    setup, store = refusing_rig({0: records}, bad={7, 8, 31})
    report = setup.projector().run()
    assert sorted(store.applied_offsets) == [o for o in range(40) if o not in {7, 8, 31}]
    assert len(store.applied_offsets) == len(set(store.applied_offsets))
    dead = [message for written in setup.sink.written for message in written]
    assert sorted(message.offset for message in dead) == [7, 8, 31]
    assert all(message.error_kind == "StoreRefusal" for message in dead)
    assert all("refused the event: PostgreSQL text fields cannot contain NUL" in m.reason
               for m in dead)
    assert dead[0].value == records[7].value
    assert setup.store.stored == {0: 40}
    assert (report.applied, report.dead_lettered, report.refused_by_store) == (37, 3, 3)


def test_each_isolated_event_is_dead_lettered_before_the_positions_pass_it() -> None:
    setup, _store = refusing_rig({0: valid_records(0, 8, "cred-a")}, bad={5})
    setup.projector().run()
    kept = setup.journal.index("dead-letter 1")
    stored = [int(entry.split()[-1]) for entry in setup.journal if entry.startswith("stored up")]
    past = next(i for i, entry in enumerate(setup.journal)
                if entry.startswith("stored up to") and int(entry.split()[-1]) > 5)
    assert kept < past
    assert stored == sorted(stored) and stored[-1] == 8


def test_events_the_store_names_are_dead_lettered_and_the_batch_applied_without_them() -> None:
    setup, store = refusing_rig({0: valid_records(0, 10, "cred-a")}, bad=set(), conflicting={3, 6})
    report = setup.projector().run()
    assert setup.journal[1:4] == ["refuse [3, 6]", "dead-letter 2", "apply 8"]
    assert sorted(store.applied_offsets) == [0, 1, 2, 4, 5, 7, 8, 9]
    (written,) = setup.sink.written
    assert [(m.offset, m.error_kind, m.reason) for m in written] == [
        (3, "ConflictingEventId", "event id reused"),
        (6, "ConflictingEventId", "event id reused"),
    ]
    assert report.refused_by_store == 2


def test_a_store_refusal_waits_for_the_dead_letter_sink_like_any_other() -> None:
    setup, store = refusing_rig({0: valid_records(0, 4, "cred-a")}, bad={2})
    setup.sink.fail_writes = 2
    setup.projector().run()
    assert setup.journal.count("dead-letter 1") == 3
    assert sorted(store.applied_offsets) == [0, 1, 3]
    assert setup.store.stored == {0: 4}


class FailingPolls(ListConsumer):
    """A consumer whose first polls raise the given Kafka errors (what kafka-python's
    ``poll`` raises when its heartbeat lost the broker)."""

    def __init__(self, records: Mapping[int, Sequence[Record]], journal: list[str],
                 errors: Sequence[Exception]) -> None:
        super().__init__(records, journal)
        self.errors = list(errors)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        if self.errors:
            error = self.errors.pop(0)
            self.journal.append(f"poll failed {type(error).__name__}")
            raise error
        return super().poll(timeout_ms, max_records)


def failing_rig(records: Mapping[int, Sequence[Record]], errors: Sequence[Exception]) -> Rig:
    setup = rig(records)
    setup.consumer = FailingPolls(records, setup.journal, errors)
    return setup


def test_a_poll_failing_while_the_broker_is_away_is_retried_and_nothing_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors = [KafkaConnectionError("111 ECONNREFUSED"), NodeNotReadyError("node 1")]
    setup = failing_rig({0: valid_records(0, 6, "cred-a")}, errors)
    projector = setup.projector(group_id="group-1")
    report = projector.run()
    assert setup.journal.count("poll failed KafkaConnectionError") == 1
    assert setup.journal.count("poll failed NodeNotReadyError") == 1
    assert report.applied == 6 and setup.store.stored == {0: 6}
    assert [p.offset for batch, _ in setup.store.batches for p in batch] == list(range(6))
    assert projector.metrics.poll_failures._value.get() == 2
    assert "111 ECONNREFUSED" in caplog.text


def test_a_poll_failing_for_good_ends_the_run_with_its_error() -> None:
    denied = TopicAuthorizationFailedError("lifecycle")
    setup = failing_rig({0: valid_records(0, 3, "cred-a")}, [denied])
    with pytest.raises(TopicAuthorizationFailedError):
        setup.projector(group_id="group-1").run()
    assert setup.store.batches == []
    assert setup.consumer.closed_with is False


def test_a_stop_ends_the_wait_after_a_failed_poll() -> None:
    setup = failing_rig({0: valid_records(0, 3, "cred-a")},
                        [KafkaConnectionError("down")] * 1000)
    projector = setup.projector(retry_initial_s=30.0, until_caught_up=False)
    stopper = threading.Timer(0.2, projector.stop)
    stopper.start()
    report = projector.run()
    stopper.join()
    assert report.applied == 0 and report.elapsed_s < 10
    assert setup.journal.count("poll failed KafkaConnectionError") == 1
