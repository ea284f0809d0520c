"""The search page: the query box, one keyset page of results, the next-page link, saved
searches, the same search as a command and a curl call, and exports of every result.

The URL is the query (``?q=…&cursor=…``), so a page can be shared and bookmarked. Exports
stream every matching entry as CSV (formulas neutralised), raw CSV or JSON lines, one page
of rows from the database at a time, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine

from client_audit.api.database import ReadOnlyConnection, engine_of
from client_audit.api.errors import InvalidQueryError
from client_audit.console.auth import PREFIX, ConsoleAuth
from client_audit.console.commands import cli_command, curl_command
from client_audit.console.templates import pages_of
from client_audit.output import csv_lines, jsonl_lines
from projections.db.backends import backend_of
from projections.queries import MAX_LIMIT, AuditEntry, walk
from projections.queries.problems import problems_of
from projections.queries.saved_searches import list_saved_searches
from projections.queries.search import (
    MAX_QUERY_LENGTH,
    QUALIFIERS,
    SearchError,
    SearchFilter,
    parse_search,
    search,
    search_page_request,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_ROWS = 50
"""Results a search page shows unless ``limit`` says otherwise."""

EXPORT_PAGE = 1000
"""Rows read from the database per statement while exporting."""


class ExportFormat(StrEnum):
    CSV = "csv"
    CSV_RAW = "csv-raw"
    JSONL = "jsonl"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.CSV_RAW: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/x-ndjson; charset=utf-8",
}
SUFFIXES = {ExportFormat.CSV: "csv", ExportFormat.CSV_RAW: "raw.csv", ExportFormat.JSONL: "jsonl"}

QueryText = Annotated[str, Query(max_length=MAX_QUERY_LENGTH)]


@router.get("/search")
def search_page(
    request: Request,
    reader: ConsoleAuth,
    connection: ReadOnlyConnection,
    q: QueryText = "",
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = PAGE_ROWS,
) -> Response:
    """Results of ``q`` (newest first unless ``sort:oldest``), ``limit`` a page."""
    context: dict[str, Any] = {
        "query": q, "qualifiers": QUALIFIERS, "saved": list_saved_searches(connection),
        "cli": cli_command(q), "curl": curl_command(str(request.base_url), q),
        "entries": [], "next_cursor": None, "cursor": cursor, "limit": limit, "problems": [],
    }
    pages = pages_of(request)
    try:
        parsed = parse_search(q)
        page_request = search_page_request(parsed, limit, cursor)
    except SearchError as exc:
        context["problems"] = list(exc.problems)
        return pages.render(request, "search.html", reader=reader, active="search",
                            status_code=422, **context)
    except pydantic.ValidationError as exc:
        context["problems"] = problems_of(exc)
        return pages.render(request, "search.html", reader=reader, active="search",
                            status_code=422, **context)
    page = search(connection, parsed, page_request)
    context.update(entries=page.rows, next_cursor=page.next_cursor)
    return pages.render(request, "search.html", reader=reader, active="search", **context)


def _rows(engine: Engine, parsed: SearchFilter) -> Iterator[AuditEntry]:
    """Every entry of the search, read page by page on one read-only connection."""
    with engine.connect() as connection, backend_of(connection).read_only(connection) as reading:
        fetch = partial(search, reading, parsed)
        yield from walk(fetch, search_page_request(parsed, EXPORT_PAGE))


CHUNK_BYTES = 64 * 1024
"""Bytes gathered before a piece of an export is sent."""


def _chunks(lines: Iterator[str]) -> Iterator[bytes]:
    gathered: list[bytes] = []
    size = 0
    for line in lines:
        encoded = line.encode()
        gathered.append(encoded)
        size += len(encoded)
        if size >= CHUNK_BYTES:
            yield b"".join(gathered)
            gathered, size = [], 0
    if gathered:
        yield b"".join(gathered)


@router.get("/search/export")
def export(
    request: Request,
    _reader: ConsoleAuth,
    q: QueryText = "",
    format: ExportFormat = ExportFormat.CSV,
) -> StreamingResponse:
    """Every result of ``q`` as a download, streamed (not cut by the request timeout)."""
    try:
        parsed = parse_search(q)
    except SearchError as exc:
        raise InvalidQueryError(exc.problems) from None
    rows = _rows(engine_of(request), parsed)
    if format is ExportFormat.JSONL:
        lines = jsonl_lines(rows)
    else:
        lines = csv_lines(rows, AuditEntry, neutralise=format is ExportFormat.CSV)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"client-audit-search-{stamp}.{SUFFIXES[format]}"
    return StreamingResponse(
        _chunks(lines), media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
