"""client-audit serve: the read-only HTTP query API (uvicorn), over the projection database."""

from __future__ import annotations

import click
import uvicorn

from client_audit.api import create_app
from client_audit.cli.context import settings_of
from projections.db.engine import create_engine_for


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=8080, show_default=True,
              help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the query API: /v1/… (bearer token), /healthz, /metrics, /openapi.json.

    Tokens come from CLIENT_AUDIT_API_TOKENS, a JSON list (e.g. '["s3cret"]'); without
    one the API would refuse every query, so the command refuses to start.
    """
    settings = settings_of(ctx)
    tokens = [token.get_secret_value() for token in settings.api_tokens]
    if not tokens or any(not token.strip() for token in tokens):
        raise click.UsageError(
            "set CLIENT_AUDIT_API_TOKENS to a JSON list of non-blank bearer tokens, "
            "e.g. '[\"$(openssl rand -hex 32)\"]'"
        )
    engine = create_engine_for(settings.database_url)
    try:
        uvicorn.run(create_app(engine, tokens), host=host, port=port, log_config=None,
                    server_header=False)
    finally:
        engine.dispose()
