"""The relay's reads and writes: unpublished alerts, deliveries due, attempts recorded.

Every function runs in the caller's transaction. On PostgreSQL the rows a relay takes are
locked ``FOR UPDATE SKIP LOCKED`` until its transaction ends, so relays running side by side
(one per projector process) never take the same alert or delivery; SQLite's write
transaction already excludes other writers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update

from projections.alerts.model import Alert, EntryPosition
from projections.db.backends import backend_of
from projections.db.tables import (
    alert_deliveries,
    alert_delivery_attempts,
    alert_outbox,
    audit_log,
)
from projections.model.anomalies import Anomaly

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class Target:
    """A push target: a webhook endpoint or a SIEM output, and the kinds it takes."""

    name: str
    kind: str
    """``webhook``, ``syslog`` or ``cef``."""
    kinds: frozenset[Anomaly]

    def takes(self, alert: Alert) -> bool:
        """Whether this target gets ``alert``: not silenced, and one of its kinds wanted."""
        return alert.silenced is None and any(kind in self.kinds for kind in alert.kinds)


@dataclass(frozen=True)
class Delivery:
    """One alert to one target, as taken for an attempt."""

    delivery_id: int
    target: str
    attempts: int
    retrying_since: datetime
    """When the retry window began: the delivery made, or last made pending again."""
    alert: Alert


@dataclass(frozen=True)
class Attempt:
    """The outcome of one delivery attempt."""

    at: datetime
    succeeded: bool
    result: str
    duration_ms: int
    status_code: int | None = None


def _alert_columns() -> list[Any]:
    return [
        alert_outbox.c.seq, alert_outbox.c.alert_id, alert_outbox.c.kinds,
        alert_outbox.c.silenced, alert_outbox.c.flagged_at, alert_outbox.c.kafka_topic,
        alert_outbox.c.kafka_partition, alert_outbox.c.kafka_offset, alert_outbox.c.leaf_index,
        alert_outbox.c.chain_hash, audit_log.c.event_id, audit_log.c.event_type,
        audit_log.c.credential_id, audit_log.c.user_id, audit_log.c.client_id,
        audit_log.c.source_ip, audit_log.c.occurred_at, audit_log.c.payload,
    ]


def _alert_of(row: Row[Any]) -> Alert:
    return Alert(
        alert_id=row.alert_id,
        kinds=tuple(Anomaly(kind) for kind in row.kinds),
        event_id=row.event_id,
        event_type=row.event_type,
        credential_id=row.credential_id,
        user_id=row.user_id,
        client_id=row.client_id,
        source_ip=row.source_ip,
        occurred_at=row.occurred_at,
        flagged_at=row.flagged_at,
        position=EntryPosition(
            row.kafka_topic, row.kafka_partition, row.kafka_offset, row.leaf_index,
            row.chain_hash,
        ),
        event=row.payload,
        silenced=row.silenced,
    )


_JOIN = alert_outbox.join(audit_log, audit_log.c.event_id == alert_outbox.c.event_id)


def unpublished(connection: Connection, limit: int) -> list[tuple[int, Alert]]:
    """Up to ``limit`` alerts not yet on the alert topic, oldest first, locked for the
    caller's transaction; each with its outbox ``seq``."""
    query = (
        select(*_alert_columns())
        .select_from(_JOIN)
        .where(alert_outbox.c.published_at.is_(None))
        .order_by(alert_outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True, of=alert_outbox)
    )
    return [(row.seq, _alert_of(row)) for row in connection.execute(query)]


