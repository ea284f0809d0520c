"""End-to-end projection: topic -> projector -> SQLite / PostgreSQL, one fresh store per run.

:func:`measure_signing` compares the projection into PostgreSQL with checkpoint signing off
(no key: what ``client-audit project`` does without ``--signing-key``) and on (a
:class:`~consumer.checkpointing.Checkpointer` as the projector's batch observer, as
``client_audit.cli.project_wiring.run_projector`` builds it: a fresh Ed25519 key, a
checkpoint every 10,000 entries or 60 s and one when the projector stops, each stored and
published to a checkpoints topic of the bench). Runs alternate off/on, on/off, ... so that
the machine's drift and noise hit both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bench.cpu_use import metered
from bench.figures import Figure
from bench.stream import BenchTopic
from consumer.checkpointing import Checkpointer, CheckpointPolicy, CheckpointPublisher
from consumer.dead_letter import DeadLetterWriter
from consumer.intake import Intake
from consumer.projector import Projector, ProjectorConfig
from producer.topics import TopicLayout, ensure_topics
from projections.chain.signing import SigningKey
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.write.store import ApplyResult, ProjectionStore

FreshStore = Callable[[], AbstractContextManager[str]]

SIGNING_POLICY = CheckpointPolicy(every_entries=10_000, every_seconds=60.0)
"""The projector's defaults (``--checkpoint-every 10000 --checkpoint-seconds 60``)."""


@dataclass(frozen=True)
class Signing:
    """Checkpoint signing for a projection run: the key, the policy, and the topic the
    checkpoints are published to (None: stored only)."""

    key: SigningKey
    policy: CheckpointPolicy = SIGNING_POLICY
    checkpoint_topic: str | None = None


@dataclass(frozen=True)
class ProjectionRun:
    events_per_second: float
    checkpoints: int
    """Signed checkpoints made (0 without signing)."""
    checkpoint_seconds: float
    """Time spent in the checkpointer (reading heads, signing, storing, publishing)."""
    cpu: dict[str, float | None]
    """CPU per event of the timed part, by where it went (:func:`bench.cpu_use.split`)."""


def project(
    topic: BenchTopic, database_url: str, group: str | None, signing: Signing | None = None
) -> ProjectionRun:
    """One projection of the whole topic into an empty store, timed from the projector's
    start to its last commit (and, when signing, to its last checkpoint)."""
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
    checkpointer = None
    spent = 0.0

    def observe(intake: Intake, result: ApplyResult) -> None:
        nonlocal spent
        assert checkpointer is not None
        started = time.perf_counter()
        checkpointer.after_batch(intake, result)
        spent += time.perf_counter() - started

    if signing is not None:
        publisher = (
            None
            if signing.checkpoint_topic is None
            else CheckpointPublisher(topic.bootstrap, signing.checkpoint_topic)
        )
        checkpointer = Checkpointer(engine, signing.key, signing.policy, publisher)
    projector = Projector(
        config, ProjectionStore(engine), writer,
        on_batch=None if checkpointer is None else observe,
    )
    try:
        with metered(topic.events) as cpu:
            started = time.perf_counter()
            report = projector.run()
            if checkpointer is not None:
                finishing = time.perf_counter()
                checkpointer.finish()
                spent += time.perf_counter() - finishing
            elapsed = time.perf_counter() - started
    finally:
        writer.close()
        if checkpointer is not None and checkpointer.publisher is not None:
            checkpointer.publisher.close()
        engine.dispose()
    if report.applied != topic.events:
        raise RuntimeError(f"applied {report.applied} of {topic.events} events")
    made = 0 if checkpointer is None else checkpointer.made
    if checkpointer is not None and not made:
        raise RuntimeError("the projector signed no checkpoint")
    return ProjectionRun(topic.events / elapsed, made, spent, cpu)


def measure(topic: BenchTopic, backend: str, fresh: FreshStore, runs: int) -> Figure:
    """Rate of ``runs`` projections into fresh stores; each run's CPU split in the detail."""
    figure = Figure(f"projection into {backend}", "events/s",
                    detail={"events": topic.events, "runs": []})
    for run in range(runs):
        with fresh() as url:
            result = project(topic, url, group=f"bench-{backend}-{time.time()}-{run}")
        figure.samples.append(result.events_per_second)
        figure.detail["runs"].append({"eventsPerSecond": round(result.events_per_second, 1),
                                      "cpuMicrosPerEvent": result.cpu})
    return figure


def checkpoint_topic(topic: BenchTopic) -> str:
    """The bench's checkpoints topic (created like the production one: one partition)."""
    name = "bench.checkpoints"
    ensure_topics(
        topic.bootstrap, TopicLayout(topic.lifecycle, topic.dead_letter, checkpoints=name)
    )
    return name


def measure_signing(
    topic: BenchTopic, fresh: FreshStore, runs: int, publish: bool = True
) -> tuple[Figure, Figure, Figure]:
    """Projection into PostgreSQL with signing off and on, ``runs`` of each, alternated;
    and how much slower signing made it (per pair of neighbouring runs, in %)."""
    signing = Signing(SigningKey.generate(), SIGNING_POLICY,
                      checkpoint_topic(topic) if publish else None)
    where = signing.checkpoint_topic or "not published"
    common = {"events": topic.events, "runs": runs}
    off = Figure("projection into PostgreSQL, signing off", "events/s", detail=dict(common))
    on = Figure(
        "projection into PostgreSQL, signing on",
        "events/s",
        detail={
            **common,
            "every_entries": signing.policy.every_entries,
            "every_seconds": signing.policy.every_seconds,
            "checkpoint_topic": where,
            "checkpoints": [],
            "checkpoint_seconds": [],
            "checkpointer_percent_of_wall_time": [],
        },
    )
    for run in range(runs):
        order = (False, True) if run % 2 == 0 else (True, False)
        for signed in order:
            with fresh() as url:
                group = f"bench-signing-{'on' if signed else 'off'}-{time.time()}-{run}"
                result = project(topic, url, group, signing if signed else None)
            (on if signed else off).samples.append(result.events_per_second)
            if signed:
                on.detail["checkpoints"].append(result.checkpoints)
                on.detail["checkpoint_seconds"].append(result.checkpoint_seconds)
                on.detail["checkpointer_percent_of_wall_time"].append(
                    100 * result.checkpoint_seconds * result.events_per_second / topic.events
                )
    slower = Figure(
        "projection into PostgreSQL, signing on vs off (per run pair)",
        "% slower",
        [100 * (a - b) / a for a, b in zip(off.samples, on.samples, strict=True)],
        higher_is_better=False,
        detail={"of_medians": signing_cost(off, on)},
    )
    return off, on, slower


def signing_cost(off: Figure, on: Figure) -> float:
    """How much slower the median with signing is than the median without, in %."""
    return 100 * (statistics.median(off.samples) - statistics.median(on.samples)) / (
        statistics.median(off.samples)
    )
