"""API bearer tokens: issued once, stored as a SHA-256 hash with a name and scopes.

A token is ``cat_`` followed by 43 URL-safe characters (256 random bits), so it needs no
slow hash: its SHA-256 cannot be reversed, and a stored hash is found by equality (then
compared again in constant time). The token itself is returned once by
:func:`issue_token` and stored nowhere. Names are never reused, revoked ones included.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, or_, select, update

from projections.access.errors import TokenRequestError, UnknownTokenError
from projections.db.tables import api_tokens
from projections.model.access import Scope

TOKEN_PREFIX = "cat_"  # noqa: S105 - a public prefix, not a secret
"""Marks a client-audit token, so a secret scanner can recognise a leaked one."""

TOKEN_BYTES = 32

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A token name: 1 to 64 letters, digits, ``.``, ``_``, ``-``; it starts with a letter or a
digit. (Environment tokens are named ``env:1``, ``env:2`` ..., which this never matches.)"""

USE_MARK_INTERVAL = timedelta(minutes=1)
"""A token's last use is written at most once per interval."""


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is stored of a token: everything but the token."""

    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return TokenState.EXPIRED
        return TokenState.ACTIVE

    def use_worth_marking(self, now: datetime) -> bool:
        """Whether a use at ``now`` should be written (the last one is a minute old)."""
        return self.last_used_at is None or now - self.last_used_at >= USE_MARK_INTERVAL


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: shown once, then only its record remains."""

    token: str = field(repr=False)
    record: TokenRecord


def token_digest(token: str) -> str:
    """The hex SHA-256 stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a token (None: it can)."""
    if NAME_PATTERN.fullmatch(name):
        return None
    return (
        f"{name[:80]!r} is not a token name: 1 to 64 letters, digits, '.', '_' or '-', "
        "starting with a letter or a digit"
    )


def issue_token(
    connection: Connection,
    name: str,
    scopes: Collection[Scope],
    now: datetime,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Store a new token named ``name`` holding ``scopes``; return it (shown once)."""
    problem = name_problem(name)
    if problem is not None:
        raise TokenRequestError(problem)
    if not scopes:
        raise TokenRequestError("a token needs at least one scope")
    if expires_at is not None and expires_at <= now:
        raise TokenRequestError(f"the expiry {expires_at.isoformat()} is not in the future")
    taken = connection.execute(select(api_tokens.c.name).where(api_tokens.c.name == name))
    if taken.first() is not None:
        raise TokenRequestError(
            f"a token named {name!r} exists already (names are never reused, revoked "
            "tokens' included); choose another name"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    record = TokenRecord(name, frozenset(scopes), now, expires_at, None, None)
    connection.execute(api_tokens.insert().values(
        name=name,
        token_hash=token_digest(token),
        scopes=sorted(scope.value for scope in record.scopes),
        created_at=now,
        expires_at=expires_at,
    ))
    return IssuedToken(token, record)


def list_tokens(connection: Connection) -> list[TokenRecord]:
    """Every token's record, by name."""
    rows = connection.execute(select(api_tokens).order_by(api_tokens.c.name)).mappings()
    return [_record(row) for row in rows]


def revoke_token(connection: Connection, name: str, now: datetime) -> TokenRecord:
    """Revoke the token ``name`` (a revoked one stays revoked as it was); its record."""
    row = connection.execute(
        select(api_tokens).where(api_tokens.c.name == name).with_for_update()
    ).mappings().first()
    if row is None:
        raise UnknownTokenError(f"no token is named {name[:80]!r}")
    if row["revoked_at"] is None:
        connection.execute(
            update(api_tokens).where(api_tokens.c.name == name).values(revoked_at=now)
        )
        return _record({**row, "revoked_at": now})
    return _record(row)


def find_token(connection: Connection, token: str) -> TokenRecord | None:
    """The record of the stored token ``token`` is (any state); None when none is."""
    digest = token_digest(token)
    row = connection.execute(
        select(api_tokens).where(api_tokens.c.token_hash == digest)
    ).mappings().first()
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    return _record(row)


def token_named(connection: Connection, name: str) -> TokenRecord | None:
    """The record of the stored token named ``name`` (any state); None when none is."""
    row = connection.execute(
        select(api_tokens).where(api_tokens.c.name == name)
    ).mappings().first()
    return None if row is None else _record(row)


def mark_used(connection: Connection, name: str, now: datetime) -> None:
    """Record a use of ``name`` at ``now``, unless one was recorded within the interval."""
    connection.execute(
        update(api_tokens)
        .where(
            api_tokens.c.name == name,
            or_(
                api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at <= now - USE_MARK_INTERVAL,
            ),
        )
        .values(last_used_at=now)
    )


def _record(row: Mapping[Any, Any]) -> TokenRecord:
    """The record of a stored row; scopes this version does not know are left out."""
    known = {scope.value: scope for scope in Scope}
    return TokenRecord(
        name=row["name"],
        scopes=frozenset(known[value] for value in row["scopes"] if value in known),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
