"""The audit chain: the documented canonical encoding and hash, and finding the first break."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.chain.hashing import (
    GENESIS_HASH,
    CanonicalFormError,
    entry_document,
    entry_leaf,
    instant_text,
    link_hash,
)
from projections.chain.heads import ChainHead
from projections.chain.walk import ChainProblem, ChainRow, walk_partition
from projections.model.anomalies import Anomaly
from schemas.models import (
    Actor,
    ActorKind,
    CredentialDeleted,
    CredentialUsed,
    Envelope,
    EventType,
    UseOutcome,
)
from tests.builders_projection import History

TOPIC = "client-audit.credential-lifecycle.v1"

DOCUMENT = (
    '{"anomalies":["NEW_SOURCE_IP"],"event":{"envelope":{"actor":{"id":"alice","kind":"USER"},'
    '"clientId":"client-1","correlationId":"req-7","credentialId":"cred-1",'
    '"eventId":"0b3c2d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e","eventType":"USED",'
    '"occurredAt":"2026-03-03T10:00:00.000000Z","recordedAt":"2026-03-03T10:00:00.250000Z",'
    '"sequence":4,"source":"api-gateway","userId":"alice"},"outcome":"ALLOWED",'
    '"sourceIp":"2001:db8::7","usedAt":"2026-03-03T10:00:00.000000Z"},'
    '"format":"client-audit/audit-entry/v2","offset":41,"partition":3,'
    '"topic":"client-audit.credential-lifecycle.v1"}'
)
"""The entry document of :func:`used` flagged NEW_SOURCE_IP at partition 3, offset 41
(docs/forensics.md)."""

HASH = "2bbf7d255110a3c4ccc78ca9acbbef01d60acdaae38691d63f840d03e74abdb7"
LEAF = "24bafb177f65a22b78a22db03f0b3d93928bcca14e762b0da18925458cd4a1c5"


def envelope(event_type: EventType = EventType.USED, **changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "event_id": uuid.UUID("0b3c2d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"),
        "event_type": event_type,
        "credential_id": "cred-1",
        "client_id": "client-1",
        "user_id": "alice",
        "occurred_at": datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        "recorded_at": datetime(2026, 3, 3, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
        "sequence": 4,
        "actor": Actor(kind=ActorKind.USER, id="alice"),
        "correlation_id": "req-7",
        "source": "api-gateway",
    }
    values.update(changes)
    return Envelope(**values)


def used() -> CredentialUsed:
    return CredentialUsed(
        envelope=envelope(),
        source_ip="2001:DB8::7",
        used_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        outcome=UseOutcome.ALLOWED,
    )


def document_of(event: object = None, anomalies: tuple[str, ...] = ("NEW_SOURCE_IP",),
                topic: str = TOPIC, partition: int = 3, offset: int = 41) -> bytes:
    return entry_document(event or used(), list(anomalies), topic, partition, offset)  # type: ignore[arg-type]


def test_the_entry_document_is_the_documented_rfc8785_text() -> None:
    document = document_of()
    assert document == DOCUMENT.encode("utf-8")
    assert document == rfc8785.dumps(json.loads(document))


def test_chain_and_leaf_hashes_are_the_documented_sha256s() -> None:
    expected = hashlib.sha256(bytes(32) + DOCUMENT.encode("utf-8")).hexdigest()
    assert link_hash(GENESIS_HASH, document_of()) == expected == HASH
    leaf = hashlib.sha256(b"\x00" + DOCUMENT.encode("utf-8")).digest()
    assert entry_leaf(document_of()) == leaf
    assert leaf.hex() == LEAF
    following = link_hash(HASH, document_of(offset=42))
    document = DOCUMENT.replace('"offset":41', '"offset":42').encode()
    assert following == hashlib.sha256(bytes.fromhex(HASH) + document).hexdigest()


def test_null_members_are_left_out_and_text_is_utf8_unescaped() -> None:
    deleted = CredentialDeleted(
        envelope=envelope(
            EventType.DELETED, user_id="zoë", actor=Actor(kind=ActorKind.USER, id="zoë")
        ),
        deleted_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        reason=None,
    )
    document = document_of(deleted, (), TOPIC, 0, 0).decode("utf-8")
    assert "reason" not in document
    assert '"userId":"zoë"' in document
    assert '"anomalies":[]' in document
    assert " " not in document


def test_every_position_field_and_every_flag_changes_the_hash() -> None:
    hashes = {
        link_hash(GENESIS_HASH, document_of()),
        link_hash(GENESIS_HASH, document_of(offset=40)),
        link_hash(GENESIS_HASH, document_of(partition=2)),
        link_hash(GENESIS_HASH, document_of(topic="other")),
        link_hash(GENESIS_HASH, document_of(anomalies=())),
        link_hash(GENESIS_HASH, document_of(anomalies=("NEW_SOURCE_IP", "SEQUENCE_GAP"))),
        link_hash(HASH, document_of()),
    }
    assert len(hashes) == 7


def test_integers_beyond_rfc8785s_exact_range_are_refused() -> None:
    with pytest.raises(CanonicalFormError, match="offset"):
        document_of(offset=2**53)


_EVENTS = st.builds(
    lambda name, roles, flags: (name, roles, flags),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                   blacklist_characters="\ufffe\uffff"), max_size=40),
    st.lists(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FFF,
                                            blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp",
                                                                  "Zs")),
                     min_size=1, max_size=12), max_size=5),
    st.lists(st.sampled_from([kind.value for kind in Anomaly]), max_size=4, unique=True),
)


@settings(max_examples=300, deadline=None)
@given(_EVENTS, st.integers(0, 2**53 - 1), st.integers(0, 2**31 - 1))
def test_orjson_writes_exactly_what_the_rfc8785_reference_writes(
    fields: tuple[str, list[str], list[str]], offset: int, partition: int
) -> None:
    name, roles, flags = fields
    history = History("cred-ü", user_id="ユーザー")
    try:
        event = history.created(display_name=name, scoped_roles=roles)
    except ValueError:
        return
    document = entry_document(event, flags, TOPIC, partition, offset)
    assert document == rfc8785.dumps(json.loads(document))


def test_instants_are_utc_with_six_fractional_digits() -> None:
    plus_two = timezone(timedelta(hours=2))
    noon = datetime(2026, 3, 3, 12, 0, tzinfo=plus_two)
    assert instant_text(noon) == "2026-03-03T10:00:00.000000Z"
    micro = datetime(2026, 3, 3, 10, 0, 0, 7, tzinfo=UTC)
    assert instant_text(micro) == "2026-03-03T10:00:00.000007Z"


@pytest.mark.parametrize("previous", ["", "00", "zz" * 32, "0" * 66])
def test_a_malformed_previous_hash_is_refused(previous: str) -> None:
    with pytest.raises(ValueError):
        link_hash(previous, b"{}")


# --- walking a partition -------------------------------------------------------------


def chained(count: int, start: int = 0) -> list[ChainRow]:
    """``count`` correctly linked rows at consecutive offsets (hashes of fake documents)."""
    rows, previous = [], GENESIS_HASH
    for index in range(count):
        offset = start + index
        current = link_hash(previous, f"row {offset}".encode())
        rows.append(ChainRow(100 + index, f"event-{offset}", offset, previous, current))
        previous = current
    return rows


def head_of(rows: list[ChainRow]) -> ChainHead:
    return ChainHead(rows[-1].offset, rows[-1].chain_hash, len(rows))


def test_an_intact_chain_walks_to_its_head() -> None:
    rows = chained(5)
    result = walk_partition(rows, head_of(rows))
    assert result.first_break is None
    assert (result.rows, result.last_offset, result.last_hash) == (5, 4, rows[-1].chain_hash)


def test_an_empty_partition_without_head_is_intact() -> None:
    assert walk_partition([], None).first_break is None


def test_a_row_whose_content_fails_is_altered() -> None:
    rows = chained(5)
    rows[2] = ChainRow(102, "event-2", 2, rows[2].previous_hash, rows[2].chain_hash, "bad")
    found = walk_partition(rows, head_of(chained(5))).first_break
    assert found is not None
    assert (found.problem, found.offset, found.detail) == (ChainProblem.ALTERED, 2, "bad")


def test_a_rehashed_row_is_altered_when_no_offset_is_missing() -> None:
    rows = chained(5)
    original = rows[2]
    forged = link_hash(original.previous_hash, b"forged")
    rows[2] = ChainRow(102, "event-2", 2, original.previous_hash, forged)
    found = walk_partition(rows, head_of(chained(5))).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.ALTERED, 2)


def test_a_removed_middle_row() -> None:
    rows = chained(6)
    head = head_of(rows)
    del rows[3]
    found = walk_partition(rows, head).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.REMOVED, 4)


def test_a_removed_first_row() -> None:
    rows = chained(4)
    head = head_of(rows)
    found = walk_partition(rows[1:], head).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.REMOVED, 1)


def test_removed_last_rows_are_found_through_the_head() -> None:
    rows = chained(5)
    found = walk_partition(rows[:3], head_of(rows)).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.REMOVED, 4)


def test_rows_without_any_head_were_cut_from_their_head() -> None:
    found = walk_partition(chained(2), None).first_break
    assert found is not None
    assert found.problem is ChainProblem.REMOVED


def spaced(rows: list[ChainRow]) -> list[ChainRow]:
    """The rows at even offsets (0, 2, 4 ...), as if odd offsets went to the dead-letter topic."""
    return [
        ChainRow(row.position, row.event_id, row.offset * 2, row.previous_hash, row.chain_hash)
        for row in rows
    ]


def test_an_inserted_row_that_links_properly_is_found_by_the_row_after_it() -> None:
    rows = spaced(chained(4))
    before = rows[1]
    forged = ChainRow(999, "forged", 3, before.chain_hash, link_hash(before.chain_hash, b"forged"))
    found = walk_partition([*rows[:2], forged, *rows[2:]], head_of(rows)).first_break
    assert found is not None
    assert (found.problem, found.offset, found.event_id) == (ChainProblem.INSERTED, 3, "forged")


def test_an_inserted_row_with_a_foreign_link() -> None:
    rows = spaced(chained(4))
    forged = ChainRow(999, "forged", 3, GENESIS_HASH, link_hash(GENESIS_HASH, b"forged"))
    found = walk_partition([*rows[:2], forged, *rows[2:]], head_of(rows)).first_break
    assert found is not None
    assert (found.problem, found.offset, found.event_id) == (ChainProblem.INSERTED, 3, "forged")


def test_a_removed_row_between_spaced_offsets_is_not_taken_for_a_rehash() -> None:
    rows = spaced(chained(4))
    found = walk_partition([*rows[:2], *rows[3:]], head_of(rows)).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.REMOVED, 6)


def test_a_row_duplicating_an_offset_is_inserted() -> None:
    rows = chained(3)
    forged = ChainRow(999, "forged", 1, "ab" * 32, link_hash("ab" * 32, b"forged"))
    found = walk_partition([rows[0], rows[1], forged, rows[2]], head_of(rows)).first_break
    assert found is not None
    assert (found.problem, found.event_id) == (ChainProblem.INSERTED, "forged")


def test_a_row_appended_after_the_head_is_inserted() -> None:
    rows = chained(3)
    head = head_of(rows)
    extra = ChainRow(999, "forged", 3, rows[-1].chain_hash, link_hash(rows[-1].chain_hash, b"x"))
    found = walk_partition([*rows, extra], head).first_break
    assert found is not None
    assert (found.problem, found.offset) == (ChainProblem.INSERTED, 3)


def test_chain_hashes_of_a_real_history_link_up() -> None:
    h = History()
    events = [h.created(), h.used("10.0.0.1"), h.deleted()]
    previous = GENESIS_HASH
    rows = []
    for offset, event in enumerate(events):
        current = link_hash(previous, entry_document(event, [], TOPIC, 0, offset))
        rows.append(ChainRow(offset, str(event.event_id), offset, previous, current))
        previous = current
    assert walk_partition(rows, head_of(rows)).first_break is None
