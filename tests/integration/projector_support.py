"""Helpers of the projector tests: publish, project (in-process or as a process), snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from client_audit.settings import Settings
from consumer.dead_letter import DeadLetterWriter
from consumer.projector import Projector, ProjectorConfig, ProjectorReport
from producer.publisher import EventPublisher
from producer.simulate import Simulation, SimulationConfig
from producer.topics import TopicLayout, ensure_topics
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.tables import audit_log, credentials
from projections.write.store import ProjectionStore
from schemas.models import LifecycleEvent


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    lifecycle: str
    dead_letter: str

    def settings(self, database_url: str) -> Settings:
        return Settings(
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            DATABASE_URL=database_url,
            lifecycle_topic=self.lifecycle,
            dead_letter_topic=self.dead_letter,
        )

    def projector_config(
        self, group: str | None, batch_size: int, until_caught_up: bool = False
    ) -> ProjectorConfig:
        """An in-process projector's settings for these topics (short polls for tests)."""
        return ProjectorConfig(
            bootstrap_servers=self.bootstrap,
            topic=self.lifecycle,
            dead_letter_topic=self.dead_letter,
            group_id=group,
            batch_size=batch_size,
            until_caught_up=until_caught_up,
            poll_timeout_ms=200,
        )

    def cli_options(self, database_url: str) -> list[str]:
        """The global ``client-audit`` options that point a command at these topics and DB."""
        return [
            "--bootstrap-servers", self.bootstrap,
            "--topic", self.lifecycle,
            "--dead-letter-topic", self.dead_letter,
            "--database-url", database_url,
        ]  # fmt: skip

    def project_command(
        self, database_url: str, group: str, batch_size: int, until_caught_up: bool
    ) -> list[str]:
        """``client-audit project`` as a process command line, run by this interpreter."""
        command = [
            sys.executable, "-m", "client_audit.cli", *self.cli_options(database_url),
            "project", "--group", group, "--batch-size", str(batch_size),
        ]  # fmt: skip
        if until_caught_up:
            command.append("--until-caught-up")
        return command


def make_topics(bootstrap: str, name: str, partitions: int = 6) -> Topics:
    topics = Topics(bootstrap, f"{name}.lifecycle", f"{name}.dlq")
    ensure_topics(bootstrap, TopicLayout(topics.lifecycle, topics.dead_letter, partitions))
    return topics


def publish(topics: Topics, events: Iterable[LifecycleEvent]) -> int:
    with EventPublisher(topics.bootstrap, topics.lifecycle, timeout_s=20) as publisher:
        return publisher.publish_many(list(events))


def publish_simulation(topics: Topics, credentials_count: int, seed: int = 11) -> Simulation:
    simulation = Simulation(SimulationConfig(credentials=credentials_count, seed=seed))
    publish(topics, simulation.events())
    return simulation


def project(
    topics: Topics, database_url: str, group: str | None, batch_size: int = 1000
) -> ProjectorReport:
    """Project the topic into the database in this process until caught up."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    writer = DeadLetterWriter(topics.bootstrap, topics.dead_letter, 20)
    try:
        config = topics.projector_config(group, batch_size, until_caught_up=True)
        return Projector(config, ProjectionStore(engine), writer).run()
    finally:
        writer.close()
        engine.dispose()


def spawn_projector(
    topics: Topics,
    database_url: str,
    group: str,
    batch_size: int,
    until_caught_up: bool = False,
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Run ``client-audit project`` as its own process (for signals and crashes)."""
    command = topics.project_command(database_url, group, batch_size, until_caught_up)
    command.extend(extra)
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ)
    )


def audit_count(database_url: str) -> int:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("audit_log"):
                return 0
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
            )
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Snapshot:
    """The projection's content, without what legitimately differs between runs."""

    credentials: dict[str, dict[str, Any]]
    audit: dict[str, dict[str, Any]]
    audit_rows: int


def snapshot(database_url: str) -> Snapshot:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            states = {
                row.credential_id: dict(row._mapping)
                for row in connection.execute(sa.select(credentials))
            }
            audit_rows = [
                {
                    key: value
                    for key, value in row._mapping.items()
                    if key not in ("position", "projected_at")
                }
                for row in connection.execute(sa.select(audit_log))
            ]
    finally:
        engine.dispose()
    return Snapshot(states, {row["event_id"]: row for row in audit_rows}, len(audit_rows))
