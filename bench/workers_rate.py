"""Projection by several projector processes in one group: `client-audit project --workers N
--no-relay`.

Timed from outside, so process start, migration and group joins are included. The
processes write the alert outbox but run no relay thread (a deployment that wants the
projector's full rate runs ``client-audit relay`` as a process of its own), so the figure
stands beside the one-process projection, which runs no relay either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.figures import Figure
from bench.projection_rate import FreshStore
from bench.stream import BenchTopic


def project_with_workers(topic: BenchTopic, database_url: str, workers: int, group: str) -> float:
    """Events per second (wall time) of ``workers`` processes projecting the whole topic."""
    command = [
        sys.executable,
        "-m",
        "client_audit.cli",
        "--bootstrap-servers",
        topic.bootstrap,
        "--topic",
        topic.lifecycle,
        "--dead-letter-topic",
        topic.dead_letter,
        "--database-url",
        database_url,
        "project",
        "--until-caught-up",
        "--workers",
        str(workers),
        "--no-relay",
        "--group",
        group,
    ]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"project --workers {workers} failed: {finished.stderr[-2000:]}")
    applied = json.loads(finished.stdout)["applied"]
    if applied != topic.events:
        raise RuntimeError(f"applied {applied} of {topic.events} events")
    return topic.events / elapsed


def figure_name(workers: int) -> str:
    return f"projection into PostgreSQL, {workers} worker processes (project --no-relay)"


def measure(topic: BenchTopic, fresh: FreshStore, workers: int, runs: int) -> Figure:
    figure = Figure(
        figure_name(workers),
        "events/s",
        detail={"events": topic.events, "workers": workers},
    )
    for run in range(runs):
        with fresh() as url:
            group = f"bench-workers-{time.time()}-{run}"
            figure.samples.append(project_with_workers(topic, url, workers, group))
    return figure
