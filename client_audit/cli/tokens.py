"""client-audit tokens: create, list and revoke the API's bearer tokens.

The database (``DATABASE_URL``, a role that may write ``api_tokens``: the owner, not the
API's reader) keeps each token's SHA-256, name, scopes, creation, expiry, revocation and
last use. ``create`` prints the token once, on stdout, and nowhere else: it is never
logged and cannot be shown again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import (
    Printed,
    format_option,
    instant_text,
    opened,
    print_rows,
    require_current_schema,
    require_sqlite_file,
)
from client_audit.cli.params import INSTANT
from projections.access.errors import TokenRequestError, UnknownTokenError
from projections.access.tokens import (
    TokenRecord,
    issue_token,
    list_tokens,
    revoke_token,
)
from projections.db.engine import write_transaction
from projections.model.access import SCOPE_MEANINGS, Scope

COLUMNS = ("name", "scopes", "state", "createdAt", "expiresAt", "revokedAt", "lastUsedAt")

SCOPE_HELP = "; ".join(f"{scope.value}: {meaning}" for scope, meaning in SCOPE_MEANINGS.items())


class TokenRow(Printed):
    """A token as ``tokens list`` prints it: everything but the token."""

    name: str
    scopes: list[str]
    state: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, record: TokenRecord, now: datetime) -> TokenRow:
        return cls(
            name=record.name, scopes=sorted(record.scopes), state=record.state(now).value,
            created_at=record.created_at, expires_at=record.expires_at,
            revoked_at=record.revoked_at, last_used_at=record.last_used_at,
        )


@contextmanager
def _writing(ctx: click.Context) -> Iterator[Connection]:
    url = make_url(settings_of(ctx).database_url)
    require_sqlite_file(url, "projection")
    require_current_schema(url, "projection")
    with opened(url, "projection") as engine, write_transaction(engine) as connection:
        yield connection


@click.group()
def tokens() -> None:
    """Create, list and revoke the API's bearer tokens (kept as hashes in DATABASE_URL).

    Scopes: read:audit-log, read:credentials, read:integrity, admin. A request with a
    token lacking a route's scope is answered 403; a revoked or expired token 401.
    """


@tokens.command()
@click.option("--name", required=True,
              help="A name for the token, shown in the access log: 1 to 64 letters, digits, "
                   "'.', '_', '-' (never reused).")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice([scope.value for scope in Scope]),
              help=f"What the token may read (repeatable). {SCOPE_HELP}.")
@click.option("--expires", type=INSTANT,
              help="When the token stops working, ISO-8601 with offset [default: never].")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="text: the token alone on stdout; json: one object with the token and its "
                   "record.")
@click.pass_context
def create(ctx: click.Context, name: str, scopes: tuple[str, ...], expires: datetime | None,
           output: str) -> None:
    """Create a token and print it once (it is stored only as a hash and cannot be shown
    again): TOKEN=$(client-audit tokens create --name ci --scope read:audit-log)."""
    now = datetime.now(UTC)
    try:
        with _writing(ctx) as connection:
            issued = issue_token(connection, name, {Scope(s) for s in scopes}, now, expires)
    except TokenRequestError as exc:
        raise click.UsageError(str(exc)) from None
    record = issued.record
    if output == "json":
        shown = TokenRow.of(record, now).model_dump(mode="json", by_alias=True)
        click.echo(json.dumps({"token": issued.token, **shown}))
    else:
        click.echo(issued.token)
    expiry = "never" if record.expires_at is None else instant_text(record.expires_at)
    click.echo(
        f"created token {record.name!r} with scopes {', '.join(sorted(record.scopes))}; "
        f"expires {expiry}. It is shown only this once.",
        err=True,
    )


@tokens.command("list")
@format_option
@click.pass_context
def list_command(ctx: click.Context, output: str | None) -> None:
    """Every token: name, scopes, state (active, expired, revoked), creation, expiry,
    revocation and last use (written at most once a minute). Never the tokens."""
    now = datetime.now(UTC)
    with _writing(ctx) as connection:
        rows = [TokenRow.of(record, now) for record in list_tokens(connection)]
    print_rows(rows, TokenRow, output, COLUMNS, title="API tokens")


@tokens.command()
@click.argument("name")
@click.pass_context
def revoke(ctx: click.Context, name: str) -> None:
    """Revoke the token NAME for good: requests with it are answered 401 from now on. Its
    record and name stay (names are never reused)."""
    now = datetime.now(UTC)
    try:
        with _writing(ctx) as connection:
            record = revoke_token(connection, name, now)
    except UnknownTokenError as exc:
        raise click.UsageError(str(exc)) from None
    assert record.revoked_at is not None
    when = instant_text(record.revoked_at)
    already = record.revoked_at != now
    click.echo(
        f"token {record.name!r} {'was already' if already else 'is'} revoked (at {when})",
        err=True,
    )
