"""One log line per HTTP request, with every secret-looking query value redacted.

(The access log proper, hash-chained in the database, is written by
:mod:`client_audit.api.access_recorder`; this is the process log's line.)

Bearer tokens belong in the Authorization header, which is never logged; but a client may
send one as ``?access_token=…`` (refused, yet it would be written to an access log). Query
values whose parameter name mentions a token, key, secret, password, session or
credential-like word are written as ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

from starlette.types import Scope

from client_audit.display import visible

log = logging.getLogger("client_audit.api.access")

SECRET_NAMES = re.compile(r"token|key|secret|pass|auth|session|cookie|bearer|signature", re.I)
REDACTED = "[redacted]"
QUERY_SHOWN = 1024
"""Characters of a (redacted) query string written to the log."""


def redacted_query(query: bytes) -> str:
    """The query string with the values of secret-looking parameters replaced."""
    if not query:
        return ""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    shown = [(name, REDACTED if SECRET_NAMES.search(name) else value) for name, value in pairs]
    return visible(urlencode(shown)[:QUERY_SHOWN])


def log_access(scope: Scope, status: int, seconds: float, token_name: str | None) -> None:
    """The access-log line of one answered request."""
    client = scope.get("client")
    query = redacted_query(scope.get("query_string", b""))
    log.info(
        "%s %s%s %d %.1fms client=%s token=%s",
        scope.get("method"),
        visible(str(scope.get("path", ""))[:QUERY_SHOWN]),
        f"?{query}" if query else "",
        status,
        seconds * 1000,
        client[0] if client else "-",
        token_name or "-",
    )
