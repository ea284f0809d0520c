"""client-audit search: one query string over the audit log (the console's and the API's
language), and client-audit searches: the saved ones.

Output is a table on a terminal and JSON lines otherwise, as for ``client-audit query``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import click
from sqlalchemy.engine import make_url

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import (
    format_option,
    opened,
    print_rows,
    require_current_schema,
    require_sqlite_file,
)
from client_audit.cli.query import AUDIT_COLUMNS, emit_rows, query_connection
from client_audit.display import visible
from projections.queries import MAX_LIMIT, AuditEntry
from projections.queries.saved_searches import SavedSearch, list_saved_searches, saved_search
from projections.queries.search import (
    QUALIFIERS,
    SearchError,
    SearchFilter,
    parse_search,
    search,
    search_page_request,
)
from projections.write.saved_searches import delete_search, name_problem, save_search

LANGUAGE = "\n".join(
    f"  {name + ':':<13} {qualifier.summary} (e.g. {qualifier.example})"
    for name, qualifier in QUALIFIERS.items()
)


def parsed(query: str, what: str = "TERMS") -> SearchFilter:
    """The filter of ``query``; a usage error (exit 2) naming each offending term."""
    try:
        return parse_search(query)
    except SearchError as exc:
        listed = "; ".join(problem.message for problem in exc.problems)
        raise click.UsageError(visible(f"{what}: {listed}")) from None


def _valid_name(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (problem := name_problem(value)) is not None:
        raise click.BadParameter(visible(problem), param=param)
    return value


@click.command(
    "search",
    context_settings={"ignore_unknown_options": True},
    epilog="Qualifiers (repeat one for OR, prefix - to negate, quote values with spaces):\n\n"
    "\b\n" + LANGUAGE,
)
@click.argument("terms", nargs=-1)
@click.option("--saved", "saved_name", callback=_valid_name,
              help="Run the search saved under this name instead of QUERY.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Most rows to print [default: all; 100 for a table].")
@format_option
@click.pass_context
def search_command(ctx: click.Context, terms: tuple[str, ...], saved_name: str | None,
                   limit: int | None, output: str | None) -> None:
    """Search the audit log: TERMS are qualifiers and free words, e.g.

    client-audit search user:alice type:USED -outcome:ALLOWED after:2026-01-05T00:00:00Z

    The terms may also come as one quoted argument (a value with spaces needs its own
    double quotes inside: '"my laptop"'); after -- every argument is a term. Free words
    match the credential's display name (ASCII letters in either case). Newest first
    unless sort:oldest. Every instant needs an offset (Z or +hh:mm).
    """
    query = " ".join(terms)
    with query_connection(ctx) as connection:
        if saved_name is not None:
            if query:
                raise click.UsageError("give TERMS or --saved, not both")
            found = saved_search(connection, saved_name)
            if found is None:
                raise click.ClickException(f"no search is saved as {saved_name!r}")
            query_filter = parsed(found.query, f"saved search {saved_name}")
        else:
            query_filter = parsed(query)
        first = search_page_request(query_filter, MAX_LIMIT)
        emit_rows(partial(search, connection, query_filter), first, AuditEntry, output, limit,
                  AUDIT_COLUMNS, "search")


@click.group()
def searches() -> None:
    """Saved searches: named queries of `client-audit search`, also listed in the console."""


@searches.command("list")
@format_option
@click.pass_context
def list_command(ctx: click.Context, output: str | None) -> None:
    """Every saved search, by name."""
    with query_connection(ctx) as connection:
        rows = list_saved_searches(connection)
    print_rows(rows, SavedSearch, output, ("name", "query", "updatedAt"), title="saved searches")


@searches.command("save")
@click.argument("name", callback=_valid_name)
@click.argument("query")
@click.pass_context
def save_command(ctx: click.Context, name: str, query: str) -> None:
    """Save QUERY (checked first) as NAME, replacing a search of that name.

    NAME is 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit.
    """
    parsed(query)
    url = settings_of(ctx).database_url
    require_sqlite_file(make_url(url), "projection")
    require_current_schema(url, "projection")
    with opened(url, "projection") as engine:
        save_search(engine, name, query, datetime.now(UTC))
    click.echo(f"saved {name}", err=True)


@searches.command("delete")
@click.argument("name", callback=_valid_name)
@click.pass_context
def delete_command(ctx: click.Context, name: str) -> None:
    """Forget the search saved as NAME (exit 1 if there is none)."""
    url = settings_of(ctx).database_url
    require_sqlite_file(make_url(url), "projection")
    require_current_schema(url, "projection")
    with opened(url, "projection") as engine:
        if not delete_search(engine, name):
            raise click.ClickException(f"no search is saved as {name!r}")
    click.echo(f"deleted {name}", err=True)
