"""Producer throughput with the production settings (idempotent, acks=all, lz4, confirmed)."""

from __future__ import annotations

import time
import uuid

from bench.figures import Figure
from bench.stream import simulated_events
from producer.publisher import EventPublisher
from producer.topics import TopicLayout, ensure_topics
from schemas.codec import EventCodec

CHUNK = 20_000


def measure(bootstrap: str, events: int, runs: int) -> list[Figure]:
    stream = simulated_events(events, seed=2)
    codec = EventCodec()
    size = sum(len(codec.encode(event)) for event in stream)
    rate = Figure("producer", "events/s", detail={"events": len(stream), "bytes": size})
    throughput = Figure("producer", "MB/s", detail={"events": len(stream)})
    for _ in range(runs):
        topic = f"bench.producer.{uuid.uuid4().hex[:8]}"
        ensure_topics(bootstrap, TopicLayout(topic, f"{topic}.dlq"))
        with EventPublisher(bootstrap, topic, timeout_s=120) as publisher:
            started = time.perf_counter()
            for index in range(0, len(stream), CHUNK):
                publisher.publish_many(stream[index : index + CHUNK])
            elapsed = time.perf_counter() - started
        rate.samples.append(len(stream) / elapsed)
        throughput.samples.append(size / elapsed / 1e6)
    return [rate, throughput]
