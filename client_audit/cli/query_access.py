"""client-audit query access: the API's access log (who asked what, and what they got)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import click

from client_audit.cli.query import (
    build_filter,
    emit_rows,
    output_options,
    query_connection,
    window_options,
)
from projections.queries import (
    MAX_LIMIT,
    AccessFilter,
    AccessLogEntry,
    AccessPageRequest,
    access_entries,
)

ACCESS_COLUMNS = (
    "position", "at", "tokenName", "method", "route", "parameters", "rowsReturned", "status",
    "clientAddress",
)


@click.command("access")
@click.option("--token", help="Only requests made with this token name (env:1, env:2 ... for "
                              "the environment's tokens).")
@click.option("--route", help="Only requests to this route template (e.g. /v1/trail).")
@click.option("--status", "statuses", multiple=True, type=click.IntRange(100, 599),
              help="Only requests answered with this HTTP status (repeatable).")
@window_options
@output_options
@click.pass_context
def access(ctx: click.Context, token: str | None, route: str | None,
           statuses: tuple[int, ...], start: datetime | None, end: datetime | None,
           output: str | None, limit: int | None) -> None:
    """The access log: every API and console request (token name, route, parameters with
    secrets redacted, rows returned, status, client address), refused ones included, in the
    order recorded. --from/--to bound the request instant. `client-audit verify-log` checks
    its hash chain."""
    query_filter = build_filter(AccessFilter, {
        "token": token, "route": route, "status": statuses, "from": start, "to": end,
    })
    with query_connection(ctx) as connection:
        emit_rows(partial(access_entries, connection, query_filter),
              AccessPageRequest(limit=MAX_LIMIT), AccessLogEntry, output, limit,
              ACCESS_COLUMNS, "access log")
