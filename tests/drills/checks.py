"""Waiting on a running projector, and the final check every drill ends with.

The final check: the projection equals a clean replay of the same topic into a fresh
SQLite file, and the audit log holds exactly one row per published event.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from consumer.projector import ProjectorReport
from producer.topics import TopicLayout, ensure_topics
from projections.db.engine import create_engine_for
from projections.write.store import ProjectionStore
from tests.drills.projector_process import ProjectorProcess
from tests.integration.projector_support import Topics, audit_count, project, snapshot

log = logging.getLogger(__name__)

POLL_S = 0.05


def positions(database_url: str, topic: str) -> dict[int, int]:
    """The next offsets stored in the projection database."""
    engine = create_engine_for(database_url)
    try:
        return ProjectionStore(engine).positions(topic)
    finally:
        engine.dispose()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> offset after the last message of ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="drill-end-offsets")
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_dead_letters(bootstrap: str, topic: str, expected: int) -> list[Any]:
    """Every record of a dead-letter topic, from the beginning (until ``expected`` arrived or
    five minutes passed)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, client_id="drill-dead-letters",
        max_partition_fetch_bytes=64 * 1024 * 1024, fetch_max_bytes=128 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        for _ in range(600):
            if len(records) >= expected:
                break
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def wait_until(
    condition: Callable[[], bool],
    what: str,
    process: ProjectorProcess | None = None,
    timeout_s: float = 180.0,
) -> float:
    """Poll ``condition`` until true; fail if ``process`` exits first. Return the seconds taken."""
    started = time.monotonic()
    deadline = started + timeout_s
    while not condition():
        if process is not None and not process.alive():
            raise AssertionError(
                f"projector exited while waiting for {what}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = process.log_tail() if process is not None else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")
        time.sleep(POLL_S)
    return time.monotonic() - started


def wait_for_rows(
    database_url: str, above: int, process: ProjectorProcess, timeout_s: float = 180.0
) -> int:
    """Wait until the audit log holds more than ``above`` rows; return the count seen."""
    seen = 0

    def grown() -> bool:
        nonlocal seen
        seen = audit_count(database_url)
        return seen > above

    wait_until(grown, f"more than {above} audit rows", process, timeout_s)
    return seen


def wait_caught_up(
    database_url: str,
    topic: str,
    ends: Mapping[int, int],
    process: ProjectorProcess,
    timeout_s: float = 240.0,
) -> float:
    """Wait until the stored positions reach ``ends``; return the seconds taken."""

    def caught_up() -> bool:
        stored = positions(database_url, topic)
        return all(stored.get(partition, 0) >= end for partition, end in ends.items())

    return wait_until(caught_up, f"positions {dict(ends)}", process, timeout_s)


class BackgroundReplay:
    """A clean replay of the whole topic into a fresh SQLite file, run beside the drill.

    The replay reads every partition from the beginning without a consumer group, and
    writes whatever it refuses to a dead-letter topic of its own, so that the drill's
    dead-letter topic holds only what the drilled projector wrote.
    """

    def __init__(self, topics: Topics, directory: Path) -> None:
        dead_letter = f"{topics.lifecycle}.replay-dlq"
        ensure_topics(topics.bootstrap, TopicLayout(topics.lifecycle, dead_letter))
        self.topics = dataclasses.replace(topics, dead_letter=dead_letter)
        self.database_url = f"sqlite:///{directory / 'clean-replay.db'}"
        self.report: ProjectorReport | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="clean-replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            self.report = project(self.topics, self.database_url, group=None, batch_size=5000)
        except BaseException as exc:  # handed to the test thread by result()
            self.error = exc
        log.info("clean replay finished in %.1f s", time.monotonic() - started)

    def result(self, timeout_s: float = 300.0) -> ProjectorReport:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the clean replay did not finish within {timeout_s:.0f} s")
        if self.error is not None:
            raise AssertionError(f"the clean replay failed: {self.error!r}") from self.error
        assert self.report is not None
        return self.report


def assert_equals_clean_replay(
    database_url: str, replay: BackgroundReplay, published: Collection[str]
) -> None:
    """One audit row per published event id, none twice, none missing, and every credential
    and audit row equal to the clean replay's."""
    replay.result()
    live = snapshot(database_url)
    clean = snapshot(replay.database_url)
    assert live.audit_rows == len(published), (
        f"{live.audit_rows} audit rows for {len(published)} published events"
    )
    assert len(live.audit) == live.audit_rows, "an event id is recorded twice"
    missing = set(published) - set(live.audit)
    unexpected = set(live.audit) - set(published)
    assert not missing and not unexpected, (
        f"{len(missing)} events missing, {len(unexpected)} unexpected, e.g. "
        f"{sorted(missing)[:3]} {sorted(unexpected)[:3]}"
    )
    assert clean.audit_rows == len(published)
    difference = describe_difference("credentials", live.credentials, clean.credentials)
    difference += describe_difference("audit rows", live.audit, clean.audit)
    assert not difference, "\n".join(difference)


def describe_difference(
    what: str, live: Mapping[str, Mapping[str, Any]], clean: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """A short account of how two keyed row sets differ (empty when they are equal)."""
    lines: list[str] = []
    only_live, only_clean = set(live) - set(clean), set(clean) - set(live)
    if only_live or only_clean:
        lines.append(
            f"{what}: {len(only_live)} only in the projection, {len(only_clean)} only in the "
            f"clean replay, e.g. {sorted(only_live)[:3]} {sorted(only_clean)[:3]}"
        )
    differing = [key for key in sorted(set(live) & set(clean)) if live[key] != clean[key]]
    if differing:
        key = differing[0]
        columns = {
            column: (live[key].get(column), clean[key].get(column))
            for column in set(live[key]) | set(clean[key])
            if live[key].get(column) != clean[key].get(column)
        }
        lines.append(f"{what}: {len(differing)} differ from the clean replay; {key}: {columns}")
    return lines
