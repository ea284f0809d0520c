"""Migrations carry frozen copies of the code they run; the copies agree with what they froze.

The v1 chain hashing is frozen in revisions 0002, 0003 and 0004 (for its downgrade): all
three give the v1 hash the documentation pinned. Revision 0004's v2 entry documents, built
from stored payload JSON alone, are held against the store's live hashing, on events with
every optional field present and absent, non-ASCII text, zero and non-zero microseconds and
both address families.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from projections.chain.hashing import GENESIS_HASH, entry_document, entry_leaf, link_hash
from projections.db.rows import payload_of
from schemas.models import (
    Actor,
    ActorKind,
    CredentialUsed,
    DenialReason,
    Envelope,
    EventType,
    LifecycleEvent,
    UseOutcome,
)
from tests.builders_projection import TOPIC, History
from tests.migration_support import revision_module

V1_HASH = "24c1fc32abb2a79679b17ece50a02cf84c5e9643ee31208245c6e3910148bdf2"
"""The v1 chain hash of the documented use (partition 3, offset 41, after genesis)."""


def documented_use() -> CredentialUsed:
    return CredentialUsed(
        envelope=Envelope(
            event_id=uuid.UUID("0b3c2d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"), event_type=EventType.USED,
            credential_id="cred-1", client_id="client-1", user_id="alice",
            occurred_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
            recorded_at=datetime(2026, 3, 3, 12, 0, 0, 250000,
                                 tzinfo=timezone(timedelta(hours=2))),
            sequence=4, actor=Actor(kind=ActorKind.USER, id="alice"), correlation_id="req-7",
            source="api-gateway",
        ),
        source_ip="2001:DB8::7", used_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        outcome=UseOutcome.ALLOWED,
    )


def varied_events() -> list[LifecycleEvent]:
    history = History("cred-ü-1", user_id="ユーザー", start=datetime(2026, 3, 3, 10, tzinfo=UTC))
    return [
        history.created(display_name="Clé d'accès ✓", scoped_roles=("admin", "reader"),
                        allow_source_cidr=("10.0.0.0/8", "2001:db8::/32"),
                        expires_time=datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        history.created(display_name=None, scoped_roles=None, allow_source_cidr=None,
                        with_created_at=False),
        history.roles_scoped(),
        history.roles_scoped("reader", "écrivain"),
        history.updated(display_name="renamed"),
        history.updated(allow_source_cidr=(), expires_time=datetime(2026, 6, 1, tzinfo=UTC)),
        history.used("10.1.2.3"),
        history.used("2001:db8::7", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS),
        history.used("::ffff:10.1.2.3", at=datetime(2026, 3, 4, 1, 2, 3, 456789, tzinfo=UTC)),
        history.expired(),
        history.deleted(reason="left the company"),
        history.deleted(at=datetime(2026, 3, 5, tzinfo=UTC) + timedelta(microseconds=7)),
    ]


def stored(event: LifecycleEvent) -> dict[str, object]:
    """The payload as the store keeps it and a migration reads it back."""
    loaded: dict[str, object] = json.loads(json.dumps(payload_of(event)))
    return loaded


def test_every_frozen_v1_hashing_gives_the_documented_v1_hash() -> None:
    payload = stored(documented_use())
    v2 = revision_module("0002_audit_chain.py").chain_hash(GENESIS_HASH, payload, TOPIC, 3, 41)
    v3 = revision_module("0003_canonical_addresses.py").chain_hash(
        GENESIS_HASH, payload, TOPIC, 3, 41
    )
    v4, _ = revision_module("0004_merkle_evidence.py").v1_link(
        GENESIS_HASH, payload, [], TOPIC, 3, 41
    )
    assert v2 == v3 == v4 == V1_HASH


@pytest.mark.parametrize("event", varied_events(), ids=lambda event: event.event_type.value)
@pytest.mark.parametrize("flags", [[], ["NEW_SOURCE_IP", "SEQUENCE_GAP"]])
def test_revision_0004_builds_the_stores_v2_documents_from_stored_payloads(
    event: LifecycleEvent, flags: list[str]
) -> None:
    frozen = revision_module("0004_merkle_evidence.py")
    previous = "ab" * 32
    for offset, before in ((0, GENESIS_HASH), (41, previous)):
        live = entry_document(event, flags, TOPIC, 3, offset)
        assert frozen.v2_document(stored(event), flags, TOPIC, 3, offset) == live
        assert frozen.v2_link(before, stored(event), flags, TOPIC, 3, offset) == (
            link_hash(before, live), entry_leaf(live)
        )
