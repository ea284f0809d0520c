"""Helpers of the alert tests: the alert topic read whole, the outbox and flags compared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result
from kafka import KafkaConsumer, TopicPartition

from client_audit.cli.main import cli
from projections.db.engine import create_engine_for
from projections.db.tables import alert_outbox, audit_log
from schemas.alerts import decode_alert
from tests.integration.projector_support import Topics


@dataclass(frozen=True)
class TopicAlert:
    """One message of the alert topic: partition, key, CloudEvents headers, the record."""

    partition: int
    key: bytes
    headers: dict[str, bytes]
    record: dict[str, Any]

    @property
    def ce_id(self) -> str:
        return self.headers["ce_id"].decode()


def read_alerts(bootstrap: str, topic: str) -> list[TopicAlert]:
    """Every message on the alert topic, up to the end offsets seen now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(
            consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[TopicAlert] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for message in messages:
                    found.append(TopicAlert(
                        message.partition, message.key, dict(message.headers),
                        decode_alert(message.value),
                    ))
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        consumer.close()


def alert_cli(topics: Topics, database_url: str, alert_topic: str, *args: str) -> Result:
    """``client-audit`` in this process, pointed at the topics, the database and the alert
    topic."""
    return CliRunner().invoke(
        cli, [*topics.cli_options(database_url), "--alert-topic", alert_topic, *args],
        catch_exceptions=False,
    )


def flagged_entries(database_url: str) -> dict[str, dict[str, Any]]:
    """The flagged audit entries by event id: kinds, position and chain hash."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(audit_log).where(audit_log.c.is_anomaly))
            return {row.event_id: dict(row._mapping) for row in rows}
    finally:
        engine.dispose()


def outbox(database_url: str) -> list[dict[str, Any]]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(alert_outbox).order_by(alert_outbox.c.seq))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()
