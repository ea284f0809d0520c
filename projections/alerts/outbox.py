"""The alert outbox: one row per flagged audit entry, in the transaction that records it.

Writing the alert with the entry means the two commit together or not at all: a crash
cannot leave an entry whose alert is lost, and a re-delivered event (no new entry) makes no
second alert. The relay publishes the rows afterwards (:mod:`projections.alerts.relaying`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select

from projections.alerts.model import alert_id_of
from projections.alerts.rules import AlertRules
from projections.db.backends import backend_of
from projections.db.tables import alert_outbox, audit_log
from projections.model.anomalies import Anomaly


def outbox_rows(
    entries: Sequence[Mapping[str, Any]], rules: AlertRules, flagged_at: datetime
) -> list[dict[str, Any]]:
    """The outbox rows of flagged ``entries`` (audit rows as the store writes them, chain
    hash and leaf index included), each silenced or not as ``rules`` decide at
    ``flagged_at``."""
    rows = []
    for entry in entries:
        kinds = tuple(Anomaly(name) for name in entry["anomalies"])
        rows.append({
            "alert_id": alert_id_of(entry["event_id"], kinds),
            "event_id": entry["event_id"],
            "credential_id": entry["credential_id"],
            "kinds": list(entry["anomalies"]),
            "silenced": rules.decide(
                kinds, entry["credential_id"], entry["source_ip"], flagged_at
            ),
            "flagged_at": flagged_at,
            "kafka_topic": entry["kafka_topic"],
            "kafka_partition": entry["kafka_partition"],
            "kafka_offset": entry["kafka_offset"],
            "leaf_index": entry["leaf_index"],
            "chain_hash": entry["chain_hash"],
            "published_at": None,
        })
    return rows


OUTBOX_COLUMNS = tuple(column.name for column in alert_outbox.columns if column.name != "seq")
"""The columns of an outbox row as the store writes it (the database assigns ``seq``)."""


def write_outbox(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append outbox rows in order (in the caller's transaction; COPY on PostgreSQL)."""
    if not rows:
        return
    with backend_of(connection).appender(connection, alert_outbox, OUTBOX_COLUMNS) as append:
        for row in rows:
            append(row)


def backfill_outbox(
    connection: Connection, rules: AlertRules, flagged_at: datetime, chunk: int = 5000
) -> int:
    """Give every flagged audit entry that has no alert its outbox row (a store built by
    ``replay``, which writes none), in position order; return how many were made. The
    alert ids are the ones the live projection made, so alerts sent again say so."""
    made = 0
    after = 0
    while True:
        entries = connection.execute(
            select(audit_log)
            .where(
                audit_log.c.is_anomaly,
                audit_log.c.position > after,
                ~exists().where(alert_outbox.c.event_id == audit_log.c.event_id),
            )
            .order_by(audit_log.c.position)
            .limit(chunk)
        ).mappings().all()
        if not entries:
            return made
        rows = outbox_rows([dict(entry) for entry in entries], rules, flagged_at)
        write_outbox(connection, rows)
        made += len(rows)
        after = entries[-1]["position"]
