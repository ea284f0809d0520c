"""Unauthenticated service routes: health (checks the database) and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from client_audit.api.database import engine_of
from client_audit.api.metrics import ApiMetrics
from client_audit.api.models import Health
from projections.db.tables import audit_log

log = logging.getLogger(__name__)

router = APIRouter(tags=["service"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Health: the database answers and holds the projection tables",
    responses={503: {"model": Health, "description": "The database is unavailable."}},
)
def healthz(request: Request) -> Health | JSONResponse:
    try:
        with engine_of(request).connect() as connection:
            connection.execute(select(func.max(audit_log.c.position)))
    except SQLAlchemyError as exc:
        log.warning("health check failed: %s", str(exc).splitlines()[0])
        body = Health(status="unavailable", database="unavailable")
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(status="ok", database="ok")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
