"""Query parameters of console pages that need more than FastAPI's checks."""

from __future__ import annotations

from datetime import datetime

from client_audit.api.errors import InvalidQueryError
from projections.queries.problems import Problem
from projections.queries.search.qualifiers import read_instant


def instant_parameter(name: str, text: str | None) -> datetime | None:
    """The instant of parameter ``name`` (None when empty); 422 naming it when it is not an
    ISO-8601 instant with an offset."""
    if not text or not text.strip():
        return None
    try:
        return read_instant(text.strip())
    except ValueError as exc:
        raise InvalidQueryError([Problem(name, str(exc))]) from None
