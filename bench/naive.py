"""The yardstick: the naive design, one ORM insert and one commit per event, on the same data.

Each message is decoded, its credential's state loaded through the ORM, folded, and the
audit entry, the state and the position are written and committed on their own.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.orm import Session, registry

from bench.figures import Figure
from bench.stream import BenchTopic
from projections.chain.hashing import GENESIS_HASH, entry_document, link_hash
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade
from projections.db.rows import audit_row, state_from_row, state_row
from projections.db.tables import audit_log, consumer_positions, credentials
from projections.model.fold import fold
from projections.model.positioned import PositionedEvent
from schemas.codec import EventCodec


class AuditEntry:
    def __init__(self, **columns: Any) -> None:
        self.__dict__.update(columns)


class CredentialRow:
    def __init__(self, **columns: Any) -> None:
        self.__dict__.update(columns)


class PositionRow:
    def __init__(self, **columns: Any) -> None:
        self.__dict__.update(columns)


_mapper = registry()
_mapper.map_imperatively(AuditEntry, audit_log)
_mapper.map_imperatively(CredentialRow, credentials)
_mapper.map_imperatively(PositionRow, consumer_positions)


def _apply_one(session: Session, positioned: PositionedEvent) -> None:
    event = positioned.event
    row = session.get(CredentialRow, event.credential_id)
    previous = None
    if row is not None:
        previous = state_from_row({c.name: getattr(row, c.name) for c in credentials.columns})
    transition = fold(previous, event)
    now = datetime.now(UTC)
    latest = session.execute(
        sa.select(audit_log.c.chain_hash, audit_log.c.leaf_index)
        .where(
            audit_log.c.kafka_topic == positioned.topic,
            audit_log.c.kafka_partition == positioned.partition,
        )
        .order_by(audit_log.c.kafka_offset.desc())
        .limit(1)
    ).first()
    previous_hash = GENESIS_HASH if latest is None else latest.chain_hash
    entry = audit_row(positioned, transition.anomalies, now)
    document = entry_document(
        event, entry["anomalies"], positioned.topic, positioned.partition, positioned.offset
    )
    entry["previous_hash"] = previous_hash
    entry["chain_hash"] = link_hash(previous_hash, document)
    entry["leaf_index"] = 0 if latest is None else latest.leaf_index + 1
    session.add(AuditEntry(**entry))
    session.merge(CredentialRow(**state_row(transition.state)))
    session.merge(
        PositionRow(
            topic=positioned.topic,
            partition=positioned.partition,
            next_offset=positioned.offset + 1,
            updated_at=now,
        )
    )
    session.commit()


def measure(topic: BenchTopic, database_url: str, events: int) -> Figure:
    """Events per second of the naive design over the first ``events`` messages."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    codec = EventCodec()
    consumer = KafkaConsumer(bootstrap_servers=topic.bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic.lifecycle, p) for p in range(6)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    done = 0
    started = time.perf_counter()
    with Session(engine) as session:
        while done < events:
            for records in consumer.poll(timeout_ms=1000, max_records=500).values():
                for record in records:
                    if done >= events:
                        break
                    positioned = PositionedEvent(
                        codec.decode(record.value), record.topic, record.partition, record.offset
                    )
                    _apply_one(session, positioned)
                    done += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    engine.dispose()
    return Figure("naive: one ORM insert + commit per event", "events/s", [done / elapsed],
                  detail={"events": done, "backend": engine.dialect.name})
