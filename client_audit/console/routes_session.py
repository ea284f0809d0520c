"""Signing in and out of the console.

Signing in takes an API token in a form and opens a session (:mod:`sessions`): the cookie
is HttpOnly, SameSite=Strict, limited to ``/console`` and Secure under TLS; it carries an
opaque id, never the token. Both forms are POSTs protected twice against cross-site
requests: SameSite=Strict cookies, and a per-form token that must come back (the sign-in
form's in a short-lived cookie of its own, the sign-out form's in the session), with the
``Origin`` header, when sent, required to be this site. A refused token counts against
the address like a refused bearer token (429 after too many).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from client_audit.api.auth import TokenVerifier, refuse_if_throttled
from client_audit.api.throttle import FailedAuthThrottle
from client_audit.console.auth import (
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_PATH,
    ConsoleAuth,
    safe_next,
    sessions_of,
)
from client_audit.console.templates import pages_of

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MAX_TOKEN = 4096
"""Characters of a token a form may carry."""

SIGN_IN_FORM_S = 3600
"""Seconds a sign-in form stays usable."""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _same_origin(request: Request) -> bool:
    """Whether a form POST comes from this site: a browser's ``Sec-Fetch-Site`` (which no
    page can set) must say so; else an ``Origin`` other than ``null`` must be ours."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin in (None, "null") or origin == str(request.base_url).rstrip("/")


def _matches(given: str, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def _form(request: Request, next_path: str, status_code: int = 200,
          message: str | None = None, notice: str | None = None) -> Response:
    form_token = secrets.token_urlsafe(32)
    response = pages_of(request).render(
        request, "sign_in.html", reader=None, status_code=status_code, form_token=form_token,
        next_path=safe_next(next_path), message=message, notice=notice,
    )
    response.set_cookie(SIGN_IN_COOKIE, form_token, max_age=SIGN_IN_FORM_S, path=SIGN_IN_PATH,
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/search", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None, signed_out: str | None = None
                 ) -> Response:
    """The sign-in form (or straight on, for a browser already signed in)."""
    if sessions_of(request).find(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = "You are signed out." if signed_out else None
    return _form(request, next or "", notice=notice)


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=MAX_TOKEN)] = "",
    form_token: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Open a session for a configured token; the form again, with the reason, otherwise."""
    if not _same_origin(request):
        raise HTTPException(403, "a sign-in form from another site is refused")
    if not _matches(form_token, request.cookies.get(SIGN_IN_COOKIE)):
        return _form(request, next, 403, "This sign-in form has expired; please try again.")
    client = refuse_if_throttled(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    index = verifier.index_of(token.strip()) if token.strip() else None
    if index is None:
        throttle: FailedAuthThrottle = request.app.state.auth_throttle
        if token.strip():
            throttle.failed(client)
        return _form(request, next, 401, "That token is not one this service accepts.")
    session_id, _session = sessions_of(request).open(index)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, path=PREFIX, httponly=True,
                        samesite="strict", secure=_secure(request))
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN_PATH, httponly=True,
                           samesite="strict", secure=_secure(request))
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    reader: ConsoleAuth,
    form_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """End the session and go back to the sign-in page."""
    if not _same_origin(request):
        raise HTTPException(403, "a sign-out form from another site is refused")
    expected = reader.session.form_token if reader.session else None
    if not _matches(form_token, expected):
        raise HTTPException(403, "this sign-out form is not from this session")
    sessions_of(request).close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{SIGN_IN_PATH}?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict",
                           secure=_secure(request))
    return response
