"""Every known writer schema of every event type, by record name and by fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas.models import EVENT_CLASSES_BY_SCHEMA

AVRO_DIR = Path(__file__).parent / "avro"
"""The current contract: one .avsc file per named type, named <full name>.avsc."""

HISTORY_DIR = Path(__file__).parent / "history"
"""Every released version of the contract, one folder each (v1, v2, ...), never edited."""


@dataclass(frozen=True)
class SchemaVersion:
    """One writer schema: the event record's full name, its expanded schema and its fingerprint."""

    name: str
    schema: dict[str, Any]
    canonical_form: str
    fingerprint: bytes
    release: str

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def load_event_schemas(directory: Path, release: str) -> dict[str, SchemaVersion]:
    """Load every event record schema in a folder, named types expanded in place."""
    versions = {}
    for name in EVENT_CLASSES_BY_SCHEMA:
        path = directory / f"{name}.avsc"
        if not path.exists():
            continue
        schema = load_schema(str(path))
        if not isinstance(schema, dict):
            raise ValueError(f"{path} does not hold a record schema")
        canonical = to_parsing_canonical_form(schema)
        digest = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
        versions[name] = SchemaVersion(name, schema, canonical, digest, release)
    return versions


def releases() -> list[Path]:
    """Folders of the released schema versions, oldest first (v1, v2, ..., v10)."""
    folders = [path for path in HISTORY_DIR.iterdir() if path.is_dir()]
    return sorted(folders, key=lambda path: int(path.name.lstrip("v")))


class SchemaRegistry:
    """Writer schemas for encoding (current) and decoding (current and every release)."""

    def __init__(self, current: dict[str, SchemaVersion], released: list[SchemaVersion]) -> None:
        self._current = current
        self._by_fingerprint = {version.fingerprint: version for version in released}
        self._by_fingerprint.update({version.fingerprint: version for version in current.values()})

    def current(self, name: str) -> SchemaVersion:
        return self._current[name]

    def by_fingerprint(self, digest: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(digest)

    def known_fingerprints(self) -> list[str]:
        return sorted(digest.hex() for digest in self._by_fingerprint)

    def canonical_json(self, name: str) -> str:
        """The current writer schema of an event type, expanded, as JSON text."""
        return json.dumps(self._current[name].schema, indent=2)


@cache
def default_registry() -> SchemaRegistry:
    """The registry of the schemas shipped with this package (built on first use)."""
    current = load_event_schemas(AVRO_DIR, "current")
    released = [
        version
        for folder in releases()
        for version in load_event_schemas(folder, folder.name).values()
    ]
    return SchemaRegistry(current, released)
