"""Bearer-token authentication of API requests: tokens from the environment, and named,
scoped tokens stored as hashes in the database.

Environment tokens (``CLIENT_AUDIT_API_TOKENS``) are compared as SHA-256 digests with
:func:`hmac.compare_digest`, against every one of them, so neither a token's length nor
which one matched shows in the timing; they are named ``env:1``, ``env:2`` ... and hold
every scope. Any other token is looked up by its SHA-256 in ``api_tokens``
(:mod:`projections.access.tokens`): a revoked or expired one is refused like an unknown
one. Missing, malformed, unknown, revoked and expired tokens are all refused with 401 and
``WWW-Authenticate``; an address that presented too many refused tokens is answered 429 for
a while (:mod:`client_audit.api.throttle`). Whether the token holds the scope a route needs
is :mod:`client_audit.api.scopes`' question.

A request without an ``Authorization`` header may still be authenticated by a
:class:`SessionAuthenticator` the app holds for the paths it covers (the console's
sign-in sessions, :mod:`client_audit.console.auth`): then the session's token is the
caller, with the scopes that token holds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client_audit.api.access_record import access_record
from client_audit.api.database import reading
from client_audit.api.throttle import FailedAuthThrottle
from projections.access.tokens import TokenRecord, TokenState, find_token
from projections.model.access import ALL_SCOPES, Scope

REALM = "client-audit"

_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
"""RFC 6750 ``b64token`` credentials."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A token from `client-audit tokens create`, or from CLIENT_AUDIT_API_TOKENS.",
)
"""Declares the scheme in the OpenAPI document; :func:`require_token` does the checking."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request's token says it is, and what it may read."""

    name: str
    scopes: frozenset[Scope]


class TokenVerifier:
    """Accepts exactly the tokens configured in the environment, each with every scope."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if any(not token or not token.strip() for token in tokens):
            raise ValueError("API tokens must not be empty or blank")
        self._digests = tuple(_digest(token) for token in tokens)

    def caller_of(self, token: str) -> Caller | None:
        """The environment token ``token`` is (``env:<n>``, counted from 1), or None."""
        given = _digest(token)
        found = 0
        for number, digest in enumerate(self._digests, start=1):
            matched = hmac.compare_digest(digest, given)
            found = number if matched else found
        return None if found == 0 else Caller(f"env:{found}", ALL_SCOPES)

    def accepts(self, token: str) -> bool:
        return self.caller_of(token) is not None


class SessionAuthenticator(Protocol):
    """Another way in than the ``Authorization`` header, for the paths it covers: the
    caller of the request's session, or an exception the app answers (a sign-in page)."""

    def covers(self, request: Request) -> bool: ...

    def caller_of(self, request: Request) -> Caller: ...


@dataclass(frozen=True, slots=True)
class Identified:
    """What a presented token is: its caller, or why it is refused (``problem``); the stored
    token's record when it is one (refused ones included, for their name)."""

    caller: Caller | None
    stored: TokenRecord | None
    problem: str | None


def identify(request: Request, token: str) -> Identified:
    """The caller of ``token``: an environment token, else a stored one that is active. The
    request's access record is given the token's name, even when it is refused (a revoked
    or expired stored token), and the stored token whose use is due to be marked."""
    record = access_record(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    caller = verifier.caller_of(token)
    if caller is not None:
        record.token_name = caller.name
        return Identified(caller, None, None)
    stored = _stored(request, token)
    if stored is None:
        return Identified(None, None, "the bearer token is not valid")
    record.token_name = stored.name
    problem = refusal(stored)
    if problem is not None:
        return Identified(None, stored, problem)
    record.stored_token = stored
    return Identified(Caller(stored.name, stored.scopes), stored, None)


def refuse_if_throttled(request: Request) -> str:
    """The client's address; 429 when it presented too many refused tokens lately."""
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    client = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(client)
    if wait is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many refused tokens from this address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return client


def require_token(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The FastAPI dependency: the caller of a request carrying a token the app accepts
    (or, without a header, a session of the app's :class:`SessionAuthenticator`)."""
    header = request.headers.get("authorization")
    sessions: SessionAuthenticator | None = getattr(request.app.state, "sessions", None)
    if header is None and sessions is not None and sessions.covers(request):
        return sessions.caller_of(request)
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    client = refuse_if_throttled(request)
    if header is None:
        raise _refused("a bearer token is required", None)
    match = _BEARER.fullmatch(header)
    if match is None:
        throttle.failed(client)
        raise _refused("the Authorization header is not 'Bearer <token>'", "invalid_request")
    identified = identify(request, match.group(1))
    if identified.caller is None:
        throttle.failed(client)
        raise _refused(identified.problem or "the bearer token is not valid", "invalid_token")
    return identified.caller


Authenticated = Annotated[Caller, Depends(require_token)]


def _stored(request: Request, token: str) -> TokenRecord | None:
    with reading(request) as connection:
        return find_token(connection, token)


def refusal(stored: TokenRecord) -> str | None:
    """Why the stored token ``stored`` is refused now (None: it is active)."""
    state = stored.state(datetime.now(UTC))
    if state is TokenState.REVOKED:
        return f"the bearer token {stored.name!r} was revoked"
    if state is TokenState.EXPIRED:
        assert stored.expires_at is not None
        expiry = stored.expires_at.isoformat().replace("+00:00", "Z")
        return f"the bearer token {stored.name!r} expired at {expiry}"
    return None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _refused(detail: str, error: str | None) -> HTTPException:
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        challenge += f', error="{error}"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": challenge},
    )
