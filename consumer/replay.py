"""Replaying the lifecycle topic into a fresh database with the live projector's code path.

A replay reads every partition without a consumer group (so the projector's group and its
committed offsets are never touched), from the beginning or from the first message at or
after an instant (Kafka message timestamps, via ``offsets_for_times``), up to the end
offsets seen when it starts. Events go through the same :class:`~consumer.projector.Projector`
and :meth:`~projections.write.store.ProjectionStore.apply` as live, so the same fold builds
the same rows. The projector is given a sink that keeps refused messages (counted and
logged, not dead-lettered again: the live projector already did that) and an observer that
reports progress. The target must already be migrated (``projections.db.migrate.upgrade``).

A replay into an empty database is normally a **bulk** one: the same projector loop drives a
:class:`~projections.bulk.store.BulkStore` instead, which folds in memory, loads the audit
rows without the secondary indexes and writes states, chain heads and positions once at the
end (:mod:`projections.bulk`). Interrupted, it leaves its marker row: such a store is
refused by ``--resume`` (:func:`unfinished_bulk_load`).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kafka.errors import KafkaError
from sqlalchemy.exc import IntegrityError

from consumer.bulk_workers import (
    WorkerTask,
    automatic_workers,
    run_workers,
    share_partitions,
)
from consumer.errors import ReplayError, TopicUnavailableError
from consumer.intake import Intake, RefusedMessage
from consumer.metrics import ProjectorMetrics
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from consumer.reading import ReaderSettings, open_consumer, topic_partitions
from projections.bulk.scratch import ParallelLoadError, loads_in_parallel, worker_stores
from projections.bulk.store import BulkStore
from projections.db.backends import DeferredIndex
from projections.db.engine import create_engine_for
from projections.db.tables import audit_log, bulk_loads, consumer_positions, credentials
from projections.write.store import ApplyResult, ProjectionStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after every committed batch with (messages done, messages to do)."""


@dataclass(frozen=True)
class ReplayPlan:
    """Where a replay starts and ends in each partition of the topic."""

    topic: str
    start_offsets: dict[int, int]
    end_offsets: dict[int, int]

    @property
    def counts(self) -> dict[int, int]:
        """Partition -> messages between its start and end offsets."""
        return {
            partition: max(0, end - self.start_offsets.get(partition, 0))
            for partition, end in self.end_offsets.items()
        }

    @property
    def total(self) -> int:
        """Messages between the start and end offsets, over every partition."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class ReplayOutcome:
    """What a replay did, and where it stopped."""

    plan: ReplayPlan
    report: ProjectorReport
    refused: int
    positions: dict[int, int]
    worker_peak_memory_kib: int = 0
    """The largest peak resident memory of a bulk replay's worker processes (0: none)."""

    @property
    def complete(self) -> bool:
        """Whether every partition reached the end offsets of the plan."""
        return _reached(self.plan, self.positions)


def _reached(plan: ReplayPlan, positions: Mapping[int, int]) -> bool:
    return all(positions.get(partition, 0) >= end for partition, end in plan.end_offsets.items())


def plan_replay(
    bootstrap_servers: str,
    topic: str,
    since: datetime | None = None,
    timeout_s: float = 30.0,
    client_options: Mapping[str, Any] | None = None,
) -> ReplayPlan:
    """Start and end offsets of a replay of ``topic``, from the beginning or from ``since``.

    With ``since``, a partition starts at the first message whose Kafka timestamp is at or
    after it; a partition without such a message starts (and ends) at its end offset.
    """
    settings = ReaderSettings(
        bootstrap_servers, "client-audit-replay-planner", timeout_s=timeout_s,
        client_options=client_options or {},
    )
    try:
        consumer = open_consumer(settings)
    except TopicUnavailableError as exc:
        raise ReplayError(str(exc)) from exc
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
    except TopicUnavailableError as exc:
        raise ReplayError(str(exc)) from exc
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
            for table in (credentials, audit_log, consumer_positions, bulk_loads):
                if not inspector.has_table(table.name):
                    continue
                if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                    return False
        return True
    finally:
        engine.dispose()


