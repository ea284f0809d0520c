"""client-audit serve: the read-only HTTP query API (uvicorn), over the projection database."""

from __future__ import annotations

import ssl
from pathlib import Path

import click
import uvicorn

from client_audit.api import create_app
from client_audit.api.server import ServerLimits, Tls, server_config
from client_audit.cli.context import settings_of
from client_audit.console import install_console
from projections.db.engine import create_engine_for


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
    """Serve the query API: /v1/… (bearer token), the investigator console at /console
    (sign in with a token), /healthz, /metrics, /openapi.json.

    Tokens come from CLIENT_AUDIT_API_TOKENS, a JSON list (e.g. '["s3cret"]'); without
    one the API would refuse every query, so the command refuses to start. Connections,
    idle time, request heads and request time are bounded; an address presenting too many
    refused tokens is answered 429 for a minute. One log line per request, secrets
    redacted.
    """
    settings = settings_of(ctx)
    tokens = [token.get_secret_value() for token in settings.api_tokens]
    if not tokens:
        raise click.UsageError(
            "set CLIENT_AUDIT_API_TOKENS to a JSON list of non-blank bearer tokens, "
            "e.g. '[\"$(openssl rand -hex 32)\"]'"
        )
    tls = _tls(tls_cert, tls_key)
    limits = ServerLimits(max_connections, keep_alive_timeout, header_timeout, request_timeout)
    engine = create_engine_for(settings.database_url)
    try:
        app = create_app(engine, tokens, request_timeout_s=request_timeout)
        install_console(app)
        uvicorn.Server(server_config(app, host, port, limits, tls)).run()
    finally:
        engine.dispose()
