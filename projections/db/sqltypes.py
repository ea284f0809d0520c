"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class NaiveDatetimeError(ValueError):
    """A datetime without a UTC offset was given where an instant is required."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend.

    Values are converted to UTC on bind. PostgreSQL stores ``timestamp with time zone``;
    SQLite has no such type and SQLAlchemy writes the UTC wall time as text without the
    offset (so the text sorts chronologically); UTC is attached again when it is read.
    Naive datetimes are refused on bind.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} given; instants must be timezone-aware"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_document() -> TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL (indexable, containment queries)."""
    return JSON().with_variant(JSONB(), "postgresql")


def big_serial() -> TypeEngine[int]:
    """A 64-bit auto-increment key; INTEGER on SQLite, where only that type aliases the rowid."""
    return BigInteger().with_variant(Integer(), "sqlite")