def unfinished_bulk_load(database_url: str) -> str | None:
    """The topic of a bulk replay into the database that began and did not finish (None:
    there is none, or the database predates bulk replays)."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(bulk_loads.name):
                return None
            return connection.scalar(sa.select(bulk_loads.c.topic).limit(1))
    finally:
        engine.dispose()


@dataclass
class KeptRefusals:
    """A dead-letter sink that counts and logs refused messages instead of dead-lettering
    them a second time."""

    refused: int = 0

    def write(self, messages: Sequence[RefusedMessage]) -> None:
        for message in messages:
            log.warning(
                "refused %s[%d]@%d (already dead-lettered live): %s",
                message.topic, message.partition, message.offset, message.reason,
            )
        self.refused += len(messages)

    def close(self) -> None:
        """Nothing to close: nothing was opened."""


@dataclass
class ProgressReport:
    """Follows the positions a replay reached and reports them as (done, to do)."""

    plan: ReplayPlan
    progress: Progress | None
    done: dict[int, int] = field(default_factory=dict)

    def reached(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        for (topic, partition), offset in next_offsets.items():
            if topic == self.plan.topic:
                self.done[partition] = max(self.done.get(partition, 0), offset)
        self.report()

    def after_batch(self, intake: Intake, _result: ApplyResult) -> None:
        self.reached(intake.next_offsets)

    def report(self) -> None:
        if self.progress is None:
            return
        done = total = 0
        for partition, end in self.plan.end_offsets.items():
            start = self.plan.start_offsets.get(partition, 0)
            reached = self.done.get(partition, start)
            done += max(0, reached - start)
            total += max(end, reached) - start
        self.progress(done, total)


class Replay:
    """One replay of a topic into a migrated database: build it, then :meth:`run` it (once)."""

    def __init__(
        self,
        plan: ReplayPlan,
        bootstrap_servers: str,
        database_url: str,
        *,
        batch_size: int = 5000,
        timeout_s: float = 30.0,
        progress: Progress | None = None,
        client_options: Mapping[str, Any] | None = None,
        bulk: bool = False,
        workers: int | None = 1,
    ) -> None:
        """``workers``: processes sharing the partitions of a bulk replay (None:
        :func:`~consumer.bulk_workers.automatic_workers`); live replays and replays into
        an in-memory SQLite database use one."""
        self.plan = plan
        self._settings = (bootstrap_servers, database_url, batch_size, timeout_s,
                          dict(client_options or {}))
        self._engine = create_engine_for(database_url)
        if not bulk or not loads_in_parallel(self._engine):
            workers = 1
        self._workers = automatic_workers(plan.counts) if workers is None else workers
        self._stop = multiprocessing.get_context("spawn").Event()
        self._bulk = BulkStore(self._engine, plan.topic) if bulk else None
        self._store: ProjectionStore | BulkStore = self._bulk or ProjectionStore(self._engine)
        self._refusals = KeptRefusals()
        self._progress = ProgressReport(plan, progress)
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
            client_id="client-audit-replay",
            client_options=client_options or {},
        )
        self.projector = Projector(
            config, self._store, self._refusals, ProjectorMetrics(),
            on_batch=self._progress.after_batch,
        )

    @property
    def workers(self) -> int:
        """Processes that load the replay (1: this one)."""
        return self._workers

    def stop(self) -> None:
        """Ask the replay (every worker of it) to finish its current batch and leave."""
        self._stop.set()
        self.projector.stop()

    def run(self) -> ReplayOutcome:
        """Replay until the end offsets seen at start (or a stop request); dispose the engine.

        The start offsets are stored as positions first (positions never move backwards),
        so an interrupted replay resumes where it stopped, and a partition with nothing to
        replay counts as caught up. A bulk replay is finished (states, heads, positions and
        indexes written, marker deleted) only when it reached every end offset.
        """
        if self._bulk is not None and self._workers > 1:
            try:
                return self._run_workers(self._bulk)
            finally:
                self._engine.dispose()
        try:
            if self._bulk is not None:
                self._bulk.begin()
            self._store.apply(
                [], {(self.plan.topic, p): start for p, start in self.plan.start_offsets.items()}
            )
            stored = self._store.positions(self.plan.topic)
            self._progress.reached({(self.plan.topic, p): at for p, at in stored.items()})
            report = self.projector.run()
            positions = self._store.positions(self.plan.topic)
            if self._bulk is not None and _reached(self.plan, positions):
                self._bulk.finish()
        finally:
            if self._bulk is not None:
                self._bulk.close()
            self._engine.dispose()
        return ReplayOutcome(self.plan, report, self._refusals.refused, positions)

    def _run_workers(self, bulk: BulkStore) -> ReplayOutcome:
        """A bulk replay by worker processes (:mod:`consumer.bulk_workers`), each loading
        into its store (:mod:`projections.bulk.scratch`: SQLite's are merged at the end);
        should an event id or a credential appear in the partitions of two workers, the
        load is discarded and done again in this process, as it is when no scratch copy can
        be made for SQLite."""
        bulk.prepare()
        try:
            clash = self._load_by_workers(bulk)
        except ParallelLoadError as exc:
            log.warning("%s; loading in one process", exc)
            return self._run_alone(bulk.deferred)
        if isinstance(clash, ReplayOutcome):
            return clash
        log.warning("an event id or a credential is in the partitions of two workers (%s); "
                    "loading again in one process", clash.splitlines()[0])
        bulk.discard_rows()
        return self._run_alone(bulk.deferred)

    def _load_by_workers(self, bulk: BulkStore) -> ReplayOutcome | str:
        """The load by the workers into the prepared store: its outcome, or what two workers
        clashed on (an IntegrityError's message)."""
        bootstrap, url, batch_size, timeout_s, options = self._settings
        plan = self.plan
        shares = share_partitions(plan.counts, self._workers)
        with worker_stores(self._engine, url, len(shares)) as stores:
            tasks = [
                WorkerTask(plan.topic, share, plan.start_offsets, plan.end_offsets, bootstrap,
                           store_url, batch_size, timeout_s, options)
                for share, store_url in zip(shares, stores.urls, strict=True)
            ]
            outcome = run_workers(tasks, self._stop, self._progress.reached)
            if outcome.errors:
                clash = next((error for error in outcome.errors if "IntegrityError" in error),
                             None)
                if clash is None:
                    raise ReplayError(f"a bulk replay worker failed: {outcome.errors[0]}")
            elif not _reached(plan, outcome.positions):
                return ReplayOutcome(plan, outcome.report, outcome.refused, outcome.positions)
            else:
                try:
                    stores.merge()
                    bulk.complete()
                    return ReplayOutcome(plan, outcome.report, outcome.refused,
                                         outcome.positions, outcome.peak_memory_kib)
                except IntegrityError as exc:
                    clash = str(exc.orig)
        return clash

    def _run_alone(self, deferred: list[DeferredIndex]) -> ReplayOutcome:
        """The bulk load in this process, into the store the workers prepared."""
        store = BulkStore(self._engine, self.plan.topic)
        self._store = store
        self.projector.store = store
        self._progress.done.clear()
        try:
            store.open()
            store.apply(
                [], {(self.plan.topic, p): start for p, start in self.plan.start_offsets.items()}
            )
            report = self.projector.run()
            positions = store.positions(self.plan.topic)
            if _reached(self.plan, positions):
                store.finish(deferred)
        finally:
            store.close()
        return ReplayOutcome(self.plan, report, self._refusals.refused, positions)
