"""Keyset pages of audit entries in ``position`` order (or newest first), below a fixed horizon.

Every audit question is a set of SQL conditions on ``audit_log`` (plus, where SQL cannot
decide portably, an exact check in Python); this module turns that into one page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Connection, bindparam, func, select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from projections.db.backends import Keep
from projections.db.tables import audit_log
from projections.queries.cursors import AuditCursor
from projections.queries.filters import Windowed
from projections.queries.pagination import AuditPageRequest, Page
from projections.queries.rows import AuditEntry

SCAN_CHUNK = 500
"""Candidate rows read per statement when a Python check filters them further."""


def in_window(column: Column[datetime], window: Windowed) -> list[ColumnElement[bool]]:
    """Conditions keeping ``column`` within the window's ``[from, to)``."""
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= window.start)
    if window.end is not None:
        conditions.append(column < window.end)
    return conditions


def _keyset(after: int | None, horizon: int, descending: bool) -> list[ColumnElement[bool]]:
    """``after < position <= horizon`` (newest first: ``position < after``, or
    ``position <= horizon`` before the first row), the bounds written into the statement.

    As literals (validated integers), the bounds reach PostgreSQL's planner as values: a
    prepared statement's generic plan would otherwise guess the range selective and AND
    it with a scan of the whole primary key (tens of milliseconds at a million rows).
    """
    top = audit_log.c.position <= bindparam("horizon_position", horizon, literal_execute=True)
    if after is None:
        return [top]
    bound: BindParameter[int] = bindparam("after_position", after, literal_execute=True)
    if descending:
        return [audit_log.c.position < bound]
    return [audit_log.c.position > bound, top]


def audit_page(
    connection: Connection,
    conditions: Sequence[ColumnElement[bool]],
    page: AuditPageRequest,
    keep: Keep | None = None,
) -> Page[AuditEntry]:
    """The entries matching ``conditions`` (and ``keep``) past the cursor, oldest first (or
    newest first, as the page request says).

    The first page fixes the horizon (the newest position then); the cursor carries it, so
    later pages see exactly the entries that existed when the walk began.
    """
    descending = page.newest_first
    after: int | None
    if page.cursor is None:
        horizon = connection.scalar(select(func.max(audit_log.c.position)))
        if horizon is None:
            return Page((), None)
        after = None if descending else 0
    else:
        after, horizon = page.cursor.after, page.cursor.horizon
    order = audit_log.c.position.desc() if descending else audit_log.c.position
    chunk = page.limit + 1 if keep is None else max(page.limit + 1, SCAN_CHUNK)
    matched: list[AuditEntry] = []
    while True:
        query = (
            select(audit_log)
            .where(*conditions, *_keyset(after, horizon, descending))
            .order_by(order)
            .limit(chunk)
        )
        rows = connection.execute(query).mappings().all()
        for row in rows:
            if keep is not None and not keep(row):
                continue
            if len(matched) == page.limit:
                cursor = AuditCursor(
                    after=matched[-1].position, horizon=horizon,
                    newest_first=True if descending else None,
                )
                return Page(tuple(matched), cursor.encode())
            matched.append(AuditEntry.from_row(row))
        if len(rows) < chunk:
            return Page(tuple(matched), None)
        after = rows[-1]["position"]
