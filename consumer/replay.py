"""Replaying the lifecycle topic into a fresh database with the live projector's code path.

A replay reads every partition without a consumer group (so the projector's group and its
committed offsets are never touched), from the beginning or from the first message at or
after an instant (Kafka message timestamps, via ``offsets_for_times``), up to the end
offsets seen when it starts. Events go through the same :class:`~consumer.projector.Projector`
and :meth:`~projections.store.ProjectionStore.apply` as live, so the same fold builds the
same rows. Refused messages are counted and logged, not dead-lettered again: the live
projector already did that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consumer.dead_letter import DeadLetterWriter
from consumer.errors import ConsumerError
from consumer.intake import RefusedMessage
from consumer.metrics import ProjectorMetrics
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from projections.database import create_engine_for
from projections.migrate import upgrade
from projections.positioned import PositionedEvent
from projections.store import ApplyResult, ProjectionStore
from projections.tables import audit_log, consumer_positions, credentials

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after every committed batch with (messages done, messages to do)."""


class ReplayError(ConsumerError):
    """A replay that cannot start: no such topic, a non-empty target, Kafka unreachable."""


@dataclass(frozen=True)
class ReplayPlan:
    """Where a replay starts and ends in each partition of the topic."""

    topic: str
    start_offsets: dict[int, int]
    end_offsets: dict[int, int]

    @property
    def total(self) -> int:
        """Messages between the start and end offsets, over every partition."""
        return sum(
            max(0, end - self.start_offsets.get(partition, 0))
            for partition, end in self.end_offsets.items()
        )


@dataclass(frozen=True)
class ReplayOutcome:
    """What a replay did, and where it stopped."""

    plan: ReplayPlan
    report: ProjectorReport
    refused: int
    positions: dict[int, int]

    @property
    def complete(self) -> bool:
        """Whether every partition reached the end offsets of the plan."""
        return all(
            self.positions.get(partition, 0) >= end
            for partition, end in self.plan.end_offsets.items()
        )


def _consumer(bootstrap_servers: str, timeout_s: float) -> Any:
    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            client_id="client-audit-replay-planner",
            enable_auto_commit=False,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000) + 5000,
        )
    except KafkaError as exc:
        raise ReplayError(f"Kafka at {bootstrap_servers} did not answer: {exc}") from exc


def topic_partitions(consumer: Any, topic: str, timeout_s: float) -> list[TopicPartition]:
    """The partitions of ``topic``; ReplayError when it does not exist."""
    if topic not in consumer.topics():
        raise ReplayError(f"topic {topic!r} does not exist")
    deadline = time.monotonic() + timeout_s
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, partition) for partition in sorted(partitions)]
        if time.monotonic() > deadline:
            raise ReplayError(f"topic {topic!r} does not exist or has no partitions")
        time.sleep(0.2)


def plan_replay(
    bootstrap_servers: str, topic: str, since: datetime | None = None, timeout_s: float = 30.0
) -> ReplayPlan:
    """Start and end offsets of a replay of ``topic``, from the beginning or from ``since``.

    With ``since``, a partition starts at the first message whose Kafka timestamp is at or
    after it; a partition without such a message starts (and ends) at its end offset.
    """
    consumer = _consumer(bootstrap_servers, timeout_s)
    try:
        partitions = topic_partitions(consumer, topic, timeout_s)
        ends = consumer.end_offsets(partitions)
        if since is None:
            starts = consumer.beginning_offsets(partitions)
        else:
            millis = int(since.timestamp() * 1000)
            found = consumer.offsets_for_times({tp: millis for tp in partitions})
            starts = {
                tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in partitions
            }
    except KafkaError as exc:
        raise ReplayError(f"could not read the offsets of {topic!r}: {exc}") from exc
    finally:
        consumer.close()
    return ReplayPlan(
        topic,
        {tp.partition: int(starts[tp]) for tp in partitions},
        {tp.partition: int(ends[tp]) for tp in partitions},
    )


def target_is_empty(database_url: str) -> bool:
    """Whether the database holds no credentials, audit rows or consumer positions."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for table in (credentials, audit_log, consumer_positions):
                if not inspector.has_table(table.name):
                    continue
                if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                    return False
        return True
    finally:
        engine.dispose()


class _ReportingStore(ProjectionStore):
    """The projection store, reporting the replay's progress after every committed batch."""

    def __init__(self, engine: sa.Engine, plan: ReplayPlan, progress: Progress | None) -> None:
        super().__init__(engine)
        self._plan = plan
        self._progress = progress
        self.done: dict[int, int] = {}

    def apply(
        self,
        batch: Sequence[PositionedEvent],
        next_offsets: Mapping[tuple[str, int], int],
    ) -> ApplyResult:
        result = super().apply(batch, next_offsets)
        for (topic, partition), offset in next_offsets.items():
            if topic == self._plan.topic:
                self.done[partition] = max(self.done.get(partition, 0), offset)
        self.report()
        return result

    def report(self) -> None:
        if self._progress is None:
            return
        done = total = 0
        for partition, end in self._plan.end_offsets.items():
            start = self._plan.start_offsets.get(partition, 0)
            reached = self.done.get(partition, start)
            done += max(0, reached - start)
            total += max(end, reached) - start
        self._progress(done, total)


class _KeptRefusals(DeadLetterWriter):
    """Counts and logs refused messages instead of dead-lettering them a second time."""

    def __init__(self) -> None:
        self.refused = 0

    def write(self, messages: Sequence[RefusedMessage]) -> None:
        for message in messages:
            log.warning(
                "refused %s[%d]@%d (already dead-lettered live): %s",
                message.topic, message.partition, message.offset, message.reason,
            )
        self.refused += len(messages)

    def close(self) -> None:
        """Nothing to close: no producer was opened."""


class Replay:
    """One replay of a topic into a database: build it, then :meth:`run` it (once)."""

    def __init__(
        self,
        plan: ReplayPlan,
        bootstrap_servers: str,
        database_url: str,
        *,
        batch_size: int = 5000,
        timeout_s: float = 30.0,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        upgrade(database_url)
        self._engine = create_engine_for(database_url)
        self._store = _ReportingStore(self._engine, plan, progress)
        self._refusals = _KeptRefusals()
        config = ProjectorConfig(
            bootstrap_servers=bootstrap_servers,
            topic=plan.topic,
            dead_letter_topic="",
            group_id=None,
            batch_size=batch_size,
            poll_timeout_ms=200,
            until_caught_up=True,
            start_offsets=plan.start_offsets,
            timeout_s=timeout_s,
        )
        self.projector = Projector(config, self._store, self._refusals, ProjectorMetrics())

    def run(self) -> ReplayOutcome:
        """Replay until the end offsets seen at start (or a stop request); dispose the engine.

        The start offsets are stored as positions first (positions never move backwards),
        so an interrupted replay resumes where it stopped, and a partition with nothing to
        replay counts as caught up.
        """
        try:
            self._store.apply(
                [], {(self.plan.topic, p): start for p, start in self.plan.start_offsets.items()}
            )
            self._store.done.update(self._store.positions(self.plan.topic))
            self._store.report()
            report = self.projector.run()
            positions = self._store.positions(self.plan.topic)
        finally:
            self._engine.dispose()
        return ReplayOutcome(self.plan, report, self._refusals.refused, positions)
