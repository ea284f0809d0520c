"""The same search as a command line and as a curl call, to copy from the console.

The shell text is exactly what a shell needs: a query of printable characters is single-
quoted (:func:`shlex.quote`); one holding anything else (a direction override, say) is
written as bash ``$'…'`` text with every such character as a ``\\uXXXX`` escape, so what the
page shows is what is copied, and neither reorders nor hides anything. The curl URL is
percent-encoded, hence plain ASCII.
"""

from __future__ import annotations

import shlex
from urllib.parse import urlencode

TOKEN_VARIABLE = "CLIENT_AUDIT_TOKEN"  # noqa: S105 - the name of a variable, not a token


def _ansi_c(text: str) -> str:
    """bash ``$'…'`` quoting of ``text``, every non-printable or non-ASCII-safe character
    escaped."""
    escaped: list[str] = []
    for character in text:
        if character in "\\'":
            escaped.append("\\" + character)
        elif character.isprintable():
            escaped.append(character)
        elif ord(character) < 0x10000:
            escaped.append(f"\\u{ord(character):04x}")
        else:
            escaped.append(f"\\U{ord(character):08x}")
    return "$'" + "".join(escaped) + "'"


def shell_word(text: str) -> str:
    """``text`` as one shell word."""
    return shlex.quote(text) if text.isprintable() else _ansi_c(text)


def cli_command(query: str) -> str:
    """``client-audit search QUERY`` for ``query`` (after ``--`` when it starts with ``-``,
    so that it is never read as an option)."""
    separator = "-- " if query.startswith("-") else ""
    return f"client-audit search {separator}{shell_word(query)}"


def curl_command(base_url: str, query: str) -> str:
    """A curl call of ``GET /v1/search`` for ``query``, the token read from a variable."""
    url = f"{base_url.rstrip('/')}/v1/search?{urlencode({'q': query})}"
    return (
        f'curl -sS -H "Authorization: Bearer ${TOKEN_VARIABLE}" {shlex.quote(url)}'
    )
