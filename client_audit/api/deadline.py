"""A bound on how long a request may take to start its response."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class RequestDeadline:
    """Answers 503 when a request has not started its response within ``seconds``.

    The handler is cancelled (a synchronous one keeps its worker thread until its database
    statement, bounded by the same time, ends). A response that has started, such as a
    streamed export, is not cut.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, sending))
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({handler, waiter}, timeout=self.seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if handler.done() or started.is_set():
            await handler
            return
        handler.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await handler
        log.warning("request took longer than %.0f s; answered 503: %s %s",
                    self.seconds, scope.get("method"), scope.get("path"))
        body = json.dumps({
            "error": "timeout", "problems": [],
            "message": f"the request took longer than {self.seconds:g} s; narrow it or retry",
        }).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"retry-after", b"5"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
