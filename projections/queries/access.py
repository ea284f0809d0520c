"""The access log: who asked what, in position order, below a fixed horizon."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.tables import access_log
from projections.queries.audit_pages import in_window
from projections.queries.cursors import AccessCursor
from projections.queries.filters import AccessFilter
from projections.queries.pagination import AccessPageRequest, Page
from projections.queries.rows import AccessLogEntry


def _conditions(query: AccessFilter) -> list[ColumnElement[bool]]:
    conditions = in_window(access_log.c.at, query)
    if query.token_name is not None:
        conditions.append(access_log.c.token_name == query.token_name)
    if query.route is not None:
        conditions.append(access_log.c.route == query.route)
    if query.statuses:
        conditions.append(access_log.c.status.in_(query.statuses))
    return conditions


def access_entries(
    connection: Connection, query: AccessFilter, page: AccessPageRequest
) -> Page[AccessLogEntry]:
    """The access-log entries matching ``query`` after the cursor, oldest first.

    Like the audit pages, the first page fixes the horizon (the newest position then), so
    the requests recorded while a walk runs — its own included — never shift it.
    """
    if page.cursor is None:
        horizon = connection.scalar(select(func.max(access_log.c.position)))
        if horizon is None:
            return Page((), None)
        after = 0
    else:
        after, horizon = page.cursor.after, page.cursor.horizon
    statement = (
        select(access_log)
        .where(
            *_conditions(query),
            access_log.c.position > bindparam("after_position", after, literal_execute=True),
            access_log.c.position
            <= bindparam("horizon_position", horizon, literal_execute=True),
        )
        .order_by(access_log.c.position)
        .limit(page.limit + 1)
    )
    rows = [AccessLogEntry.from_row(row) for row in connection.execute(statement).mappings()]
    if len(rows) <= page.limit:
        return Page(tuple(rows), None)
    shown = rows[: page.limit]
    cursor = AccessCursor(after=shown[-1].position, horizon=horizon)
    return Page(tuple(shown), cursor.encode())
