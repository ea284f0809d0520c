"""Several projector processes in one consumer group, started and stopped together.

Each worker is a full projector with its own share of the partitions (the group assigns
them), its own database transactions and its own stored positions, so the result equals
one process; the parent forwards SIGTERM/SIGINT and sums the workers' reports. A worker
whose parent is killed outright (SIGKILL, the OOM killer) stops itself as on SIGTERM, so
that no projector is left running that nothing supervises.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections import Counter
from dataclasses import asdict
from multiprocessing.queues import Queue
from types import FrameType
from typing import Any

import click

from client_audit import logs
from client_audit.cli.project_wiring import run_projector
from client_audit.settings import Settings
from consumer.checkpointing import CheckpointPolicy
from consumer.orphans import parent_gone
from consumer.projector import ProjectorReport
from projections.db.migrate import upgrade

log = logging.getLogger(__name__)


def _stop_when_orphaned(parent: int) -> None:
    """SIGTERM this process (finish the batch, commit, leave) once ``parent`` is gone."""
    parent_gone(parent)
    log.warning("the process that started this projector (pid %d) is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)


def _work(
    settings: Settings, options: dict[str, Any], reports: Queue[dict[str, Any]], parent: int
) -> None:
    logs.configure()
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    report = run_projector(settings, settings.database_url, **options)
    if os.getppid() == parent:
        reports.put({**asdict(report), "anomalies": dict(report.anomalies)})


def run_workers(
    settings: Settings,
    workers: int,
    group_id: str,
    instance_id: str | None,
    until_caught_up: bool,
    batch_size: int,
    checkpoint_policy: CheckpointPolicy | None = None,
    relay: bool = True,
) -> ProjectorReport:
    """Run ``workers`` projector processes in ``group_id`` until they all stop (each with a
    relay, unless ``relay`` is False: relays side by side never take the same alert)."""
    upgrade(settings.database_url)
    context = multiprocessing.get_context("spawn")
    reports: Queue[dict[str, Any]] = context.Queue()
    processes = []
    for index in range(workers):
        options = {
            "group_id": group_id,
            "until_caught_up": until_caught_up,
            "batch_size": batch_size,
            "instance_id": f"{instance_id}-{index}" if instance_id else None,
            "checkpoint_policy": checkpoint_policy,
            "relay": relay,
        }
        process = context.Process(
            target=_work, args=(settings, options, reports, os.getpid()),
            name=f"projector-{index}",
        )
        process.start()
        processes.append(process)
    log.info("started %d projector processes in group %s", workers, group_id)

    def forward(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [process.name for process in processes if process.exitcode != 0]
    if failed:
        raise click.ClickException(f"projector processes failed: {', '.join(failed)}")
    return _sum([reports.get(timeout=10) for _ in processes])


def _sum(parts: list[dict[str, Any]]) -> ProjectorReport:
    total = ProjectorReport()
    for part in parts:
        total.applied += part["applied"]
        total.duplicates += part["duplicates"]
        total.dead_lettered += part["dead_lettered"]
        total.refused_by_store += part["refused_by_store"]
        total.batches += part["batches"]
        total.anomalies.update(Counter(part["anomalies"]))
        total.elapsed_s = max(total.elapsed_s, part["elapsed_s"])
    return total
