"""The benchmark stream: simulated lifecycle events on a topic, published once and reused."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice

from kafka import KafkaConsumer, TopicPartition

from producer.publisher import EventPublisher
from producer.simulate import Simulation, SimulationConfig
from producer.topics import TopicLayout, ensure_topics
from schemas.models import LifecycleEvent

log = logging.getLogger(__name__)
EVENTS_PER_CREDENTIAL = 10


@dataclass(frozen=True)
class BenchTopic:
    bootstrap: str
    lifecycle: str
    dead_letter: str
    events: int


def simulated_events(events: int, seed: int = 1) -> list[LifecycleEvent]:
    """About ``events`` simulated events (whole credential histories), in stream order."""
    credentials = events // EVENTS_PER_CREDENTIAL * 6 // 5 + 10
    simulation = Simulation(SimulationConfig(credentials=credentials, seed=seed))
    return list(islice(simulation.events(), events))


def message_count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        consumer.close()


def prepare_topic(bootstrap: str, events: int, seed: int = 1) -> BenchTopic:
    """A topic holding ``events`` simulated events; published only if not there yet."""
    name = f"bench.s{seed}.n{events}.lifecycle"
    topic = BenchTopic(bootstrap, name, f"{name}.dlq", events)
    ensure_topics(bootstrap, TopicLayout(topic.lifecycle, topic.dead_letter))
    present = message_count(bootstrap, name)
    if present == events:
        return topic
    if present:
        raise RuntimeError(f"{name} holds {present} messages, not {events}; delete it")
    log.info("publishing %d events to %s", events, name)
    stream = iter(simulated_events(events, seed))
    with EventPublisher(bootstrap, name, timeout_s=120) as publisher:
        while chunk := list(islice(stream, 20_000)):
            publisher.publish_many(chunk)
    return topic
