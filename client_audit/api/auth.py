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
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

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


def require_token(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The FastAPI dependency: the caller of a request carrying a token the app accepts."""
    verifier: TokenVerifier = request.app.state.token_verifier
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    client = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(client)
    if wait is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many refused tokens from this address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    header = request.headers.get("authorization")
    if header is None:
        raise _refused("a bearer token is required", None)
    match = _BEARER.fullmatch(header)
    if match is None:
        throttle.failed(client)
        raise _refused("the Authorization header is not 'Bearer <token>'", "invalid_request")
    token = match.group(1)
    caller = verifier.caller_of(token)
    record = access_record(request)
    if caller is None:
        stored = _stored(request, token)
        problem = _refusal(stored)
        if stored is not None:
            record.token_name = stored.name
        if stored is None or problem is not None:
            throttle.failed(client)
            raise _refused(problem or "the bearer token is not valid", "invalid_token")
        record.stored_token = stored
        caller = Caller(stored.name, stored.scopes)
    record.token_name = caller.name
    return caller


Authenticated = Annotated[Caller, Depends(require_token)]


def _stored(request: Request, token: str) -> TokenRecord | None:
    with reading(request) as connection:
        return find_token(connection, token)


def _refusal(stored: TokenRecord | None) -> str | None:
    if stored is None:
        return None
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
