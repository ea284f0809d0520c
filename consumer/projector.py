"""The projector: Kafka lifecycle topic -> projections, one DB transaction per batch.

The database, not Kafka, holds the consumer position: each batch's audit rows, state rows
and next offsets commit together, and on partition assignment the consumer seeks to the
stored positions. Offsets are committed to Kafka afterwards for monitoring only. A crash
at any point therefore neither loses nor doubles an event.

The loop is given its store, its dead-letter sink, a per-batch observer and the factory of
its Kafka consumer (:mod:`consumer.hooks`, :mod:`consumer.reading`): the live projector and
replays pass different ones, and unit tests drive the loop with in-process stand-ins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from consumer.collector import BatchCollector, batch_collector
from consumer.errors import DeadLetterError
from consumer.hooks import BatchObserver, BatchStore, DeadLetterSink
from consumer.intake import Intake, RefusedMessage, sort_records
from consumer.metrics import ProjectorMetrics
from consumer.reading import (
    ConsumerFactory,
    ReaderSettings,
    TopicConsumer,
    open_consumer,
    topic_partitions,
)
from consumer.retry import Backoff
from projections.model.anomalies import Anomaly
from projections.model.positioned import PositionedEvent
from projections.write.store import ApplyResult, RefusedEventsError
from schemas.codec import EventCodec

log = logging.getLogger(__name__)

_Result = TypeVar("_Result")

CONTENT_FAULTS = (DataError, IntegrityError, ValueError, OverflowError, UnicodeError)
"""Errors by which a store refuses what it was given rather than failing as a store: data
it cannot hold, constraints the rows break, values it cannot convert."""


@dataclass(frozen=True)
class ContentFault:
    """The store refused a batch for the content of (some of) its events."""

    error: BaseException

    def __str__(self) -> str:
        return first_line(self.error)


def first_line(error: BaseException) -> str:
    """The first line of a (database) error, without SQLAlchemy's statement dump."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return (text.splitlines() or [type(original).__name__])[0]


def offsets_after(events: Sequence[PositionedEvent]) -> dict[tuple[str, int], int]:
    """The next offset of every partition, after the last of ``events`` in it."""
    found: dict[tuple[str, int], int] = {}
    for positioned in events:
        key = (positioned.topic, positioned.partition)
        found[key] = max(found.get(key, 0), positioned.offset + 1)
    return found


def merged(results: Sequence[ApplyResult]) -> ApplyResult:
    """The sum of several applies' results."""
    anomalies: Counter[Anomaly] = Counter()
    for result in results:
        anomalies.update(result.anomalies)
    return ApplyResult(
        sum(result.applied for result in results),
        sum(result.duplicates for result in results),
        dict(anomalies),
    )


