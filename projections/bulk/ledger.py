"""The event ids a bulk replay has recorded, each with a digest of its stored payload.

A repeated event id is a re-delivery when its payload is the same (skipped) and a
conflicting fact when it is not (refused), as in the live store; the ledger answers which,
without reading the audit log. Up to ``memory_limit`` ids are held in a dict (about 170
bytes each); beyond, every id moves to a temporary SQLite file beside, so memory stays
bounded whatever the length of the topic.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
import uuid
from collections.abc import Collection, Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson

MEMORY_LIMIT = 8_000_000
"""Event ids held in memory before the ledger spills to disk (about 1.4 GB)."""

Digest = bytes


def payload_digest(payload: dict[str, Any]) -> Digest:
    """A 16-byte digest of a stored payload (equal payloads, equal digests)."""
    return hashlib.blake2b(orjson.dumps(payload), digest_size=16).digest()


class EventLedger:
    """Recorded event ids and their payload digests, in memory then spilled to a file."""

    def __init__(self, memory_limit: int = MEMORY_LIMIT) -> None:
        self.memory_limit = memory_limit
        self._memory: dict[bytes, Digest] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._spill: sqlite3.Connection | None = None

    @property
    def spilled(self) -> bool:
        return self._spill is not None

    def __len__(self) -> int:
        if self._spill is None:
            return len(self._memory)
        return int(self._spill.execute("SELECT count(*) FROM ledger").fetchone()[0])

    def known(self, event_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Digest]:
        """The digest of each of ``event_ids`` already recorded."""
        keys = {event_id.bytes: event_id for event_id in event_ids}
        if self._spill is None:
            return {keys[key]: self._memory[key] for key in keys if key in self._memory}
        found: dict[uuid.UUID, Digest] = {}
        lookup = "SELECT digest FROM ledger WHERE event_id = ?"
        for key, event_id in keys.items():
            row = self._spill.execute(lookup, (key,)).fetchone()
            if row is not None:
                found[event_id] = row[0]
        return found

    def record(self, digests: Iterable[tuple[uuid.UUID, Digest]]) -> None:
        """Remember recorded event ids with their payload digests."""
        rows = ((event_id.bytes, digest) for event_id, digest in digests)
        if self._spill is None:
            self._memory.update(rows)
            if len(self._memory) > self.memory_limit:
                self._spill_to_disk()
            return
        self._spill.execute("BEGIN")
        self._spill.executemany("INSERT INTO ledger VALUES (?, ?)", rows)
        self._spill.execute("COMMIT")

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        if self._folder is not None:
            with suppress(OSError):
                self._folder.cleanup()
            self._folder = None
        self._memory = {}

    def _spill_to_disk(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="client-audit-bulk-")
        spill = sqlite3.connect(Path(self._folder.name) / "ledger.db", isolation_level=None)
        spill.execute("PRAGMA journal_mode=OFF")
        spill.execute("PRAGMA synchronous=OFF")
        spill.execute(
            "CREATE TABLE ledger (event_id BLOB PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID"
        )
        spill.execute("BEGIN")
        spill.executemany("INSERT INTO ledger VALUES (?, ?)", self._memory.items())
        spill.execute("COMMIT")
        self._spill = spill
        self._memory = {}

