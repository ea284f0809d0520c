"""The physical limit of a Python consumer here: a plain KafkaConsumer, raw and with decoding."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from bench.figures import Figure
from bench.stream import BenchTopic
from consumer.collector import BatchCollector, batch_collector
from schemas.codec import EventCodec


def _read(topic: BenchTopic, decode: bool) -> float:
    """Events per second of one read of the whole topic, with the projector's collector
    settings (:mod:`consumer.collector`), so the yardstick and the projection compare alike."""
    with batch_collector() as collector:
        return _timed_read(topic, decode, collector)


def _timed_read(topic: BenchTopic, decode: bool, collector: BatchCollector) -> float:
    codec = EventCodec()
    consumer = KafkaConsumer(
        bootstrap_servers=topic.bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(topic.lifecycle, p) for p in range(6)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < topic.events:
            polled = consumer.poll(timeout_ms=1000, max_records=10_000)
            for records in polled.values():
                seen += len(records)
                if decode:
                    for record in records:
                        codec.decode(record.value)
            if polled:
                collector.after_batch()
        return topic.events / (time.perf_counter() - started)
    finally:
        consumer.close()


def measure(topic: BenchTopic, runs: int) -> list[Figure]:
    raw = Figure("consume raw (plain KafkaConsumer)", "events/s", detail={"events": topic.events})
    decoded = Figure("consume raw + Avro decode", "events/s", detail={"events": topic.events})
    for _ in range(runs):
        raw.samples.append(_read(topic, decode=False))
        decoded.samples.append(_read(topic, decode=True))
    return [raw, decoded]
