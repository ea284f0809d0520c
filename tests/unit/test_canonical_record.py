"""The canonical record derived from the stored payload equals the documented definition.

The definition (docs/forensics.md, :mod:`projections.chain.hashing`): the event record with
its Avro field names, null members left out, UUIDs as text and every instant as UTC text
with six fractional digits. :func:`reference_document` writes it straight from the model,
as the entry document was written before it was derived from the payload; every event
type, with instants on and off whole seconds, in other offsets, with optional members
present and absent, must give the same bytes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from projections.chain.canonical import (
    CanonicalInstantError,
    canonical_instant,
    canonical_record,
    record_shape,
)
from projections.chain.hashing import entry_document, instant_text
from projections.db.rows import payload_of
from schemas.models import DenialReason, LifecycleEvent
from tests.builders_projection import History

TOPIC = "client-audit.credential-lifecycle.v1"


def _reference_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def reference_document(event: LifecycleEvent, anomalies: list[str], offset: int) -> bytes:
    """The entry document written from the model itself (the definition)."""
    document = {
        "anomalies": anomalies,
        "event": event.model_dump(mode="python", by_alias=True, exclude_none=True),
        "format": "client-audit/audit-entry/v2",
        "offset": offset,
        "partition": 2,
        "topic": TOPIC,
    }
    return orjson.dumps(document, default=_reference_value,
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)


_INSTANTS = st.builds(
    lambda seconds, micro, hours: (
        datetime(2026, 3, 3, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micro)
    ).astimezone(timezone(timedelta(hours=hours))),
    st.integers(-10**9, 10**9),
    st.sampled_from([0, 0, 1, 7, 120000, 999999]) | st.integers(0, 999999),
    st.integers(-12, 14),
)
_MAYBE_INSTANT = st.none() | _INSTANTS
_NAMES = st.none() | st.sampled_from(["laptop", "2026-03-03T10:00:00Z", "portable ü", ""])


def _events(history: History, at: datetime, expires: datetime | None, name: str | None,
            deleted: datetime | None) -> list[LifecycleEvent]:
    return [
        history.created(display_name=name, expires_time=expires, last_used_at=deleted,
                        deleted_at=deleted, allow_source_cidr=("10.0.0.0/8", "2001:db8::/32"),
                        with_created_at=deleted is None, at=at),
        history.roles_scoped("writer", "reader", at=at),
        history.updated(display_name=name, expires_time=expires, at=at)
        if name is not None or expires is not None
        else history.updated(allow_source_cidr=(), at=at),
        history.used("::ffff:10.0.0.1", at=at),
        history.used("10.0.0.2", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS, at=at),
        history.expired(expires_time=expires, at=at),
        history.deleted(reason=name or None, at=at),
    ]


@settings(max_examples=150, deadline=None)
@given(_INSTANTS, _MAYBE_INSTANT, _NAMES, _MAYBE_INSTANT, st.integers(0, 2**53 - 1))
def test_every_event_type_gives_the_documented_bytes(
    at: datetime, expires: datetime | None, name: str | None, deleted: datetime | None,
    offset: int,
) -> None:
    for event in _events(History("cred-ü", user_id="ユーザー"), at, expires, name, deleted):
        expected = reference_document(event, ["NEW_SOURCE_IP"], offset)
        assert entry_document(event, ["NEW_SOURCE_IP"], TOPIC, 2, offset) == expected
        given_payload = entry_document(
            event, ["NEW_SOURCE_IP"], TOPIC, 2, offset, payload_of(event)
        )
        assert given_payload == expected


def test_text_that_reads_as_an_instant_is_kept_as_written() -> None:
    event = History().updated(display_name="2026-03-03T10:00:00Z")
    record = canonical_record(event)
    assert record["displayName"] == "2026-03-03T10:00:00Z"
    assert record["envelope"]["occurredAt"].endswith(".000000Z")


def test_null_members_are_left_out_at_every_depth() -> None:
    event = History().created(display_name=None, expires_time=None)
    record = canonical_record(event)
    assert "displayName" not in record["credential"]
    assert "expiresTime" not in record["credential"]
    assert None not in record["credential"].values()


@pytest.mark.parametrize("text", [
    "2026-03-03T10:00:00+00:00", "2026-03-03T10:00:00.120000+00:00", "2026-03-03T10:00:00.12Z",
    "2026-03-03 10:00:00Z", "", "yesterday",
])
def test_an_instant_not_in_pydantics_utc_form_is_refused(text: str) -> None:
    with pytest.raises(CanonicalInstantError):
        canonical_instant(text)


def test_whole_seconds_get_six_zero_digits_and_fractions_stay() -> None:
    assert canonical_instant("2026-03-03T10:00:00Z") == "2026-03-03T10:00:00.000000Z"
    assert canonical_instant("0005-01-01T00:00:00.000007Z") == "0005-01-01T00:00:00.000007Z"


def test_a_model_with_a_collection_of_instants_has_no_shape() -> None:
    class Schedule(BaseModel):
        at: list[datetime]

    with pytest.raises(TypeError, match="collection of datetime"):
        record_shape(Schedule)
