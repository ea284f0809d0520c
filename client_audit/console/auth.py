"""Who reads the console: a bearer token, or a session opened with one at sign-in.

:func:`console_reader` is the dependency every console page takes (as the API's routes take
``require_token``): a request with an ``Authorization`` header is checked as the API checks
it; otherwise its session cookie must name a live session. A browser without one is sent
to the sign-in page, which brings it back to where it was going.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from client_audit.api.auth import Reader, bearer_reader
from client_audit.console.sessions import Session, SessionStore

PREFIX = "/console"
SESSION_COOKIE = "client_audit_session"
SIGN_IN_COOKIE = "client_audit_sign_in"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
HOME_PATH = f"{PREFIX}/search"
MAX_NEXT = 2048
"""Characters of a path to return to after sign-in."""


class SignInRequiredError(Exception):
    """A console page was asked for without a session: sign in, then go to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class ConsoleReader:
    """The reader of a console request, and its session (None when it sent a bearer token)."""

    reader: Reader
    session: Session | None


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


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


def sign_in_location(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?next={quote(safe_next(next_path), safe='')}"


def console_reader(request: Request) -> ConsoleReader:
    """The console's dependency: the reader, or :class:`SignInRequiredError`."""
    header = request.headers.get("authorization")
    if header is not None:
        return ConsoleReader(bearer_reader(request, header), None)
    session = sessions_of(request).find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        query = request.url.query
        raise SignInRequiredError(request.url.path + (f"?{query}" if query else ""))
    return ConsoleReader(Reader(session.token_index, "session"), session)


ConsoleAuth = Annotated[ConsoleReader, Depends(console_reader)]
