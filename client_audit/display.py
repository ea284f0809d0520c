"""Text fit for a terminal or a log line: every character that is not printable, escaped.

Display names, ids and reasons are written by upstream systems, which may be hostile: an
escape sequence (``\\x1b[2J``), an 8-bit CSI, a carriage return or a right-to-left override
in a table or a log line could clear the screen, rewrite what was printed before, or reorder
what an investigator reads. :func:`visible` writes each such character as an escape
(``\\x1b``, ``\\u202e``), so it is shown rather than obeyed; :func:`visible_json` does the
same inside JSON text with JSON's own escapes.
"""

from __future__ import annotations


def _python_escape(character: str) -> str:
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _json_escape(character: str) -> str:
    code = ord(character)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible(text: str) -> str:
    """``text`` with every non-printable character (controls, format and separator
    characters, surrogates, unassigned code points) written as a Python-style escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _python_escape(c) for c in text)


def visible_json(text: str) -> str:
    """JSON text with every non-printable character left in it written as a JSON escape
    (the result is the same JSON value)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _json_escape(c) for c in text)
