"""Errors on console pages are pages: the API's error handlers answer, and for a console
path their JSON body is shown as HTML with the same status and headers. A browser without
a session is sent to sign in."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import WebSocketRequestValidationError
from fastapi.responses import RedirectResponse, Response

from client_audit.api.auth import Reader
from client_audit.console.auth import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleReader,
    SignInRequiredError,
    sessions_of,
    sign_in_location,
)
from client_audit.console.templates import pages_of

Handler = Callable[[Request, Any], Response | Awaitable[Response]]
PageHandler = Callable[[Request, Exception], Awaitable[Response]]

KEPT_HEADERS = ("www-authenticate", "retry-after")


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def _as_page(original: Handler) -> PageHandler:
    async def handle(request: Request, exc: Exception) -> Response:
        answered = original(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        if not is_console(request):
            return response
        body = json.loads(bytes(response.body))
        headers = {
            name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
        }
        session = sessions_of(request).find(request.cookies.get(SESSION_COOKIE))
        reader = None if session is None else ConsoleReader(
            Reader(session.token_index, "session"), session
        )
        return pages_of(request).render(
            request, "error.html", reader=reader, status_code=response.status_code,
            headers=headers, message=body.get("message", ""), problems=body.get("problems", []),
        )

    return handle


async def _sign_in(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    return RedirectResponse(sign_in_location(exc.next_path), status_code=303)


def install(app: FastAPI) -> None:
    """Wrap every installed error handler; send readers without a session to sign in."""
    for kind, handler in list(app.exception_handlers.items()):
        if isinstance(kind, type) and kind is not WebSocketRequestValidationError:
            app.add_exception_handler(kind, _as_page(handler))
    app.add_exception_handler(SignInRequiredError, _sign_in)
