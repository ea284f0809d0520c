"""The record of each audit-log verification: kept so that others (the console) can show
when the log was last checked and what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from projections.db.engine import write_transaction
from projections.db.tables import log_verifications


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """One ``verify-log`` run: when, whether the topic was compared too, the partition
    checks made and how many found something wrong, and each check's verdict (JSON)."""

    checked_at: datetime
    against_kafka: bool
    checks: int
    broken: int
    verdicts: Sequence[dict[str, Any]]

    @property
    def intact(self) -> bool:
        return self.broken == 0


def record_verification(engine: Engine, record: VerificationRecord) -> None:
    """Append ``record`` to the verification records."""
    with write_transaction(engine) as connection:
        connection.execute(insert(log_verifications).values(
            checked_at=record.checked_at,
            against_kafka=record.against_kafka,
            checks=record.checks,
            broken=record.broken,
            verdicts=list(record.verdicts),
        ))


def latest_verification(connection: Connection) -> VerificationRecord | None:
    """The most recent verification record, None if the log was never verified."""
    statement = select(log_verifications).order_by(log_verifications.c.id.desc()).limit(1)
    row = connection.execute(statement).mappings().first()
    if row is None:
        return None
    return VerificationRecord(
        row["checked_at"], row["against_kafka"], row["checks"], row["broken"], row["verdicts"]
    )
