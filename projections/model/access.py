"""Who read what: the scopes a bearer token may hold, and one entry of the access log. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Scope(StrEnum):
    """What a bearer token may read (or do) through the API and the console."""

    READ_AUDIT_LOG = "read:audit-log"
    READ_CREDENTIALS = "read:credentials"
    READ_INTEGRITY = "read:integrity"
    ADMIN = "admin"


SCOPE_MEANINGS: dict[Scope, str] = {
    Scope.READ_AUDIT_LOG: "the audit log: trails, uses, denied uses, anomalies, histories",
    Scope.READ_CREDENTIALS: "credentials' current state",
    Scope.READ_INTEGRITY: "integrity evidence: the heads of the hash chains",
    Scope.ADMIN: "administration: the access log of the API",
}

ALL_SCOPES = frozenset(Scope)
"""What a token from the environment holds."""


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One request to the API or console, as the access log records it.

    ``route`` is the route template (``/v1/credentials/{credentialId:path}``), not the raw
    path; ``parameters`` holds the path and query parameters (secret-looking values
    redacted, every value text or a list of texts); ``rows_returned`` is the number of rows
    the response held (None when it holds none, as for a refusal).
    """

    at: datetime
    token_name: str | None
    method: str
    route: str
    status: int
    parameters: dict[str, Any] = field(default_factory=dict)
    rows_returned: int | None = None
    client_address: str | None = None
