"""The application factory: routes, authentication, error shapes and metrics, no globals."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from sqlalchemy import Engine

from client_audit.api import (
    errors,
    routes_access,
    routes_audit,
    routes_credentials,
    routes_integrity,
    routes_search,
    routes_service,
)
from client_audit.api.access_recorder import AccessRecorder
from client_audit.api.auth import TokenVerifier
from client_audit.api.deadline import RequestDeadline
from client_audit.api.metrics import ApiMetrics, RequestRecorder
from client_audit.api.scopes import check_declared, document_scopes
from client_audit.api.throttle import FailedAuthThrottle
from projections.access.log import AccessLogWriter

DESCRIPTION = """\
Read-only queries over the client-audit projections: audit trails, uses by source network,
denied uses, credentials, anomalies, one search language over the audit log
(`/v1/search?q=`), the heads of the hash chains and the access log. Every `/v1` route needs
`Authorization: Bearer <token>` with the scope the route names (403 otherwise); `/healthz`,
`/metrics` and this document are open. Every request but the two probes is recorded in the
hash-chained access log before it is answered. Instants carry an offset (`Z`, or `%2B01:00`
in a URL); pages are walked with the opaque `nextCursor`.
"""


def create_app(
    engine: Engine,
    tokens: Sequence[str],
    metrics: ApiMetrics | None = None,
    *,
    access_engine: Engine | None = None,
    request_timeout_s: float = 30.0,
    throttle: FailedAuthThrottle | None = None,
) -> FastAPI:
    """The API over ``engine``, accepting the environment's bearer ``tokens`` (each with
    every scope) and the tokens stored in the database.

    Every request is recorded in the access log through ``access_engine`` (default:
    ``engine``; the same store, possibly as another role) and logged once with secrets
    redacted; it must start its response within ``request_timeout_s`` (its database
    statements are bounded by the same time), and an address presenting too many refused
    tokens is throttled.
    """
    app = FastAPI(
        title="client-audit query API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.metrics = metrics or ApiMetrics()
    app.state.token_verifier = TokenVerifier(tokens)
    app.state.auth_throttle = throttle or FailedAuthThrottle()
    app.state.statement_timeout_s = request_timeout_s
    app.state.access_log = AccessLogWriter(access_engine or engine)
    for module in (routes_audit, routes_credentials, routes_search, routes_integrity,
                   routes_access, routes_service):
        app.include_router(module.router)
    check_declared(app)
    document_scopes(app)
    app.add_middleware(RequestDeadline, seconds=request_timeout_s)
    app.add_middleware(AccessRecorder)
    app.add_middleware(RequestRecorder, metrics=app.state.metrics)
    errors.install(app)
    return app
