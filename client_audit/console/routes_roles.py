"""The role page: who held a role when, through which credential, drawn as a timeline.

Intervals come from :func:`projections.forensics.role_history.role_history` (holding starts
when the role is scoped in and ends when it is scoped out or the credential is deleted;
expired stretches are marked); at most :data:`MOST_INTERVALS` are shown.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import InvalidQueryError
from client_audit.console.auth import PREFIX, ConsoleAuth
from client_audit.console.charts import role_timeline
from client_audit.console.params import instant_parameter
from client_audit.console.templates import pages_of
from projections.db.tables import audit_log
from projections.forensics.role_history import role_history
from projections.queries.problems import Problem
from projections.queries.search.qualifiers import read_text
from projections.queries.values import MAX_TEXT_LENGTH

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MOST_INTERVALS = 500


def _newest_instant(connection: Connection) -> datetime | None:
    """When the newest recorded event occurred (by audit position)."""
    statement = select(audit_log.c.occurred_at).order_by(audit_log.c.position.desc()).limit(1)
    found: datetime | None = connection.scalar(statement)
    return found


@router.get("/roles")
def role_page(
    request: Request,
    reader: ConsoleAuth,
    connection: ReadOnlyConnection,
    role: Annotated[str, Query(max_length=MAX_TEXT_LENGTH)] = "",
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> Response:
    """The intervals in which credentials held ``role`` within ``[from, to)``."""
    since, until = instant_parameter("from", start), instant_parameter("to", end)
    if since is not None and until is not None and until <= since:
        raise InvalidQueryError([Problem("to", "must be after from")])
    context: dict[str, Any] = {
        "role": role, "start": start or "", "end": end or "", "intervals": [], "chart": None,
        "truncated": False,
    }
    if role.strip():
        try:
            wanted = read_text(role)
        except ValueError as exc:
            raise InvalidQueryError([Problem("role", str(exc))]) from None
        found = list(islice(role_history(connection, wanted, since, until), MOST_INTERVALS + 1))
        intervals = found[:MOST_INTERVALS]
        if intervals:
            first = since or min(interval.held_from for interval in intervals)
            ends = [interval.held_until for interval in intervals if interval.held_until]
            last = until or max([*ends, _newest_instant(connection) or first])
            context["chart"] = role_timeline(intervals, first, last)
        context.update(intervals=intervals, truncated=len(found) > MOST_INTERVALS)
    return pages_of(request).render(request, "roles.html", reader=reader, active="roles",
                                    **context)
