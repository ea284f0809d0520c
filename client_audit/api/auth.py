"""Bearer-token authentication of API requests against the configured tokens.

Tokens are compared as SHA-256 digests with :func:`hmac.compare_digest`, against every
configured token, so neither a token's length nor which token matched shows in the timing.
Missing, malformed and unknown tokens are all refused with 401 and ``WWW-Authenticate``; an
address that presented too many refused tokens is answered 429 for a while
(:mod:`client_audit.api.throttle`).

A request that passes is made by a :class:`Reader`: which configured token it holds, and
whether it presented it itself or through a console session. Routes take the reader as a
dependency, so that what a token may read can be decided per route.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client_audit.api.throttle import FailedAuthThrottle

REALM = "client-audit"

_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
"""RFC 6750 ``b64token`` credentials."""

bearer_scheme = HTTPBearer(auto_error=False, description="A token from CLIENT_AUDIT_API_TOKENS.")
"""Declares the scheme in the OpenAPI document; :class:`TokenVerifier` does the checking."""


@dataclass(frozen=True, slots=True)
class Reader:
    """Who a request reads as: the index of the configured token it holds, and whether it
    presented the token (``bearer``) or a console session opened with it (``session``)."""

    token_index: int
    via: Literal["bearer", "session"]


class TokenVerifier:
    """Accepts exactly the configured tokens."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if any(not token or not token.strip() for token in tokens):
            raise ValueError("API tokens must not be empty or blank")
        self._digests = tuple(_digest(token) for token in tokens)

    def accepts(self, token: str) -> bool:
        return self.index_of(token) is not None

    def index_of(self, token: str) -> int | None:
        """Which configured token ``token`` is (None: none), compared with every one."""
        given = _digest(token)
        found: int | None = None
        for index, digest in enumerate(self._digests):
            if hmac.compare_digest(digest, given):
                found = index
        return found


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


def bearer_reader(request: Request, header: str) -> Reader:
    """The reader of an ``Authorization`` header; 401 (counted against the address) when
    it is not a bearer token the app accepts."""
    verifier: TokenVerifier = request.app.state.token_verifier
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    client = refuse_if_throttled(request)
    match = _BEARER.fullmatch(header)
    if match is None:
        throttle.failed(client)
        raise _refused("the Authorization header is not 'Bearer <token>'", "invalid_request")
    index = verifier.index_of(match.group(1))
    if index is None:
        throttle.failed(client)
        raise _refused("the bearer token is not valid", "invalid_token")
    return Reader(index, "bearer")



def require_token(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Reader:
    """The API's dependency: the reader of a request carrying a token the app accepts."""
    refuse_if_throttled(request)
    header = request.headers.get("authorization")
    if header is None:
        raise _refused("a bearer token is required", None)
    return bearer_reader(request, header)


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
