"""Alert deliveries and their attempts: what was pushed where, what each target answered.

One row per attempt (a delivery not yet tried gives one row without an attempt), in
delivery order, then attempt order; walked by delivery id, a page of deliveries at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, select

from projections.db.tables import alert_deliveries, alert_delivery_attempts, alert_outbox
from projections.model.anomalies import Anomaly
from projections.queries.rows import RowModel

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class DeliveryAttempt(RowModel):
    """One attempt of one delivery, with the delivery's state now."""

    delivery_id: int
    alert_id: str
    credential_id: str
    kinds: tuple[Anomaly, ...]
    target: str
    target_kind: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempt: int | None
    at: datetime | None
    succeeded: bool | None
    status_code: int | None
    result: str | None
    duration_ms: int | None


_NOT_TRIED: dict[str, None] = dict.fromkeys(
    ("attempt", "at", "succeeded", "status_code", "result", "duration_ms")
)
"""The attempt fields of a delivery not tried yet."""


def delivery_attempts(
    connection: Connection,
    *,
    status: str | None = None,
    target: str | None = None,
    alert_id: str | None = None,
    credential_id: str | None = None,
    page_size: int = 500,
) -> Iterator[DeliveryAttempt]:
    """Every attempt of every delivery matching the filters, oldest delivery first."""
    conditions = []
    if status is not None:
        conditions.append(alert_deliveries.c.status == status)
    if target is not None:
        conditions.append(alert_deliveries.c.target == target)
    if alert_id is not None:
        conditions.append(alert_deliveries.c.alert_id == alert_id)
    if credential_id is not None:
        conditions.append(alert_outbox.c.credential_id == credential_id)
    joined = alert_deliveries.join(
        alert_outbox, alert_outbox.c.alert_id == alert_deliveries.c.alert_id
    )
    after = 0
    while True:
        page = connection.execute(
            select(alert_deliveries, alert_outbox.c.credential_id, alert_outbox.c.kinds)
            .select_from(joined)
            .where(*conditions, alert_deliveries.c.delivery_id > after)
            .order_by(alert_deliveries.c.delivery_id)
            .limit(page_size)
        ).mappings().all()
        if not page:
            return
        ids = [row["delivery_id"] for row in page]
        tried: dict[int, list[dict[str, object]]] = {}
        for made in connection.execute(
            select(alert_delivery_attempts)
            .where(alert_delivery_attempts.c.delivery_id.in_(ids))
            .order_by(alert_delivery_attempts.c.delivery_id, alert_delivery_attempts.c.attempt)
        ).mappings():
            tried.setdefault(made["delivery_id"], []).append(dict(made))
        for found in page:
            for attempt in tried.get(found["delivery_id"], [{}]):
                yield DeliveryAttempt.model_validate({**found, **_NOT_TRIED, **attempt})
        after = ids[-1]
