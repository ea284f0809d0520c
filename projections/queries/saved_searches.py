"""Saved searches: every named search query, or one by name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from projections.db.tables import saved_searches
from projections.queries.rows import RowModel

MAX_SAVED = 1000
"""Saved searches listed at most."""


class SavedSearch(RowModel):
    """A search query kept under a name."""

    name: str
    query: str
    created_at: datetime
    updated_at: datetime


def list_saved_searches(connection: Connection) -> list[SavedSearch]:
    """The saved searches by name (at most :data:`MAX_SAVED`)."""
    statement = select(saved_searches).order_by(saved_searches.c.name).limit(MAX_SAVED)
    rows = connection.execute(statement).mappings()
    return [SavedSearch.model_validate(dict(row)) for row in rows]


def saved_search(connection: Connection, name: str) -> SavedSearch | None:
    """The search saved as ``name``; None if there is none."""
    statement = select(saved_searches).where(saved_searches.c.name == name)
    row = connection.execute(statement).mappings().first()
    return None if row is None else SavedSearch.model_validate(dict(row))
