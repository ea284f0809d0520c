"""The application factory: routes, authentication, error shapes and metrics, no globals."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from sqlalchemy import Engine

from client_audit.api import (
    errors,
    routes_audit,
    routes_credentials,
    routes_search,
    routes_service,
)
from client_audit.api.auth import TokenVerifier
from client_audit.api.deadline import RequestDeadline
from client_audit.api.metrics import ApiMetrics, RequestRecorder
from client_audit.api.throttle import FailedAuthThrottle

DESCRIPTION = """\
Read-only queries over the client-audit projections: audit trails, uses by source network,
denied uses, credentials, anomalies, and one search language over the audit log
(`/v1/search?q=`). Every `/v1` route needs `Authorization: Bearer
<token>`; `/healthz`, `/metrics` and this document are open. Instants carry an offset
(`Z`, or `%2B01:00` in a URL); pages are walked with the opaque `nextCursor`.
"""


def create_app(
    engine: Engine,
    tokens: Sequence[str],
    metrics: ApiMetrics | None = None,
    *,
    request_timeout_s: float = 30.0,
    throttle: FailedAuthThrottle | None = None,
) -> FastAPI:
    """The API over ``engine``, accepting the bearer ``tokens`` (none: every query is refused).

    Every request is logged once with secrets redacted, must start its response within
    ``request_timeout_s`` (its database statements are bounded by the same time), and an
    address presenting too many refused tokens is throttled.
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
    app.include_router(routes_audit.router)
    app.include_router(routes_credentials.router)
    app.include_router(routes_search.router)
    app.include_router(routes_service.router)
    app.add_middleware(RequestDeadline, seconds=request_timeout_s)
    app.add_middleware(RequestRecorder, metrics=app.state.metrics)
    errors.install(app)
    return app
