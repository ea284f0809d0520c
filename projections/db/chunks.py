"""Key lists split into chunks that fit every backend's bound-parameter limits."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TypeVar

CHUNK = 5_000
"""Keys per statement: well under the bound-parameter limits of SQLite and PostgreSQL."""

_Key = TypeVar("_Key")


def chunks(keys: Collection[_Key], size: int = CHUNK) -> Iterator[list[_Key]]:
    """``keys`` in order, ``size`` at a time."""
    ordered = list(keys)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
