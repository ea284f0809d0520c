"""The audit log's hash chain: a canonical encoding of a recorded event and its link hash.

Every audit row carries ``chain_hash``, linking it to the row before it in the same Kafka
partition (rows of a partition are chained in offset order)::

    chain_hash = hex(SHA-256(bytes.fromhex(previous_hash) || canonical_json(document)))

- ``previous_hash`` is the ``chain_hash`` of the partition's previous row, or
  :data:`GENESIS_HASH` (64 zeros) for the partition's first row; the 32 raw bytes are hashed.
- ``document`` is ``{"event": <event>, "offset": <int>, "partition": <int>, "topic": <str>}``
  with the Kafka topic, partition and offset the event was read from.
- ``<event>`` is the event record with its Avro field names (``envelope``, ``eventId``,
  ``scopedRoles`` ...), as the service validated it: UUIDs in lower-case hyphenated form,
  ``timestamp-micros`` values as UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six
  fractional digits), enums as their symbol, arrays as JSON arrays in stored order (role and
  CIDR sets are sorted and de-duplicated, IP addresses and CIDRs in canonical text form).
  Object members whose value is null are left out, so that adding an optional field to the
  schema does not change the hash of events recorded before.
- ``canonical_json`` is the RFC 8785 (JSON Canonicalization Scheme) text encoded in UTF-8:
  members sorted by name, no insignificant whitespace, non-ASCII characters unescaped. The
  documents hold only strings, integers, arrays and objects with ASCII member names, so this
  is exactly ``json.dumps(document, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")`` in Python.

Pure: no database, no Kafka. ``docs/forensics.md`` has a worked example.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.models import LifecycleEvent

GENESIS_HASH = "0" * 64
"""The previous hash of a partition's first row."""

HASH_LENGTH = 64
"""Hex digits of a chain hash (SHA-256)."""


def instant_text(instant: datetime) -> str:
    """An instant as canonical UTC text with microseconds: ``2026-03-03T10:00:00.000000Z``."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _json_value(value: Any) -> Any:
    """The canonical JSON value of a record value JSON has no encoding of."""
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no canonical form for {type(value).__name__} values")


def canonical_record(event: LifecycleEvent) -> dict[str, Any]:
    """The event record (Avro field names) without null members; datetimes and UUIDs as is."""
    return event.model_dump(mode="python", by_alias=True, exclude_none=True)


def canonical_document(event: LifecycleEvent, topic: str, partition: int, offset: int) -> bytes:
    """The canonical JSON bytes (UTF-8) hashed for ``event`` read at topic/partition/offset."""
    document = {
        "event": canonical_record(event),
        "offset": offset,
        "partition": partition,
        "topic": topic,
    }
    return orjson.dumps(
        document, default=_json_value, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    )


def link_hash(previous_hash: str, document: bytes) -> str:
    """``hex(SHA-256(bytes.fromhex(previous_hash) || document))``."""
    previous = bytes.fromhex(previous_hash)
    if len(previous) != HASH_LENGTH // 2:
        raise ValueError(f"previous hash must be {HASH_LENGTH} hex digits, got {previous_hash!r}")
    return hashlib.sha256(previous + document).hexdigest()


def chain_hash(
    previous_hash: str, event: LifecycleEvent, topic: str, partition: int, offset: int
) -> str:
    """The chain hash of ``event`` recorded at topic/partition/offset after ``previous_hash``."""
    return link_hash(previous_hash, canonical_document(event, topic, partition, offset))
