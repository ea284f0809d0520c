"""The investigator console: server-rendered HTML pages over the same read-only database
connections and tokens as the API, served by ``client-audit serve`` under ``/console``.

Every page and export declares the scopes it needs, as the API's routes do
(:func:`~client_audit.api.scopes.requires`); sign-in, sign-out, the redirects to the search
page and the static files are open (:data:`~client_audit.api.scopes.OPEN_ROUTES`). Every
request is recorded in the access log like an API request, with the name of the session's
token and the rows the page shows.

Every asset is ours (``static/``): no CDN, no inline script or style, so the console works
offline under a strict Content-Security-Policy (:mod:`client_audit.console.headers`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from client_audit.api.scopes import check_declared, routes_of
from client_audit.console import (
    errors,
    routes_credential,
    routes_overview,
    routes_roles,
    routes_search,
    routes_session,
)
from client_audit.console.auth import ConsoleSessions
from client_audit.console.headers import ConsoleHeaders
from client_audit.console.sessions import SessionStore
from client_audit.console.templates import NAVIGATION, Pages

STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI, sessions: SessionStore | None = None) -> None:
    """Serve the console from ``app`` (after the API's routes and error handlers); like
    ``create_app``, refuse a route that is neither open nor declares its scopes."""
    app.state.console_sessions = sessions or SessionStore()
    app.state.sessions = ConsoleSessions()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (routes_session, routes_search, routes_credential, routes_roles,
                   routes_overview):
        app.include_router(module.router)
    check_declared(app)
    declared = {route.path: route.scopes for route in routes_of(app) if "GET" in route.methods}
    app.state.console_pages = Pages({path: declared[path] for _, _, path in NAVIGATION})
    app.add_middleware(ConsoleHeaders)
    errors.install(app)


__all__ = ["install_console"]
