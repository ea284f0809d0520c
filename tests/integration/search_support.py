"""The history the search tests read: the query tests' hand-written history plus three
credentials whose display names exercise free words (other scripts, LIKE wildcards, a
right-to-left override, no name at all). Shared by the query, API and CLI search tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from projections.db.engine import create_engine_for
from projections.queries import AuditEntry
from schemas.models import LifecycleEvent
from tests.builders import build_created, build_updated, build_used
from tests.integration.test_queries import at, fresh_database, hand_written_history
from tests.seeding import DATABASE_KINDS, seed, topic_name

F, G, H = "cred-f", "cred-g", "cred-h"

HOSTILE_NAME = "\u202eyek yolped <script>alert(1)</script> & \"x\""
"""A display name the contract allows: a right-to-left override, markup and quotes."""


def _extra_history() -> list[tuple[str, LifecycleEvent]]:
    return [
        ("F1", build_created(credential_id=F, client_id="client-f", user_id="frank",
                             sequence=1, occurred_at=at(8), display_name="Müller's LAPTOP 50%_off",
                             scoped_roles=("auditor",), allow_source_cidr=(), expires_time=None,
                             correlation_id="req-shared")),
        ("G1", build_created(credential_id=G, client_id="client-g", user_id="frank",
                             sequence=1, occurred_at=at(8.5), display_name=HOSTILE_NAME,
                             scoped_roles=("auditor", "admin"), allow_source_cidr=(),
                             expires_time=None, correlation_id="req-shared")),
        ("F2", build_used(credential_id=F, client_id="client-f", user_id="frank", sequence=2,
                          occurred_at=at(9), source_ip="203.0.113.9")),
        ("H1", build_created(credential_id=H, client_id="client-h", user_id="frank",
                             sequence=1, occurred_at=at(9.5), display_name=None,
                             scoped_roles=(), allow_source_cidr=(), expires_time=None)),
        ("G2", build_updated(credential_id=G, client_id="client-g", user_id="frank",
                             sequence=2, occurred_at=at(10), display_name="build bot")),
    ]


def search_history() -> list[tuple[str, LifecycleEvent]]:
    return hand_written_history() + _extra_history()


NAMES = {(event.credential_id, event.sequence): name for name, event in search_history()}
ALL = [name for name, _event in search_history()]
NEWEST_FIRST = list(reversed(ALL))


def names(entries: Sequence[AuditEntry], newest_first: bool = True) -> list[str]:
    """The entries' names, after checking they come in strictly monotonic position order."""
    positions = [entry.position for entry in entries]
    assert positions == sorted(set(positions), reverse=newest_first), positions
    return [NAMES[(entry.credential_id, entry.sequence)] for entry in entries]


def newest_first(expected: list[str]) -> list[str]:
    return list(reversed(expected))


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def search_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of each kind holding the projected search history (no Kafka)."""
    with fresh_database(request.param, request) as url:
        result = seed(url, [event for _name, event in search_history()],
                      topic=topic_name("search"))
        assert result.applied == len(ALL)
        yield url


@pytest.fixture(scope="module")
def search_engine(search_url: str) -> Iterator[sa.Engine]:
    engine = create_engine_for(search_url)
    yield engine
    engine.dispose()


FILTER_QUALIFIERS = {
    "credentialId": "credential", "userId": "user", "actorId": "actor", "eventType": "type",
    "from": "after", "to": "before", "network": "network", "outcome": "outcome",
    "reason": "reason", "kind": "anomaly",
}
"""The search qualifier of each filter parameter of the other questions."""


def as_query(given: dict[str, Any], *implied: str) -> str:
    """A filter of the other questions (API names) written in the search language."""
    terms = list(implied)
    for name, value in given.items():
        for each in value if isinstance(value, list) else [value]:
            text = each.isoformat() if isinstance(each, datetime) else str(each)
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            terms.append(f'{FILTER_QUALIFIERS[name]}:"{quoted}"')
    return " ".join(terms)
