"""Every API and console request appended to the access log before its response goes out.

The entry (token, route, parameters, rows, status, client address) is appended when the
response starts, in a transaction of its own through the access-log writer (a database
role that may only append there). When it cannot be written, the response is replaced by
a 503: a read that is not recorded is not answered. A request the app failed to answer is
recorded with status 500. The service probes ``/healthz`` and ``/metrics``, which read no
audit data, are not recorded.
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from client_audit.api.access_record import SCOPE_KEY, AccessRecord, started_record
from projections.access.log import AccessLogWriter

log = logging.getLogger(__name__)

UNRECORDED = frozenset({"/healthz", "/metrics"})
"""Paths whose requests are not recorded: service probes, no audit data."""

_UNAVAILABLE = json.dumps({
    "error": "access_log_unavailable",
    "message": "the access log cannot be written; requests are refused until it can",
    "problems": [],
}).encode()


class AccessRecorder:
    """ASGI middleware appending one access entry per request (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNRECORDED:
            await self.app(scope, receive, send)
            return
        writer: AccessLogWriter = scope["app"].state.access_log
        record = started_record()
        scope[SCOPE_KEY] = record
        started = refused = False

        async def recording_send(message: Message) -> None:
            nonlocal started, refused
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                if not await _appended(writer, record, scope, int(message["status"])):
                    refused = True
                    await _unavailable(send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not started:
                await _appended(writer, record, scope, 500)


async def _appended(writer: AccessLogWriter, record: AccessRecord, scope: Scope,
                    status: int) -> bool:
    entry = record.entry(scope, status)
    try:
        await run_in_threadpool(writer.append, entry, record.stored_token)
    except Exception as exc:
        log.error("the access log could not be appended to; the request is refused: %s",
                  str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return False
    return True


async def _unavailable(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", b"5"),
        (b"content-length", str(len(_UNAVAILABLE)).encode()),
    ]})
    await send({"type": "http.response.body", "body": _UNAVAILABLE})
