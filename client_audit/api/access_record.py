"""What the access log records of one request, gathered while the request is answered.

:class:`~client_audit.api.access_recorder.AccessRecorder` puts an :class:`AccessRecord` in
the request's ASGI scope; authentication names the token in it, and each route says how
many rows its response holds (:func:`access_record` gives it to a route as a dependency).
When the response starts, the record becomes an
:class:`~projections.model.access.AccessEntry`: the route template (never the raw path of
a matched route), the path and query parameters with secret-looking values redacted, the
status and the client address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.types import Scope as AsgiScope

from client_audit.api.access_log import REDACTED, SECRET_NAMES
from client_audit.display import visible
from projections.access.tokens import TokenRecord
from projections.model.access import AccessEntry

SCOPE_KEY = "client_audit.access_record"

UNMATCHED = "<unmatched>"
"""The route of requests no route matched; their path is recorded as the ``path``
parameter."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

MAX_PARAMETERS = 32
"""Parameters recorded per request; the rest are counted under ``…``."""

MAX_NAME = 64
MAX_VALUE = 256
"""Characters of a parameter's name and of each value, after escaping (longer: cut, with
``…``)."""

MAX_ADDRESS = 64


@dataclass
class AccessRecord:
    """The parts of an access entry known before the response starts."""

    at: datetime
    token_name: str | None = None
    stored_token: TokenRecord | None = None
    """The stored token the request was authenticated with (its last use may be due)."""
    rows_returned: int | None = None

    def returned(self, rows: int) -> None:
        """The response holds ``rows`` rows (a page's size; 1 for one record)."""
        self.rows_returned = rows

    def entry(self, scope: AsgiScope, status: int) -> AccessEntry:
        route = route_template(scope)
        parameters = dict(scope.get("path_params") or {})
        if route == UNMATCHED:
            parameters = {"path": str(scope.get("path", ""))}
        method = scope.get("method")
        client = scope.get("client")
        return AccessEntry(
            at=self.at,
            token_name=self.token_name,
            method=method if method in METHODS else "OTHER",
            route=route,
            status=status,
            parameters=recorded_parameters(parameters, scope.get("query_string", b"")),
            rows_returned=self.rows_returned,
            client_address=_bounded(str(client[0]), MAX_ADDRESS) if client else None,
        )


def route_template(scope: AsgiScope) -> str:
    """The template of the route that answered (a plain route's own path when no template
    was recorded), or :data:`UNMATCHED`."""
    route = getattr(scope.get("route"), "path", None)
    if isinstance(route, str):
        return route
    if scope.get("endpoint") is not None:
        return _bounded(str(scope.get("path", "")), MAX_VALUE)
    return UNMATCHED


def started_record() -> AccessRecord:
    return AccessRecord(at=datetime.now(UTC))


def access_record(request: Request) -> AccessRecord:
    """The record of this request (a fresh one when no recorder runs, as in a unit test)."""
    record = request.scope.get(SCOPE_KEY)
    if not isinstance(record, AccessRecord):
        record = request.scope[SCOPE_KEY] = started_record()
    return record


Recorded = Annotated[AccessRecord, Depends(access_record)]


def recorded_parameters(path_parameters: Mapping[str, Any], query: bytes) -> dict[str, Any]:
    """Path and query parameters as the access log keeps them: names and values escaped
    and bounded, repeated query parameters as lists, secret-looking values redacted."""
    pairs = [(str(name), str(value)) for name, value in path_parameters.items()]
    pairs += parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    kept: dict[str, Any] = {}
    dropped = 0
    for raw_name, raw_value in pairs:
        name = _bounded(raw_name, MAX_NAME)
        value = REDACTED if SECRET_NAMES.search(raw_name) else _bounded(raw_value, MAX_VALUE)
        if name not in kept and len(kept) >= MAX_PARAMETERS:
            dropped += 1
            continue
        if name not in kept:
            kept[name] = value
        elif isinstance(kept[name], list):
            kept[name].append(value)
        else:
            kept[name] = [kept[name], value]
    if dropped:
        kept["…"] = f"{dropped} more parameters not recorded"
    return kept


def _bounded(text: str, most: int) -> str:
    shown = visible(text)
    return shown if len(shown) <= most else shown[: most - 1] + "…"