@dataclass(frozen=True)
class ProjectorConfig:
    bootstrap_servers: str
    topic: str
    dead_letter_topic: str
    group_id: str | None
    """None reads every partition without a consumer group (replay)."""
    instance_id: str | None = None
    """Static group membership (KIP-345): a restarted member with the same id keeps its
    partitions at once instead of waiting for the session timeout."""
    batch_size: int = 5000
    poll_timeout_ms: int = 500
    until_caught_up: bool = False
    start_offsets: Mapping[int, int] | None = None
    """Where to start partitions that have no stored position (default: the beginning)."""
    partitions: frozenset[int] | None = None
    """Only these partitions of the topic (None: every one); without a group only."""
    progress_interval_s: float = 5.0
    timeout_s: float = 30.0
    retry_initial_s: float = 0.5
    """First wait before retrying a failed store or dead-letter write (doubles, up to 5 s)."""
    client_id: str = "client-audit-projector"
    client_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Further Kafka client options (security protocol, SASL credentials); never in a repr."""

    def reader(self) -> ReaderSettings:
        return ReaderSettings(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            group_id=self.group_id,
            instance_id=self.instance_id,
            max_poll_records=self.batch_size,
            timeout_s=self.timeout_s,
            client_options=self.client_options,
        )


@dataclass
class ProjectorReport:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    """Messages dead-lettered: not valid events, and events the store refused."""
    refused_by_store: int = 0
    """Valid events the store refused (conflicting event ids, content it cannot store)."""
    batches: int = 0
    anomalies: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.applied / self.elapsed_s if self.elapsed_s else 0.0


class _SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.projector.seek_to_stored(assigned)


class Projector:
    """Applies the lifecycle topic to a store until stopped or caught up.

    ``dead_letters`` keeps the messages that are not valid events (before their batch is
    applied); ``on_batch`` hears of every committed batch; ``consumer_factory`` builds the
    Kafka consumer (default: :func:`consumer.reading.open_consumer`).
    """

    def __init__(
        self,
        config: ProjectorConfig,
        store: BatchStore,
        dead_letters: DeadLetterSink,
        metrics: ProjectorMetrics | None = None,
        codec: EventCodec | None = None,
        *,
        on_batch: BatchObserver | None = None,
        consumer_factory: ConsumerFactory = open_consumer,
    ) -> None:
        self.config = config
        self.store = store
        self.dead_letters = dead_letters
        self.metrics = metrics or ProjectorMetrics()
        self.codec = codec or EventCodec()
        self.report = ProjectorReport()
        self._on_batch = on_batch
        self._consumer_factory = consumer_factory
        self._stop = threading.Event()
        self._consumer: TopicConsumer | None = None
        self._targets: dict[int, int] = {}
        self._last_progress = 0.0
        self._poll_backoff = self._backoff()

    def stop(self) -> None:
        """Ask the loop to finish its current batch, commit it and leave."""
        self._stop.set()

    def run(self) -> ProjectorReport:
        """Project until stopped or caught up; the garbage collector is tuned meanwhile."""
        with batch_collector() as collector:
            return self._run(collector)

    @property
    def consumer(self) -> TopicConsumer:
        if self._consumer is None:
            raise RuntimeError("the projector is not running")
        return self._consumer

    def _run(self, collector: BatchCollector) -> ProjectorReport:
        started = time.monotonic()
        self._consumer = self._consumer_factory(self.config.reader())
        try:
            self._targets = self._end_offsets() if self.config.until_caught_up else {}
            self._attach()
            while not self._stop.is_set():
                if self._poll_and_process():
                    collector.after_batch()
                else:
                    collector.idle()
                self.report.elapsed_s = time.monotonic() - started
                self._log_progress()
                if self.config.until_caught_up and self._caught_up():
                    log.info("caught up with the end offsets seen at start")
                    break
        finally:
            self.report.elapsed_s = time.monotonic() - started
            self.consumer.close(autocommit=False)
            self._log_progress(force=True)
        return self.report

    def _poll_and_process(self) -> bool:
        """Poll once and process what came (True); the batch is released on return."""
        try:
            polled = self.consumer.poll(
                timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size
            )
        except KafkaError as exc:
            self._poll_failed(exc)
            return False
        self._poll_backoff.reset()
        records = [record for batch in polled.values() for record in batch]
        if records:
            self._process(records)
        return bool(records)

    def _poll_failed(self, exc: KafkaError) -> None:
        """Wait out a retriable poll failure (the broker or the group coordinator away: the
        client raises its heartbeat's connection error from ``poll``), longer each time in a
        row; re-raise any other. Nothing was read, so nothing is rewound."""
        if not exc.retriable:
            raise exc
        self.metrics.poll_failures.inc()
        log.warning("polling %s failed; retrying: %s", self.config.topic, first_line(exc))
        self._poll_backoff.wait(self._stop)

    def _partitions(self) -> list[TopicPartition]:
        found = topic_partitions(self.consumer, self.config.topic, self.config.timeout_s)
        only = self.config.partitions
        return found if only is None else [tp for tp in found if tp.partition in only]

    def _end_offsets(self) -> dict[int, int]:
        ends = self.consumer.end_offsets(self._partitions())
        targets = {tp.partition: offset for tp, offset in ends.items()}
        log.info("will stop at end offsets %s (%d messages)", targets, sum(targets.values()))
        return targets

    def _attach(self) -> None:
        if self.config.group_id is None:
            partitions = self._partitions()
            self.consumer.assign(partitions)
            self.seek_to_stored(partitions)
        else:
            self.consumer.subscribe([self.config.topic], listener=_SeekToStoredPositions(self))

    def seek_to_stored(self, partitions: Any) -> None:
        """Seek each partition to the next offset stored in the database."""
        stored = self._with_retry(lambda: self.store.positions(self.config.topic), "read positions")
        if stored is None:
            return
        starts = self.config.start_offsets or {}
        for tp in partitions:
            offset = stored.get(tp.partition, starts.get(tp.partition))
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        log.info(
            "assigned partitions %s at stored positions %s",
            sorted(tp.partition for tp in partitions),
            {
                tp.partition: stored.get(tp.partition, starts.get(tp.partition, 0))
                for tp in partitions
            },
        )

    def _process(self, records: list[Any]) -> None:
        started = time.monotonic()
        intake = sort_records(records, self.codec)
        if not self._dead_letter(intake.refused):
            self._rewind(intake)
            return
        applied = self._apply(intake)
        if applied is None:
            self._rewind(intake)
            return
        result, refused_by_store = applied
        self._commit_to_kafka(intake.next_offsets)
        self._count(intake, result, refused_by_store)
        if self._on_batch is not None:
            self._on_batch(intake, result)
        self.metrics.batch_seconds.observe(time.monotonic() - started)

    def _backoff(self) -> Backoff:
        return Backoff(initial_s=self.config.retry_initial_s)

    def _dead_letter(self, messages: Sequence[RefusedMessage]) -> bool:
        """Keep ``messages`` in the dead-letter sink, retrying until it confirms; False when
        a stop was requested first (nothing may then be committed past them)."""
        if not messages:
            return True
        backoff = self._backoff()
        while True:
            try:
                self.dead_letters.write(messages)
                return True
            except DeadLetterError as exc:
                log.error("dead-letter write failed, batch not committed; retrying: %s", exc)
                if not backoff.wait(self._stop):
                    return False

    def _apply(self, intake: Intake) -> tuple[ApplyResult, int] | None:
        """Apply the batch and its positions, and how many events the store refused.

        When the store refuses the batch for the content of some event (rather than
        failing as a store), the batch is split in halves until each refused event stands
        alone; those are dead-lettered with the store's reason, the events around them are
        applied once, in order. None when a stop was requested first.
        """
        refused: list[RefusedMessage] = []
        outcome = self._attempt(intake, intake.events, intake.next_offsets, refused)
        if not isinstance(outcome, ContentFault):
            return None if outcome is None else (outcome, len(refused))
        log.warning(
            "the store refused a batch of %d events for their content (%s); isolating the "
            "events it refuses", len(intake.events), outcome,
        )
        pieces = self._isolate(intake, intake.events, refused)
        if pieces is None:
            return None
        closing = self._attempt(intake, [], intake.next_offsets, refused)
        if not isinstance(closing, ApplyResult):
            return None
        return merged([*pieces, closing]), len(refused)

    def _isolate(
        self, intake: Intake, events: Sequence[PositionedEvent], refused: list[RefusedMessage]
    ) -> list[ApplyResult] | None:
        outcome = self._attempt(intake, events, offsets_after(events), refused)
        if outcome is None or isinstance(outcome, ApplyResult):
            return None if outcome is None else [outcome]
        if len(events) == 1:
            message = intake.refusal(
                events[0], "StoreRefusal", f"the projection store refused the event: {outcome}"
            )
            if not self._dead_letter([message]):
                return None
            refused.append(message)
            return []
        middle = len(events) // 2
        first = self._isolate(intake, events[:middle], refused)
        if first is None:
            return None
        second = self._isolate(intake, events[middle:], refused)
        return None if second is None else first + second

    def _attempt(
        self,
        intake: Intake,
        events: Sequence[PositionedEvent],
        next_offsets: Mapping[tuple[str, int], int],
        refused: list[RefusedMessage],
    ) -> ApplyResult | ContentFault | None:
        """One apply, retried while the store fails as a store (connection lost, read-only,
        lock timeout, disk full); events it refuses by name are dead-lettered and the rest
        applied. A content fault is returned; None when a stop was requested."""
        pending = list(events)
        backoff = self._backoff()
        while True:
            try:
                return self.store.apply(pending, next_offsets)
            except RefusedEventsError as exc:
                messages = [
                    intake.refusal(positioned, "ConflictingEventId", reason)
                    for positioned, reason in exc.refused
                ]
                if not self._dead_letter(messages):
                    return None
                refused.extend(messages)
                gone = {message.source for message in messages}
                pending = [p for p in pending if (p.topic, p.partition, p.offset) not in gone]
            except CONTENT_FAULTS as exc:
                return ContentFault(exc)
            except DBAPIError as exc:
                self.metrics.store_failures.inc()
                log.error(
                    "database error (commit batch), nothing committed; retrying: %s",
                    first_line(exc),
                )
                if not backoff.wait(self._stop):
                    return None

    def _with_retry(self, action: Callable[[], _Result], what: str) -> _Result | None:
        backoff = self._backoff()
        while True:
            try:
                return action()
            except DBAPIError as exc:
                self.metrics.store_failures.inc()
                log.error("database error (%s), nothing committed; retrying: %s", what,
                          first_line(exc))
                if not backoff.wait(self._stop):
                    return None

    def _rewind(self, intake: Intake) -> None:
        """Forget a batch that was not committed: seek back so it is read again."""
        first: dict[tuple[str, int], int] = {}
        for positioned in intake.events:
            key = (positioned.topic, positioned.partition)
            first[key] = min(first.get(key, positioned.offset), positioned.offset)
        for message in intake.refused:
            key = (message.topic, message.partition)
            first[key] = min(first.get(key, message.offset), message.offset)
        for (topic, partition), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition), offset)
            except (KafkaError, AssertionError, ValueError) as exc:
                log.warning("could not rewind %s[%d]: %s", topic, partition, exc)

    def _commit_to_kafka(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        if self.config.group_id is None:
            return
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
            for (topic, partition), offset in next_offsets.items()
        }
        try:
            self.consumer.commit(offsets)
        except KafkaError as exc:
            log.warning(
                "informational Kafka offset commit failed (positions are in the DB): %s", exc
            )

    def _count(self, intake: Intake, result: ApplyResult, refused_by_store: int) -> None:
        report = self.report
        report.batches += 1
        report.applied += result.applied
        report.duplicates += result.duplicates
        report.dead_lettered += len(intake.refused) + refused_by_store
        report.refused_by_store += refused_by_store
        self.metrics.applied.inc(result.applied)
        self.metrics.duplicates.inc(result.duplicates)
        self.metrics.dead_lettered.inc(len(intake.refused) + refused_by_store)
        for kind, count in result.anomalies.items():
            report.anomalies[str(kind)] += count
            self.metrics.anomalies.labels(kind=str(kind)).inc(count)
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            offset = intake.next_offsets.get((tp.topic, tp.partition))
            if highwater is not None and offset is not None:
                self.metrics.lag.labels(partition=str(tp.partition)).set(max(0, highwater - offset))

    def _caught_up(self) -> bool:
        stored = self._with_retry(lambda: self.store.positions(self.config.topic), "read positions")
        if stored is None:
            return False
        return all(stored.get(partition, 0) >= end for partition, end in self._targets.items())

    def _log_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self.config.progress_interval_s:
            return
        self._last_progress = now
        report = self.report
        lag = sum(
            int(sample.value) for metric in self.metrics.lag.collect() for sample in metric.samples
        )
        log.info(
            "projected %d events (%.0f/s), %d duplicates skipped, %d dead-lettered, "
            "%d anomalies, lag %d",
            report.applied,
            report.rate,
            report.duplicates,
            report.dead_lettered,
            sum(report.anomalies.values()),
            lag,
        )
