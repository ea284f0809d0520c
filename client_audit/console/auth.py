"""Who reads the console: a bearer token, or a session opened with one at sign-in.

Console pages are authenticated and scoped like the API's routes: each declares the scopes
it needs with :func:`~client_audit.api.scopes.requires`, whose
:func:`~client_audit.api.auth.require_token` checks an ``Authorization`` header as for the
API, and otherwise asks :class:`ConsoleSessions` (the app's session authenticator) for the
request's session. A browser without one is sent to the sign-in page, which brings it back
to where it was going. A session opened with a stored token is checked against the token's
record on every request: once the token is revoked or has expired, the session ends and the
browser is sent to sign in again. A page needing a scope the token lacks answers 403 naming
the scope (:mod:`client_audit.console.errors` shows it as a page).

:func:`console_reader` gives a page the caller and its session, for rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from client_audit.api.access_record import access_record
from client_audit.api.auth import Authenticated, Caller
from client_audit.api.database import reading
from client_audit.console.sessions import Session, SessionStore
from projections.access.tokens import TokenState, token_named
from projections.model.access import Scope

PREFIX = "/console"
SESSION_COOKIE = "client_audit_session"
SIGN_IN_COOKIE = "client_audit_sign_in"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
HOME_PATH = f"{PREFIX}/search"
MAX_NEXT = 2048
"""Characters of a path to return to after sign-in."""

Ended = Literal["revoked", "expired"]
"""Why a session ended before its time: its stored token was revoked, or expired."""

_SESSION_STATE = "console_session"


class SignInRequiredError(Exception):
    """A console page was asked for without a live session: sign in, then go to
    ``next_path``; ``ended`` says why a session just ended, if one did."""

    def __init__(self, next_path: str, ended: Ended | None = None) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.ended = ended


@dataclass(frozen=True, slots=True)
class ConsoleReader:
    """The caller of a console request, and its session (None when it sent a bearer
    token)."""

    caller: Caller
    session: Session | None

    def holds(self, scopes: frozenset[Scope]) -> bool:
        return scopes <= self.caller.scopes


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def safe_next(target: str | None) -> str:
    """``target`` if it is a console path on this site, else the search page (no open
    redirect: no scheme, host, ``//`` or backslash, no control characters)."""
    if not target or len(target) > MAX_NEXT or "\\" in target:
        return HOME_PATH
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return HOME_PATH
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return HOME_PATH
    if parts.path != PREFIX and not parts.path.startswith(f"{PREFIX}/"):
        return HOME_PATH
    if parts.path.startswith(SIGN_IN_PATH):
        return HOME_PATH
    return target


def sign_in_location(next_path: str, ended: Ended | None = None) -> str:
    location = f"{SIGN_IN_PATH}?next={quote(safe_next(next_path), safe='')}"
    return location if ended is None else f"{location}&ended={ended}"


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class ConsoleSessions:
    """The console's sessions as :func:`~client_audit.api.auth.require_token` sees them
    (a :class:`~client_audit.api.auth.SessionAuthenticator`): for a console path without
    an ``Authorization`` header, the caller is the live session's token."""

    def covers(self, request: Request) -> bool:
        return is_console_path(request.url.path)

    def caller_of(self, request: Request) -> Caller:
        """The session's token as the caller (named in the request's access record);
        :class:`SignInRequiredError` without a live session, or when its stored token was
        revoked or has expired (the session ends then)."""
        store = sessions_of(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        session = store.find(cookie)
        if session is None:
            raise SignInRequiredError(_here(request))
        record = access_record(request)
        record.token_name = session.token_name
        if session.stored:
            ended = _ended(request, session)
            if ended is not None:
                store.close(cookie)
                raise SignInRequiredError(_here(request), ended)
        setattr(request.state, _SESSION_STATE, session)
        return Caller(session.token_name, session.scopes)


def _ended(request: Request, session: Session) -> Ended | None:
    """Why the stored token of ``session`` no longer opens pages (None: it is active; its
    use is then due to be marked with the request's access entry)."""
    with reading(request) as connection:
        token = token_named(connection, session.token_name)
    if token is None:
        return "revoked"
    state = token.state(datetime.now(UTC))
    if state is TokenState.REVOKED:
        return "revoked"
    if state is TokenState.EXPIRED:
        return "expired"
    access_record(request).stored_token = token
    return None


def console_reader(request: Request, caller: Authenticated) -> ConsoleReader:
    """The console's dependency: the caller and its session (if it came with one)."""
    session = getattr(request.state, _SESSION_STATE, None)
    return ConsoleReader(caller, session if isinstance(session, Session) else None)


ConsoleAuth = Annotated[ConsoleReader, Depends(console_reader)]
