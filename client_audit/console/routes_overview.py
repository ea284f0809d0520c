"""The overview pages: anomalies per kind per day, the integrity of the audit log and the
access log, the schemas.

Anomalies are read from the audit log (scope ``read:audit-log``); the integrity page shows
the chain heads and the last ``verify-log`` (``read:integrity``, as
``GET /v1/integrity/heads``); the schemas describe the audit log's events and are read with
it (``read:audit-log``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from client_audit.api.access_record import Recorded
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import InvalidQueryError
from client_audit.api.scopes import requires
from client_audit.console.auth import PREFIX, ConsoleAuth
from client_audit.console.charts import anomaly_chart
from client_audit.console.params import instant_parameter
from client_audit.console.templates import pages_of
from projections.chain import checkpoints
from projections.chain.access_verify import access_head
from projections.chain.heads import all_heads
from projections.chain.records import latest_verification
from projections.model.access import Scope
from projections.queries.anomaly_counts import anomaly_days, default_window, most_flagged
from projections.queries.filters import Windowed
from projections.queries.problems import Problem
from schemas.models import EVENT_CLASSES_BY_SCHEMA
from schemas.registry import AVRO_DIR, default_registry

router = APIRouter(prefix=PREFIX, include_in_schema=False)

READS_AUDIT_LOG = [requires(Scope.READ_AUDIT_LOG)]

MOST_DAYS = 366
"""Days one anomaly chart covers at most."""


@router.get("/anomalies", dependencies=READS_AUDIT_LOG)
def anomalies_page(
    request: Request,
    reader: ConsoleAuth,
    connection: ReadOnlyConnection,
    record: Recorded,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> Response:
    """Flags per kind per UTC day, and the credentials flagged most, in ``[from, to)``
    (default: the 30 days up to the newest flagged entry)."""
    since, until = instant_parameter("from", start), instant_parameter("to", end)
    default = default_window(connection)
    if since is None and until is None:
        window = default
    else:
        until = until or (since + timedelta(days=30) if since else default.end)
        since = since or (until - timedelta(days=30) if until else default.start)
        if since is None or until is None or until <= since:
            raise InvalidQueryError([Problem("to", "must be after from")])
        window = Windowed.model_validate({"from": since, "to": until})
    assert window.start is not None and window.end is not None
    first = window.start.date()
    last = (window.end - timedelta(microseconds=1)).date()
    if (last - first).days + 1 > MOST_DAYS:
        raise InvalidQueryError([Problem("from", f"the window spans more than {MOST_DAYS} days")])
    counts = anomaly_days(connection, window)
    flagged = most_flagged(connection, window)
    record.returned(len(counts) + len(flagged))
    return pages_of(request).render(
        request, "anomalies.html", reader=reader, active="anomalies",
        chart=anomaly_chart(counts, first, last), counts=counts,
        flagged=flagged, window=window,
        start=start or "", end=end or "", one_day=timedelta(days=1),
    )


@router.get("/integrity", dependencies=[requires(Scope.READ_INTEGRITY)])
def integrity_page(
    request: Request, reader: ConsoleAuth, connection: ReadOnlyConnection, record: Recorded
) -> Response:
    """Each partition's chain head and Merkle root, the access log's chain head, the latest
    signed checkpoint, and the outcome of the last ``verify-log``."""
    heads = sorted(all_heads(connection).items())
    access = access_head(connection)
    checkpoint, checkpoint_count = checkpoints.latest(connection)
    verification = latest_verification(connection)
    shown_checkpoint = checkpoint is not None and not isinstance(checkpoint, Exception)
    record.returned(
        len(heads) + (access is not None) + shown_checkpoint + (verification is not None)
    )
    return pages_of(request).render(
        request, "integrity.html", reader=reader, active="integrity", heads=heads,
        access_head=access, verification=verification, checkpoint=checkpoint,
        checkpoint_count=checkpoint_count,
        checkpoint_problem=str(checkpoint) if isinstance(checkpoint, Exception) else None,
    )


@router.get("/schemas", dependencies=READS_AUDIT_LOG)
def schemas_page(request: Request, reader: ConsoleAuth, record: Recorded) -> Response:
    """Every event type's schema file, its writer schema's fingerprint and downloads."""
    registry = default_registry()
    schemas = [
        (registry.current(name), (AVRO_DIR / f"{name}.avsc").read_text(encoding="utf-8"))
        for name in EVENT_CLASSES_BY_SCHEMA
    ]
    record.returned(len(schemas))
    return pages_of(request).render(request, "schemas.html", reader=reader, active="schemas",
                                    schemas=schemas)


SchemaName = Annotated[str, Path(max_length=128)]


def _known(name: str) -> str:
    if name not in EVENT_CLASSES_BY_SCHEMA:
        raise HTTPException(404, "no such event schema")
    return name


@router.get("/schemas/{name}.expanded.avsc", dependencies=READS_AUDIT_LOG)
def expanded_schema(name: SchemaName, _reader: ConsoleAuth, record: Recorded) -> Response:
    """The writer schema, named types expanded: what the fingerprint is computed over."""
    text = default_registry().canonical_json(_known(name))
    record.returned(1)
    filename = f"{name}.expanded.avsc"
    return Response(text.encode(), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/schemas/{name}.avsc", dependencies=READS_AUDIT_LOG)
def schema_file(name: SchemaName, _reader: ConsoleAuth, record: Recorded) -> Response:
    """The ``.avsc`` file as shipped (named types referenced by name)."""
    path = AVRO_DIR / f"{_known(name)}.avsc"
    record.returned(1)
    return Response(path.read_bytes(), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.avsc"'})
