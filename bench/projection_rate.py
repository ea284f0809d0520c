"""End-to-end projection: topic -> projector -> SQLite / PostgreSQL, one fresh store per run."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from bench.figures import Figure
from bench.stream import BenchTopic
from consumer.dead_letter import DeadLetterWriter
from consumer.projector import Projector, ProjectorConfig
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.write.store import ProjectionStore

FreshStore = Callable[[], AbstractContextManager[str]]


def project_once(topic: BenchTopic, database_url: str, group: str | None) -> float:
    """Events per second of one projection of the whole topic into an empty store."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    writer = DeadLetterWriter(topic.bootstrap, topic.dead_letter)
    config = ProjectorConfig(
        bootstrap_servers=topic.bootstrap,
        topic=topic.lifecycle,
        dead_letter_topic=topic.dead_letter,
        group_id=group,
        until_caught_up=True,
        progress_interval_s=30,
    )
    try:
        started = time.perf_counter()
        report = Projector(config, ProjectionStore(engine), writer).run()
        elapsed = time.perf_counter() - started
    finally:
        writer.close()
        engine.dispose()
    if report.applied != topic.events:
        raise RuntimeError(f"applied {report.applied} of {topic.events} events")
    return topic.events / elapsed


def measure(topic: BenchTopic, backend: str, fresh: FreshStore, runs: int) -> Figure:
    figure = Figure(f"projection into {backend}", "events/s", detail={"events": topic.events})
    for run in range(runs):
        with fresh() as url:
            figure.samples.append(
                project_once(topic, url, group=f"bench-{backend}-{time.time()}-{run}")
            )
    return figure
