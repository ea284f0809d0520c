"""Golden lifecycle messages: fixed events and the exact bytes they encode to.

``events.json`` beside this file holds, for each event below, the hex of its encoded message
(single-object header + Avro body). ``tests/unit/test_golden.py`` asserts that encoding each
event gives exactly those bytes and that decoding those bytes gives the event back, so any
change to the wire format, a schema, or the models' normalisation shows up as a diff.

Run this ONLY when a new schema version is intentionally released (after copying the
contract into ``schemas/history/vN+1``); never to make a failing golden test pass::

    .venv/bin/python -m tests.golden.regenerate

Events are spelled out in full here, independent of ``tests.builders``, so that changing a
builder default never changes a golden message.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.codec import EventCodec
from schemas.models import (
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    LifecycleEvent,
)

GOLDEN_PATH = Path(__file__).with_name("events.json")

AT = datetime(2026, 3, 3, 10, 0, 0, 123456, tzinfo=UTC)


def _envelope(
    event_type: str,
    sequence: int,
    actor: tuple[str, str] = ("USER", "user-0042"),
    source: str = "iam-api",
) -> dict[str, Any]:
    return {
        "eventId": uuid.UUID(f"00000000-0000-4000-8000-{sequence:012d}"),
        "eventType": event_type,
        "credentialId": "cred-golden-0001",
        "clientId": "client-7f3a9c",
        "userId": "user-0042",
        "occurredAt": AT.replace(hour=10 + sequence),
        "recordedAt": AT.replace(hour=10 + sequence, second=1),
        "sequence": sequence,
        "actor": {"kind": actor[0], "id": actor[1]},
        "correlationId": f"corr-{sequence}",
        "source": source,
    }


def golden_events() -> dict[str, LifecycleEvent]:
    """Name -> event; at least one of every event type, with optional fields both set and not."""
    return {
        "created": CredentialCreated.from_record(
            {
                "envelope": _envelope("CREATED", 1),
                "credential": {
                    "id": "cred-golden-0001",
                    "clientId": "client-7f3a9c",
                    "userId": "user-0042",
                    "displayName": "Données export ✓",
                    "scopedRoles": ["viewer", "storage.reader"],
                    "allowSourceCidr": ["2001:db8:1::/48", "10.20.0.0/16"],
                    "createdAt": AT.replace(hour=11),
                    "updatedAt": AT.replace(hour=11),
                    "expiresTime": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                },
            }
        ),
        "created-minimal": CredentialCreated.from_record(
            {
                "envelope": _envelope("CREATED", 1),
                "credential": {},
            }
        ),
        "roles-scoped": CredentialRolesScoped.from_record(
            {
                "envelope": _envelope("ROLES_SCOPED", 2, actor=("USER", "secops-admin")),
                "scopedRoles": ["admin", "viewer"],
            }
        ),
        "updated": CredentialUpdated.from_record(
            {
                "envelope": _envelope("UPDATED", 3),
                "allowSourceCidr": [],
                "expiresTime": datetime(2026, 4, 1, tzinfo=UTC),
            }
        ),
        "used-allowed": CredentialUsed.from_record(
            {
                "envelope": _envelope("USED", 4, source="api-gateway"),
                "sourceIp": "10.20.1.7",
                "usedAt": AT.replace(hour=14),
                "outcome": "ALLOWED",
            }
        ),
        "used-denied": CredentialUsed.from_record(
            {
                "envelope": _envelope("USED", 5, source="api-gateway"),
                "sourceIp": "2001:db8:ffff::9",
                "usedAt": AT.replace(hour=15),
                "outcome": "DENIED",
                "denialReason": "OUTSIDE_ALLOWED_CIDRS",
            }
        ),
        "expired": CredentialExpired.from_record(
            {
                "envelope": _envelope(
                    "EXPIRED", 6, actor=("SYSTEM", "expiry-sweeper"), source="expiry-sweeper"
                ),
                "expiresTime": datetime(2026, 4, 1, tzinfo=UTC),
            }
        ),
        "deleted": CredentialDeleted.from_record(
            {
                "envelope": _envelope("DELETED", 7),
                "deletedAt": AT.replace(hour=17),
                "reason": "rotated",
            }
        ),
        "deleted-no-reason": CredentialDeleted.from_record(
            {
                "envelope": _envelope("DELETED", 8),
                "deletedAt": AT.replace(hour=18),
            }
        ),
    }


def golden_document(codec: EventCodec | None = None) -> dict[str, Any]:
    """The content of events.json for the current schemas."""
    codec = codec or EventCodec()
    entries = {}
    for name, event in golden_events().items():
        writer = codec.writer_of(event)
        entries[name] = {
            "schema": event.schema_name,
            "fingerprint": writer.fingerprint_hex,
            "hex": codec.encode(event).hex(),
        }
    return {
        "comment": "Generated by tests/golden/regenerate.py; only regenerate for a new schema "
        "version. Each hex value is one complete Kafka message value.",
        "events": entries,
    }


def main() -> None:
    GOLDEN_PATH.write_text(
        json.dumps(golden_document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {GOLDEN_PATH}")  # noqa: T201


if __name__ == "__main__":
    main()
