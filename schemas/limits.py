"""The contract's limits: how long each field may be, which characters it may hold, and the
largest event accepted.

Both stores accept every event that passes (no NUL for PostgreSQL, nothing a terminal or a
spreadsheet would execute in an identifier), so the SQLite and PostgreSQL projections of one
stream always hold the same events, and whatever passes can be stored, paged, fetched and
exported. The character classes are spelled out as code points, not Unicode categories, so
that what is accepted does not depend on the Unicode version of the interpreter.
"""

from __future__ import annotations

import re

IDENTIFIER_MAX = 256
"""Characters in an id (credential, client, user, actor, correlation), a source or a role."""

TEXT_MAX = 1024
"""Characters in a display name or a deletion reason."""

ROLES_MAX = 5000
"""Scoped roles in one set."""

CIDRS_MAX = 5000
"""Allowed networks in one list."""

ADDRESS_TEXT_MAX = 64
"""Characters in a source address or a network as given (before it is parsed)."""

SEQUENCE_MAX = 2**53 - 1
"""The largest sequence number: within the integers RFC 8785 (the canonical JSON the audit
log hashes) writes exactly."""

EVENT_MAX_BYTES = 1024 * 1024
"""Bytes of one encoded event (the single-object Avro value), header included."""

_CONTROLS = "\x00-\x1f\x7f-\x9f"
"""C0 controls (NUL, TAB, LF, CR, ESC ...), DEL and the C1 controls."""

_SURROGATES = "\ud800-\udfff"
"""UTF-16 surrogates: not characters, and not encodable as UTF-8."""

_SEPARATORS = "\u2028\u2029"
"""Line and paragraph separators: line breaks to many readers."""

_INVISIBLE = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
"""Invisible and bidirectional formatting characters (zero-width spaces and joiners,
direction marks, embeddings, overrides and isolates, the byte-order mark, annotation
controls): they make two different identifiers look alike or reorder what a reader sees."""

_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"

FORBIDDEN_IN_TEXT = re.compile(f"[{_CONTROLS}{_SURROGATES}{_SEPARATORS}{_NONCHARACTERS}]")
"""What no text field may hold."""

FORBIDDEN_IN_IDENTIFIER = re.compile(
    f"[{_CONTROLS}{_SURROGATES}{_SEPARATORS}{_NONCHARACTERS}{_INVISIBLE}]"
)
"""What no identifier may hold: everything text may not, and invisible formatting."""


def describe(character: str) -> str:
    """A character as U+XXXX, for error messages (never the character itself)."""
    return f"U+{ord(character):04X}"
