"""Opaque pagination cursors: where the next page starts, as URL-safe text.

A cursor is the base64url text of a small JSON object. Audit cursors hold the position of
the last entry returned and the *horizon*: the last position that existed when the first
page was read. Later pages never go past the horizon, so a walk through the pages is a
stable snapshot however many events are appended meanwhile. A walk newest first says so in
its cursor (``newest_first``) and continues below the last position returned. Credential
cursors hold the last credential id returned.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projections.queries.values import MAX_TEXT_LENGTH

MAX_POSITION = 2**63 - 1
"""The largest audit log position (a signed 64-bit key)."""

MAX_CURSOR_LENGTH = 2048

_INVALID = "is not a cursor this service issued for this question"


class _CursorModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        """The cursor as opaque, URL-safe text."""
        document = self.model_dump_json(exclude_none=True).encode()
        return base64.urlsafe_b64encode(document).decode().rstrip("=")


class AuditCursor(_CursorModel):
    """Resume an audit-entry walk past ``after`` (the last position returned); never go past
    ``horizon``. Oldest first unless ``newest_first``."""

    kind: Literal["audit"] = "audit"
    after: int = Field(ge=0, le=MAX_POSITION, strict=True)
    horizon: int = Field(ge=0, le=MAX_POSITION, strict=True)
    newest_first: Literal[True] | None = None

    @property
    def descending(self) -> bool:
        return self.newest_first is True


class CredentialCursor(_CursorModel):
    """Resume a credential walk after the credential id ``after``."""

    kind: Literal["credentials"] = "credentials"
    after: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, strict=True)


def _document(text: str) -> Any:
    if len(text) > MAX_CURSOR_LENGTH or not text.isascii():
        raise ValueError(_INVALID)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        raise ValueError(_INVALID) from None


def decode_audit_cursor(value: object) -> AuditCursor:
    """The audit cursor ``value`` encodes; ValueError if it is not one."""
    if isinstance(value, AuditCursor):
        return value
    if not isinstance(value, str):
        raise ValueError(_INVALID)
    try:
        cursor = AuditCursor.model_validate(_document(value))
    except ValidationError:
        raise ValueError(_INVALID) from None
    if cursor.after > cursor.horizon:
        raise ValueError(_INVALID)
    return cursor


def decode_credential_cursor(value: object) -> CredentialCursor:
    """The credential cursor ``value`` encodes; ValueError if it is not one."""
    if isinstance(value, CredentialCursor):
        return value
    if not isinstance(value, str):
        raise ValueError(_INVALID)
    try:
        cursor = CredentialCursor.model_validate(_document(value))
    except ValidationError:
        raise ValueError(_INVALID) from None
    if "\x00" in cursor.after:
        raise ValueError(_INVALID)
    return cursor
