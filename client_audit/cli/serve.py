"""client-audit serve: the read-only HTTP query API (uvicorn), over the projection database."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import click
import uvicorn
from sqlalchemy import Engine

from client_audit.api import create_app
from client_audit.api.server import ServerLimits, Tls, server_config
from client_audit.cli.context import settings_of
from client_audit.cli.forensics_io import require_current_schema, shown
from client_audit.console import install_console
from client_audit.settings import Settings
from projections.access.tokens import TokenState, list_tokens
from projections.db.engine import create_engine_for, normalised_url


def _tls(certificate: Path | None, key: Path | None) -> Tls | None:
    """The TLS files, checked now (a clear message rather than a failure at start-up)."""
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        raise click.UsageError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key)
    except (ssl.SSLError, OSError) as exc:
        raise click.BadParameter(
            f"cannot use {certificate} with {key} as a TLS certificate and key: {exc}",
            param_hint="--tls-cert/--tls-key",
        ) from None
    return Tls(certificate, key)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=8080, show_default=True,
              help="Port to listen on.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve HTTPS with this PEM certificate (chain) [with --tls-key].")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The PEM private key of --tls-cert.")
@click.option("--max-connections", type=click.IntRange(min=1, max=100_000), default=256,
              show_default=True,
              help="Open connections at most (lowered to fit the open-file limit); past it, 503.")
@click.option("--keep-alive-timeout", type=click.FloatRange(min=1, max=300), default=5.0,
              show_default=True, help="Seconds an idle kept-alive connection stays open.")
@click.option("--header-timeout", type=click.FloatRange(min=1, max=300), default=10.0,
              show_default=True,
              help="Seconds a connection may take to send a complete request head.")
@click.option("--request-timeout", type=click.FloatRange(min=1, max=3600), default=30.0,
              show_default=True,
              help="Seconds a request may take to start its response (database statements "
                   "are bounded by the same time); past it, 503.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, tls_cert: Path | None,
          tls_key: Path | None, max_connections: int, keep_alive_timeout: float,
          header_timeout: float, request_timeout: float) -> None:
    """Serve the query API: /v1/… (bearer token with the route's scope), the investigator
    console at /console (sign in with a token; each page needs its scopes too), /healthz,
    /metrics, /openapi.json.

    Tokens are those of `client-audit tokens create` (stored as hashes in the database)
    and those of CLIENT_AUDIT_API_TOKENS, a JSON list (e.g. '["s3cret"]') whose tokens hold
    every scope; without any active token the API would refuse every query, so the command
    refuses to start. DATABASE_URL may be a read-only role: every request is appended to
    the access log through CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL (the same store, as a role
    that may only append there; default DATABASE_URL), and not answered if it cannot be.
    Connections, idle time, request heads and request time are bounded; an address
    presenting too many refused tokens is answered 429 for a minute.
    """
    settings = settings_of(ctx)
    tokens = [token.get_secret_value() for token in settings.api_tokens]
    access_url = _access_log_url(settings)
    tls = _tls(tls_cert, tls_key)
    require_current_schema(settings.database_url, "projection")
    limits = ServerLimits(max_connections, keep_alive_timeout, header_timeout, request_timeout)
    engine = create_engine_for(settings.database_url)
    access_engine = engine if access_url is None else create_engine_for(access_url)
    try:
        if not tokens and not _any_active_token(engine):
            raise click.UsageError(
                "no API token: create one with `client-audit tokens create --name NAME "
                "--scope read:audit-log`, or set CLIENT_AUDIT_API_TOKENS to a JSON list of "
                "bearer tokens, e.g. '[\"$(openssl rand -hex 32)\"]'"
            )
        app = create_app(engine, tokens, access_engine=access_engine,
                         request_timeout_s=request_timeout)
        install_console(app)
        uvicorn.Server(server_config(app, host, port, limits, tls)).run()
    finally:
        access_engine.dispose()
        engine.dispose()


def _access_log_url(settings: Settings) -> str | None:
    """The access-log writer's URL, checked to name the same store as DATABASE_URL (an
    access log elsewhere would not be the one `verify-log` and `query access` read)."""
    given = settings.access_log_database_url
    if given is None:
        return None
    store = normalised_url(settings.database_url).set(username=None, password=None)
    writer = normalised_url(given).set(username=None, password=None)
    if store != writer:
        raise click.UsageError(
            f"CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL ({shown(given)}) must name the store of "
            f"DATABASE_URL ({shown(settings.database_url)}), as another role at most"
        )
    return given


def _any_active_token(engine: Engine) -> bool:
    now = datetime.now(UTC)
    with engine.connect() as connection:
        return any(record.state(now) is TokenState.ACTIVE for record in list_tokens(connection))
