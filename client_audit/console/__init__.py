"""The investigator console: server-rendered HTML pages over the same read-only database
connections and tokens as the API, served by ``client-audit serve`` under ``/console``.

Every asset is ours (``static/``): no CDN, no inline script or style, so the console works
offline under a strict Content-Security-Policy (:mod:`client_audit.console.headers`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from client_audit.console import (
    errors,
    routes_credential,
    routes_overview,
    routes_roles,
    routes_search,
    routes_session,
)
from client_audit.console.headers import ConsoleHeaders
from client_audit.console.sessions import SessionStore
from client_audit.console.templates import Pages

STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI, sessions: SessionStore | None = None) -> None:
    """Serve the console from ``app`` (after the API's routes and error handlers)."""
    app.state.console_sessions = sessions or SessionStore()
    app.state.console_pages = Pages()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (routes_session, routes_search, routes_credential, routes_roles,
                   routes_overview):
        app.include_router(module.router)
    app.add_middleware(ConsoleHeaders)
    errors.install(app)


__all__ = ["install_console"]
