"""Anomalies counted per kind per UTC day, and the credentials flagged most, in a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, func, select, true

from projections.db.backends import backend_of
from projections.db.tables import audit_log, credentials
from projections.model.anomalies import Anomaly
from projections.queries.audit_pages import in_window
from projections.queries.filters import Windowed

DEFAULT_DAYS = 30
"""Days the default window covers, ending with the day of the newest flagged entry."""


@dataclass(frozen=True, slots=True)
class DayCount:
    """Entries flagged ``kind`` that occurred on UTC day ``day``."""

    day: date
    kind: Anomaly
    count: int


@dataclass(frozen=True, slots=True)
class FlaggedCredential:
    """A credential and how many of its entries in the window carry a flag."""

    credential_id: str
    user_id: str | None
    display_name: str | None
    flagged: int


def default_window(connection: Connection, days: int = DEFAULT_DAYS) -> Windowed:
    """The ``days`` UTC days ending with the day of the newest flagged entry (or today)."""
    newest = connection.scalar(
        select(func.max(audit_log.c.occurred_at)).where(audit_log.c.is_anomaly.is_(True))
    )
    last = (newest or datetime.now(UTC)).astimezone(UTC).date()
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return Windowed.model_validate({"from": end - timedelta(days=days), "to": end})


def anomaly_days(connection: Connection, window: Windowed) -> list[DayCount]:
    """Flagged entries per day and kind within ``window``, by day then kind order."""
    backend = backend_of(connection)
    flags = backend.array_elements(audit_log.c.anomalies)
    day = backend.utc_day(audit_log.c.occurred_at).label("day")
    statement = (
        select(day, flags.c.value.label("kind"), func.count().label("flagged"))
        .select_from(audit_log.join(flags, true()))
        .where(audit_log.c.is_anomaly.is_(True), *in_window(audit_log.c.occurred_at, window))
        .group_by(day, flags.c.value)
    )
    order = {kind.value: index for index, kind in enumerate(Anomaly)}
    counts = [
        DayCount(date.fromisoformat(str(row.day)), Anomaly(row.kind), int(row.flagged))
        for row in connection.execute(statement)
        if row.kind in order
    ]
    return sorted(counts, key=lambda count: (count.day, order[count.kind.value]))


def most_flagged(
    connection: Connection, window: Windowed, limit: int = 20
) -> list[FlaggedCredential]:
    """The ``limit`` credentials with the most flagged entries in ``window``."""
    flagged = func.count().label("flagged")
    top = (
        select(audit_log.c.credential_id, flagged)
        .where(audit_log.c.is_anomaly.is_(True), *in_window(audit_log.c.occurred_at, window))
        .group_by(audit_log.c.credential_id)
        .order_by(flagged.desc(), audit_log.c.credential_id)
        .limit(limit)
        .subquery()
    )
    statement = (
        select(top.c.credential_id, top.c.flagged, credentials.c.user_id,
               credentials.c.display_name)
        .select_from(top.outerjoin(credentials,
                                   credentials.c.credential_id == top.c.credential_id))
        .order_by(top.c.flagged.desc(), top.c.credential_id)
    )
    return [
        FlaggedCredential(row.credential_id, row.user_id, row.display_name, int(row.flagged))
        for row in connection.execute(statement)
    ]
