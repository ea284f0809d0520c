"""Throughput of `client-audit replay` into SQLite and PostgreSQL, on >= 200,000 events.

    .venv/bin/python -m bench.replay [--credentials 23000] [--topic NAME] [--postgres-url URL]

Publishes a simulated stream to a fresh topic once (it is reused on later runs when it holds
enough messages), then times a replay of the whole topic into a fresh SQLite file and into
a fresh PostgreSQL schema (dropped afterwards), through the same code as the command.
Prints events/s for each and saves the figures to bench/results/replay-<time>.json.
Kafka comes from KAFKA_BOOTSTRAP_SERVERS; PostgreSQL from --postgres-url or TEST_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from bench.services import fresh_postgres
from consumer.replay import Replay, plan_replay
from producer.publisher import EventPublisher
from producer.simulate import Simulation, SimulationConfig
from producer.topics import TopicLayout, ensure_topics
from projections.db.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results"
CHUNK = 5_000


def published(bootstrap: str, topic: str) -> int:
    plan = plan_replay(bootstrap, topic, timeout_s=10)
    return plan.total


def publish_once(bootstrap: str, topic: str, credentials: int, minimum: int) -> int:
    """Messages on the topic, publishing the simulated stream first if it holds too few."""
    ensure_topics(bootstrap, TopicLayout(topic, f"{topic}.dlq", 6))
    present = published(bootstrap, topic)
    if present >= minimum:
        print(f"reusing {topic}: {present} messages")
        return present
    if present:
        raise SystemExit(f"{topic} holds {present} messages, fewer than {minimum}; use --topic")
    simulation = Simulation(SimulationConfig(credentials=credentials, seed=2026))
    stream = simulation.events()
    started = time.perf_counter()
    with EventPublisher(bootstrap, topic, timeout_s=60) as publisher:
        while chunk := list(islice(stream, CHUNK)):
            publisher.publish_many(chunk)
    elapsed = time.perf_counter() - started
    total = published(bootstrap, topic)
    print(f"published {simulation.summary.events} events to {topic} in {elapsed:.1f} s")
    return total


def measure(name: str, bootstrap: str, topic: str, url: str, batch_size: int) -> dict[str, Any]:
    plan = plan_replay(bootstrap, topic)
    started = time.perf_counter()
    upgrade(url)
    outcome = Replay(plan, bootstrap, url, batch_size=batch_size).run()
    wall = time.perf_counter() - started
    report = outcome.report
    figures = {
        "database": name,
        "events": report.applied,
        "messages": plan.total,
        "complete": outcome.complete,
        "projectorSeconds": round(report.elapsed_s, 2),
        "wallSeconds": round(wall, 2),
        "eventsPerSecond": round(report.applied / wall, 1),
        "batchSize": batch_size,
    }
    print(
        f"{name:10} {report.applied:7d} events in {wall:7.1f} s = "
        f"{report.applied / wall:7.0f} events/s (wall, incl. migration and planning)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=23_000)
    parser.add_argument("--minimum-events", type=int, default=200_000)
    parser.add_argument("--topic", default="bench.replay.v2")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL"))
    arguments = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    messages = publish_once(bootstrap, arguments.topic, arguments.credentials,
                            arguments.minimum_events)
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'replay.db'}"
        runs.append(measure("sqlite", bootstrap, arguments.topic, url, arguments.batch_size))
    if arguments.postgres_url:
        with fresh_postgres(arguments.postgres_url) as url:
            runs.append(
                measure("postgresql", bootstrap, arguments.topic, url, arguments.batch_size)
            )
    else:
        print("postgresql skipped: set TEST_DATABASE_URL or --postgres-url")
    RESULTS.mkdir(exist_ok=True)
    when = datetime.now(UTC)
    path = RESULTS / f"replay-{when:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({
        "benchmark": "replay",
        "at": when.isoformat(),
        "topic": arguments.topic,
        "messages": messages,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }, indent=2) + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
