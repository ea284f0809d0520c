"""The short audit report the demo prints: totals, denied uses, anomalies, one audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from projections.db.tables import audit_log, credentials


@dataclass(frozen=True)
class AuditReport:
    credentials_by_status: dict[str, int]
    events_by_type: dict[str, int]
    denied_by_reason: dict[str, int]
    anomalies_by_kind: dict[str, int]
    highlighted_credential: str | None
    trail: Sequence[dict[str, Any]]


def _counts(connection: sa.Connection, column: Any, where: Any = None) -> dict[str, int]:
    query = sa.select(column, sa.func.count()).group_by(column)
    if where is not None:
        query = query.where(where)
    rows = connection.execute(query)
    return {str(key): int(count) for key, count in sorted(rows, key=lambda row: -row[1])}


def _most_suspicious(connection: sa.Connection) -> str | None:
    """The credential with the most allowed uses flagged beyond a merely new source IP."""
    scores: dict[str, int] = {}
    rows = connection.execute(
        sa.select(audit_log.c.credential_id, audit_log.c.anomalies).where(
            audit_log.c.is_anomaly.is_(True), audit_log.c.outcome == "ALLOWED"
        )
    )
    for credential_id, flags in rows:
        if set(flags) - {"NEW_SOURCE_IP"}:
            scores[credential_id] = scores.get(credential_id, 0) + 1
    if not scores:
        return None
    return min(scores, key=lambda credential_id: (-scores[credential_id], credential_id))


def build_report(engine: Engine, trail_limit: int = 25) -> AuditReport:
    """Read the projections once and summarise them."""
    with engine.connect() as connection:
        by_status = _counts(connection, credentials.c.status)
        by_type = _counts(connection, audit_log.c.event_type)
        denied = _counts(connection, audit_log.c.denial_reason, audit_log.c.outcome == "DENIED")
        kinds: dict[str, int] = {}
        flagged = connection.execute(
            sa.select(audit_log.c.anomalies).where(audit_log.c.is_anomaly.is_(True))
        )
        for (flags,) in flagged:
            for flag in flags:
                kinds[flag] = kinds.get(flag, 0) + 1
        highlighted = _most_suspicious(connection)
        trail: list[dict[str, Any]] = []
        if highlighted is not None:
            trail = [
                dict(row._mapping)
                for row in connection.execute(
                    sa.select(
                        audit_log.c.sequence,
                        audit_log.c.occurred_at,
                        audit_log.c.event_type,
                        audit_log.c.actor_id,
                        audit_log.c.source_ip,
                        audit_log.c.outcome,
                        audit_log.c.denial_reason,
                        audit_log.c.anomalies,
                    )
                    .where(audit_log.c.credential_id == highlighted)
                    .order_by(audit_log.c.sequence)
                    .limit(trail_limit)
                )
            ]
    return AuditReport(
        by_status,
        by_type,
        denied,
        dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        highlighted,
        trail,
    )
