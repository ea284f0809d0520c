"""A credential's fields are defined once (CredentialState); everything else follows them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from projections.db.rows import state_from_row, state_row
from projections.db.tables import credentials
from projections.model.credential import (
    CredentialState,
    CredentialStatus,
    blank_state,
    underived_fields,
)
from projections.queries.rows import CredentialRecord
from schemas.models import EventType

AT = datetime(2026, 3, 3, 10, tzinfo=UTC)


def full_state() -> CredentialState:
    return CredentialState(
        credential_id="cred-1", client_id="client-1", user_id="alice", display_name="laptop",
        scoped_roles=("admin", "reader"), allow_source_cidr=("10.0.0.0/8",), created_at=AT,
        updated_at=AT, last_used_at=AT, expires_time=AT, deleted_at=AT,
        status=CredentialStatus.DELETED, last_sequence=2**63 - 1, last_event_id=uuid.uuid4(),
        last_event_type=EventType.DELETED, last_changed_at=AT, created_event_id=uuid.uuid4(),
        seen_source_ips=("10.0.0.1", "::1"), anomaly_count=3,
    )


def test_the_credentials_table_has_one_column_per_state_field_in_order() -> None:
    assert [column.name for column in credentials.columns] == list(CredentialState._fields)
    nullable = {column.name for column in credentials.columns if column.nullable}
    assert nullable == {
        "display_name", "created_at", "updated_at", "last_used_at", "expires_time",
        "deleted_at", "created_event_id",
    }
    assert [column.name for column in credentials.primary_key.columns] == ["credential_id"]


def test_records_carry_every_state_field_with_camel_case_names() -> None:
    assert list(CredentialRecord.model_fields) == list(CredentialState._fields)
    state = full_state()
    record = CredentialRecord.of(state)
    dumped = record.model_dump(mode="json")
    assert dumped["lastEventId"] == str(state.last_event_id)
    assert dumped["scopedRoles"] == ["admin", "reader"]
    assert dumped["status"] == "deleted"


def test_rows_round_trip_every_field() -> None:
    for state in (full_state(), blank_state("c", "k", "u", uuid.uuid4(), EventType.USED, AT)):
        row = state_row(state)
        assert list(row) == list(CredentialState._fields)
        assert isinstance(row["last_event_id"], str)
        assert isinstance(row["scoped_roles"], list)
        assert row["status"] in {status.value for status in CredentialStatus}
        assert state_from_row(row) == state


def test_a_blank_state_needs_only_the_ids_and_the_naming_event() -> None:
    assert underived_fields() == sorted(
        ["credential_id", "client_id", "user_id", "last_event_id", "last_changed_at"]
    )
    blank = blank_state("c", "k", "u", uuid.uuid4(), EventType.USED, AT)
    assert blank.status is CredentialStatus.ACTIVE
    assert (blank.scoped_roles, blank.seen_source_ips, blank.last_sequence) == ((), (), 0)
    assert blank.display_name is None and blank.created_event_id is None