def mark_published(
    connection: Connection,
    published: Sequence[tuple[int, Alert]],
    targets: Sequence[Target],
    now: datetime,
) -> int:
    """Mark alerts published and make the deliveries of every target that takes them (at
    most one per alert and target, ever); return how many deliveries were made."""
    if not published:
        return 0
    seqs = [seq for seq, _alert in published]
    connection.execute(
        update(alert_outbox)
        .where(alert_outbox.c.seq.in_(seqs), alert_outbox.c.published_at.is_(None))
        .values(published_at=now)
    )
    rows = [
        {
            "alert_id": alert.alert_id, "target": target.name, "target_kind": target.kind,
            "status": PENDING, "attempts": 0, "created_at": now, "retrying_since": now,
            "next_attempt_at": now,
            "last_attempt_at": None, "delivered_at": None, "last_result": None,
        }
        for _seq, alert in published
        for target in targets
        if target.takes(alert)
    ]
    if rows:
        insert = backend_of(connection).insert(alert_deliveries)
        connection.execute(
            insert.on_conflict_do_nothing(
                index_elements=[alert_deliveries.c.alert_id, alert_deliveries.c.target]
            ),
            rows,
        )
    return len(rows)


def take_due(
    connection: Connection,
    now: datetime,
    limit: int,
    lease: timedelta,
    targets: Collection[str],
) -> list[Delivery]:
    """Up to ``limit`` pending deliveries to ``targets`` whose next attempt is due, oldest
    first; each is leased (its next attempt moved ``lease`` ahead) so that no other relay
    takes it while this one tries. A relay that dies mid-attempt leaves it to be retried
    when the lease ends."""
    if not targets:
        return []
    joined = _JOIN.join(alert_deliveries, alert_deliveries.c.alert_id == alert_outbox.c.alert_id)
    query = (
        select(
            alert_deliveries.c.delivery_id, alert_deliveries.c.target,
            alert_deliveries.c.attempts, alert_deliveries.c.retrying_since, *_alert_columns(),
        )
        .select_from(joined)
        .where(
            alert_deliveries.c.status == PENDING,
            alert_deliveries.c.next_attempt_at <= now,
            alert_deliveries.c.target.in_(sorted(targets)),
        )
        .order_by(alert_deliveries.c.next_attempt_at, alert_deliveries.c.delivery_id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=alert_deliveries)
    )
    taken = [
        Delivery(row.delivery_id, row.target, row.attempts, row.retrying_since, _alert_of(row))
        for row in connection.execute(query)
    ]
    if taken:
        connection.execute(
            update(alert_deliveries)
            .where(alert_deliveries.c.delivery_id.in_([d.delivery_id for d in taken]))
            .values(next_attempt_at=now + lease)
        )
    return taken


def record_attempt(
    connection: Connection, delivery: Delivery, attempt: Attempt, next_attempt_at: datetime | None
) -> str:
    """Record an attempt of ``delivery`` and move it on: delivered when it succeeded, else
    pending until ``next_attempt_at``, or failed when that is None. Returns the status."""
    number = delivery.attempts + 1
    connection.execute(
        alert_delivery_attempts.insert().values(
            delivery_id=delivery.delivery_id, attempt=number, at=attempt.at,
            succeeded=attempt.succeeded, status_code=attempt.status_code,
            result=attempt.result, duration_ms=attempt.duration_ms,
        )
    )
    if attempt.succeeded:
        status, values = DELIVERED, {"delivered_at": attempt.at, "next_attempt_at": None}
    elif next_attempt_at is None:
        status, values = FAILED, {"next_attempt_at": None}
    else:
        status, values = PENDING, {"next_attempt_at": next_attempt_at}
    connection.execute(
        update(alert_deliveries)
        .where(alert_deliveries.c.delivery_id == delivery.delivery_id)
        .values(
            status=status, attempts=number, last_attempt_at=attempt.at,
            last_result=attempt.result, **values,
        )
    )
    return status


def redeliver(
    connection: Connection, now: datetime, delivery_ids: Collection[int] | None = None
) -> int:
    """Make failed deliveries pending again, due now, with a fresh retry window (those of
    ``delivery_ids``, or every failed one); return how many. Their attempts so far stay
    recorded."""
    condition = alert_deliveries.c.status == FAILED
    if delivery_ids is not None:
        condition = and_(condition, alert_deliveries.c.delivery_id.in_(sorted(delivery_ids)))
    result = connection.execute(
        update(alert_deliveries).where(condition).values(
            status=PENDING, next_attempt_at=now, retrying_since=now
        )
    )
    return int(result.rowcount or 0)
