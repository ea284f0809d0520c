"""What the audit log commits to for each entry: its canonical document, chain link and leaf.

The **entry document** of an audit row is the RFC 8785 (JSON Canonicalization Scheme) text,
encoded in UTF-8, of::

    {"anomalies": [...], "event": <event>, "format": "client-audit/audit-entry/v2",
     "offset": <int>, "partition": <int>, "topic": <str>}

- ``anomalies`` are the entry's flags (kind names, in the order the store lists them);
- ``event`` is the event record with its Avro field names (``envelope``, ``eventId``,
  ``scopedRoles`` ...) as the service validated it: UUIDs in lower-case hyphenated form,
  ``timestamp-micros`` values as UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six
  fractional digits), enums as their symbol, arrays in stored order (role and CIDR sets
  sorted and de-duplicated, addresses and CIDRs in canonical text). Members whose value is
  null are left out, so that adding an optional field to the schema does not change the
  documents of events recorded before;
- ``topic``, ``partition``, ``offset``: where the event was read from Kafka.

Every integer of the document is within RFC 8785's exact range (at most 2^53 - 1: the
contract bounds ``sequence`` so), and no string holds a character RFC 8785 would escape
differently from orjson (the contract refuses control characters), so orjson with sorted
keys writes exactly the RFC 8785 text (a test holds it against the ``rfc8785`` package).

Each row's **chain hash** links it to the row before it in its partition (offset order)::

    chain_hash = hex(SHA-256(bytes.fromhex(previous_hash) || document))

(the previous hash of a partition's first row is :data:`GENESIS_HASH`), and its **leaf
hash** in the partition's Merkle log (:mod:`projections.chain.merkle`) is
``SHA-256(0x00 || document)``. Pure: no database, no Kafka. ``docs/forensics.md`` has a
worked example.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from projections.chain.canonical import canonical_record
from schemas.models import LifecycleEvent

ENTRY_FORMAT = "client-audit/audit-entry/v2"
"""The ``format`` member of every entry document."""

GENESIS_HASH = "0" * 64
"""The previous hash of a partition's first row."""

HASH_LENGTH = 64
"""Hex digits of a chain hash (SHA-256)."""

SAFE_INTEGER = 2**53 - 1
"""The largest integer RFC 8785 writes exactly."""


class CanonicalFormError(ValueError):
    """A value the entry document cannot hold exactly (an integer beyond 2^53 - 1)."""


def instant_text(instant: datetime) -> str:
    """An instant as canonical UTC text with microseconds: ``2026-03-03T10:00:00.000000Z``."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _no_canonical_form(value: Any) -> Any:
    raise TypeError(f"no canonical form for {type(value).__name__} values")


def entry_document(
    event: LifecycleEvent,
    anomalies: Sequence[str],
    topic: str,
    partition: int,
    offset: int,
    payload: Mapping[str, Any] | None = None,
) -> bytes:
    """The canonical document (RFC 8785, UTF-8) of ``event`` recorded with ``anomalies`` at
    topic/partition/offset. ``payload``: the event's stored payload, when the caller has it
    already (:func:`projections.chain.canonical.canonical_record`)."""
    for name, value in (("partition", partition), ("offset", offset),
                        ("sequence", event.sequence)):
        if not -SAFE_INTEGER <= value <= SAFE_INTEGER:
            raise CanonicalFormError(f"{name} {value} is beyond RFC 8785's exact integers")
    document = {
        "anomalies": list(anomalies),
        "event": canonical_record(event, payload),
        "format": ENTRY_FORMAT,
        "offset": offset,
        "partition": partition,
        "topic": topic,
    }
    return orjson.dumps(
        document, default=_no_canonical_form,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME,
    )


def link_hash(previous_hash: str, document: bytes) -> str:
    """``hex(SHA-256(bytes.fromhex(previous_hash) || document))``."""
    previous = bytes.fromhex(previous_hash)
    if len(previous) != HASH_LENGTH // 2:
        raise ValueError(f"previous hash must be {HASH_LENGTH} hex digits, got {previous_hash!r}")
    return hashlib.sha256(previous + document).hexdigest()


def entry_leaf(document: bytes) -> bytes:
    """The Merkle leaf hash of an entry document: ``SHA-256(0x00 || document)``."""
    return hashlib.sha256(b"\x00" + document).digest()
