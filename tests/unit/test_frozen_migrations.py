"""Migrations carry frozen copies of the code they run; the copies agree with what they froze.

The chain hashing of revision 0002 works on stored payload JSON alone. Here it is held
against the store's hashing of the v1 chain, on events with every optional field present
and absent, non-ASCII text, zero and non-zero microseconds and both address families.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from projections.chain.hashing import GENESIS_HASH, chain_hash
from projections.db.rows import payload_of
from schemas.models import DenialReason, LifecycleEvent
from tests.builders_projection import TOPIC, History
from tests.migration_support import revision_module


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
        history.used("192.0.2.1", at=datetime(2026, 3, 4, 1, 2, 3, 456789, tzinfo=UTC)),
        history.expired(),
        history.deleted(reason="left the company"),
        history.deleted(at=datetime(2026, 3, 5, tzinfo=UTC) + timedelta(microseconds=7)),
    ]


@pytest.mark.parametrize("event", varied_events(), ids=lambda event: event.event_type.value)
def test_revision_0002_hashes_stored_payloads_as_the_v1_chain(event: LifecycleEvent) -> None:
    frozen = revision_module("0002_audit_chain.py")
    stored = json.loads(json.dumps(payload_of(event)))
    previous = "ab" * 32
    for offset, before in ((0, GENESIS_HASH), (41, previous)):
        assert frozen.chain_hash(before, stored, TOPIC, 3, offset) == chain_hash(
            before, event, TOPIC, 3, offset
        )
