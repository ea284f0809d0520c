"""Builds the producer side from settings: topics ensured, publisher opened."""

from __future__ import annotations

import click

from client_audit.settings import Settings
from producer.errors import ProducerError
from producer.publisher import EventPublisher
from producer.topics import TopicLayout, ensure_topics


def topic_layout(settings: Settings) -> TopicLayout:
    return TopicLayout(
        lifecycle=settings.lifecycle_topic,
        dead_letter=settings.dead_letter_topic,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        checkpoints=settings.checkpoint_topic,
        alerts=settings.alert_topic,
    )


def open_publisher(settings: Settings) -> EventPublisher:
    """Create the topics if missing and connect a publisher; a clear CLI error otherwise."""
    try:
        ensure_topics(
            settings.kafka_bootstrap_servers, topic_layout(settings), settings.delivery_timeout_s,
            settings.kafka_client_options(),
        )
        return EventPublisher(
            settings.kafka_bootstrap_servers,
            settings.lifecycle_topic,
            timeout_s=settings.delivery_timeout_s,
            client_options=settings.kafka_client_options(),
        )
    except ProducerError as exc:
        raise click.ClickException(str(exc)) from None
