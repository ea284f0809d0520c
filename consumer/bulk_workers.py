"""A bulk replay spread over worker processes, each loading its own share of the partitions.

Everything a bulk load folds is per partition (a credential's events share a key, hence a
partition; chains, Merkle logs and positions are per partition) except the event ids: an id
repeated in two partitions is the one thing two workers cannot see. The coordinating
process prepares the store (marker row, deferred indexes), the workers load and write their
states, heads and positions, and the coordinator builds the indexes: PostgreSQL's unique
constraint on ``event_id`` then fails on such an id, and the caller falls back to one
process (:class:`consumer.replay.Replay`). SQLite has one writer at a time: there the
workers but the first load into scratch copies that the coordinator merges into the target
(:mod:`projections.bulk.scratch`), where the unique constraints, kept during the load,
refuse such an id.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

from consumer.intake import Intake
from consumer.metrics import ProjectorMetrics
from consumer.orphans import parent_gone
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from projections.write.store import ApplyResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerTask:
    """What one worker loads: its partitions of the plan's topic, from their start offsets."""

    topic: str
    partitions: frozenset[int]
    start_offsets: dict[int, int]
    end_offsets: dict[int, int]
    bootstrap_servers: str
    database_url: str
    batch_size: int
    timeout_s: float
    client_options: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class WorkersOutcome:
    """The workers' reports summed, what they refused, and where they stopped."""

    report: ProjectorReport
    refused: int
    positions: dict[int, int]
    errors: list[str]
    peak_memory_kib: int = 0
    """The largest peak resident memory of a worker (``VmHWM``; 0 where unknown)."""


def peak_memory_kib() -> int:
    """This process's peak resident memory in KiB (Linux ``VmHWM``: unlike ``ru_maxrss`` it
    starts afresh at exec, so a spawned process does not count its parent's); 0 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


AUTOMATIC_MINIMUM = 50_000
"""Messages below which an automatic bulk replay stays in one process: starting a worker
(a fresh interpreter, its imports, its Kafka and database connections) costs more than it
saves."""


def automatic_workers(counts: Mapping[int, int], cpus: int | None = None) -> int:
    """Worker processes for a bulk replay of ``counts`` (partition -> messages): one per
    processor, no more than the partitions with messages, one for a small replay."""
    busy = sum(1 for count in counts.values() if count > 0)
    if sum(counts.values()) < AUTOMATIC_MINIMUM:
        return 1
    return max(1, min(cpus or os.cpu_count() or 1, busy))


def share_partitions(counts: Mapping[int, int], workers: int) -> list[frozenset[int]]:
    """Partitions dealt to ``workers`` so that their message counts are about even (the
    largest first, each to the least loaded worker); no worker without a partition."""
    loads = [0] * min(workers, len(counts))
    shares: list[set[int]] = [set() for _ in loads]
    for partition, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lightest = loads.index(min(loads))
        shares[lightest].add(partition)
        loads[lightest] += count
    return [frozenset(share) for share in shares]


def run_workers(
    tasks: list[WorkerTask], stop: Event, on_progress: Any,
) -> WorkersOutcome:
    """Run one process per task until all are done; ``on_progress`` hears every worker's
    next offsets as batches commit."""
    context = multiprocessing.get_context("spawn")
    progress: Any = context.Queue()
    results: Any = context.Queue()
    processes = [
        context.Process(
            target=_work, args=(task, progress, results, stop, os.getpid()), daemon=True
        )
        for task in tasks
    ]
    for process in processes:
        process.start()
    finished: list[dict[str, Any]] = []
    while len(finished) < len(processes):
        try:
            finished.append(results.get_nowait())
            continue
        except queue.Empty:
            pass
        try:
            on_progress(progress.get(timeout=0.2))
        except queue.Empty:
            if not any(process.is_alive() for process in processes) and results.empty():
                finished.extend({"error": "a worker died"} for _ in
                                range(len(processes) - len(finished)))
    for process in processes:
        process.join()
    return _summed(finished)


def _summed(finished: list[dict[str, Any]]) -> WorkersOutcome:
    report = ProjectorReport()
    anomalies: Counter[str] = Counter()
    positions: dict[int, int] = {}
    refused = 0
    errors = []
    peak = 0
    for result in finished:
        peak = max(peak, int(result.get("peak_kib", 0)))
        if result.get("error"):
            errors.append(str(result["error"]))
            continue
        given = result["report"]
        report.applied += given["applied"]
        report.duplicates += given["duplicates"]
        report.dead_lettered += given["dead_lettered"]
        report.refused_by_store += given["refused_by_store"]
        report.batches += given["batches"]
        report.elapsed_s = max(report.elapsed_s, given["elapsed_s"])
        anomalies.update(given["anomalies"])
        refused += result["refused"]
        positions.update(result["positions"])
    report.anomalies = anomalies
    return WorkersOutcome(report, refused, positions, errors, peak)


def _stop_when_asked(
    projector: Projector, stop: Event, coordinator: int, orphaned: threading.Event
) -> None:
    """Stop ``projector`` when the coordinator asks, or once it is gone (killed outright:
    the worker has been handed to another parent, and its load can never be merged or
    finished); ``orphaned`` then tells the worker to report nothing."""
    if parent_gone(coordinator, stop):
        log.warning("the replay that started this worker (pid %d) is gone; stopping",
                    coordinator)
        orphaned.set()
    projector.stop()


def _work(
    task: WorkerTask, progress: Any, results: Any, stop: Event, coordinator: int
) -> None:
    """One worker: a bulk store session and a projector over the task's partitions, until
    done, asked to stop, or left by the coordinating process (``coordinator``)."""
    from consumer.replay import KeptRefusals
    from projections.bulk.store import BulkStore
    from projections.db.engine import create_engine_for

    engine = create_engine_for(task.database_url)
    store = BulkStore(engine, task.topic)
    refusals = KeptRefusals()
    config = ProjectorConfig(
        bootstrap_servers=task.bootstrap_servers, topic=task.topic, dead_letter_topic="",
        group_id=None, batch_size=task.batch_size, poll_timeout_ms=200, until_caught_up=True,
        start_offsets=task.start_offsets, partitions=task.partitions, timeout_s=task.timeout_s,
        client_id="client-audit-replay", client_options=task.client_options,
    )
    orphaned = threading.Event()

    def report_progress(intake: Intake, _result: ApplyResult) -> None:
        if not orphaned.is_set():
            progress.put(dict(intake.next_offsets))

    projector = Projector(config, store, refusals, ProjectorMetrics(), on_batch=report_progress)
    threading.Thread(
        target=_stop_when_asked, args=(projector, stop, coordinator, orphaned), daemon=True
    ).start()
    try:
        store.open()
        store.apply([], {(task.topic, p): task.start_offsets[p] for p in task.partitions})
        report = projector.run()
        if orphaned.is_set():
            return
        positions = store.positions(task.topic)
        if all(positions.get(p, 0) >= task.end_offsets[p] for p in task.partitions):
            store.write_state()
        results.put({
            "report": {**asdict(report), "anomalies": dict(report.anomalies)},
            "refused": refusals.refused, "positions": positions,
            "peak_kib": peak_memory_kib(),
        })
    except Exception as exc:  # reported to the coordinator, which falls back or fails
        log.exception("bulk replay worker failed")
        results.put({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        store.close()
        engine.dispose()
