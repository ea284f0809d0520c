"""Bulk replay (``client-audit replay --into`` a fresh store) into SQLite and PostgreSQL,
each run in a process of its own so that its peak memory (``VmHWM``, with its workers')
is its own.

The replay is timed as the live projection is (:mod:`bench.projection_rate`): from the
start of the replay into the migrated store to the finished store (indexes built, marker
deleted), through the same :class:`consumer.replay.Replay` the command runs.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

from bench.cpu_use import metered
from bench.figures import Figure
from bench.projection_rate import FreshStore
from consumer.bulk_workers import peak_memory_kib
from consumer.replay import Replay, plan_replay
from projections.db.migrate import upgrade

BATCH_SIZE = 5000


def replay_in_process(
    bootstrap: str, topic: str, url: str, bulk: bool, workers: int = 1
) -> dict[str, Any]:
    """One replay of the whole topic into ``url`` (in this process, and ``workers`` worker
    processes on PostgreSQL): rate, time, peak memory of this process and of the largest
    worker."""
    plan = plan_replay(bootstrap, topic)
    upgrade(url)
    with metered(plan.total) as cpu:
        started = time.perf_counter()
        outcome = Replay(plan, bootstrap, url, batch_size=BATCH_SIZE, bulk=bulk,
                         workers=workers).run()
        wall = time.perf_counter() - started
    if not outcome.complete:
        raise RuntimeError(f"replay of {topic} stopped before its end offsets")
    peak_kib = max(peak_memory_kib(), outcome.worker_peak_memory_kib)
    return {
        "events": outcome.report.applied,
        "seconds": round(wall, 2),
        "eventsPerSecond": round(outcome.report.applied / wall, 1),
        "peakMemoryMB": round(peak_kib / 1024, 1),
        "bulk": bulk,
        "workers": workers,
        "cpuMicrosPerEvent": cpu,
    }


def replay(
    bootstrap: str, topic: str, url: str, bulk: bool = True, workers: int = 1
) -> dict[str, Any]:
    """:func:`replay_in_process` in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    process = context.Process  # a pool's processes are daemons, which cannot have children
    results: Any = context.Queue()
    child = process(target=_report, args=(results, bootstrap, topic, url, bulk, workers))
    child.start()
    while True:
        try:
            result: dict[str, Any] = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not child.is_alive() and results.empty():
                raise RuntimeError(f"the replay process ended ({child.exitcode}) without a "
                                   "result") from None
    child.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def _report(results: Any, *arguments: Any) -> None:
    try:
        results.put(replay_in_process(*arguments))
    except Exception as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def measure(
    bootstrap: str, topic: str, backend: str, fresh: FreshStore, runs: int, label: str,
    bulk: bool = True, workers: int = 1,
) -> tuple[Figure, Figure]:
    """Rate and peak memory of ``runs`` replays of ``topic`` into fresh stores."""
    kind = "bulk replay" if bulk else "replay (live path)"
    if workers > 1:
        kind += f", {workers} workers"
    rate = Figure(f"{kind} into {backend} ({label})", "events/s")
    memory = Figure(f"{kind} into {backend} ({label}): peak memory", "MB",
                    higher_is_better=False)
    measured = []
    for _ in range(runs):
        with fresh() as url:
            result = replay(bootstrap, topic, url, bulk, workers)
        measured.append(result)
        rate.samples.append(result["eventsPerSecond"])
        memory.samples.append(result["peakMemoryMB"])
    rate.detail = {"events": measured[0]["events"], "runs": measured}
    return rate, memory
