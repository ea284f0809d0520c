"""The event models accept what the contract allows and reject everything else by field name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from schemas.errors import EventContractError, InvalidEventError
from schemas.models import (
    EVENT_CLASSES,
    EVENT_CLASSES_BY_SCHEMA,
    Actor,
    ActorKind,
    CredentialCreated,
    CredentialDeleted,
    CredentialExpired,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
    DenialReason,
    Envelope,
    EventType,
    LifecycleEvent,
    PersonalClient,
    UseOutcome,
)
from tests.builders import (
    RECORD_BUILDERS,
    T0,
    Record,
    build_created,
    build_updated,
    build_used,
    created_record,
    deleted_record,
    envelope_record,
    expired_record,
    roles_scoped_record,
    updated_record,
    used_record,
)

Construct = Callable[[type[LifecycleEvent], Record], LifecycleEvent]


def _from_record(cls: type[LifecycleEvent], record: Record) -> LifecycleEvent:
    return cls.from_record(record)


def _from_kwargs(cls: type[LifecycleEvent], record: Record) -> LifecycleEvent:
    return cls(**record)


@pytest.fixture(params=[_from_record, _from_kwargs], ids=["from_record", "constructor"])
def construct(request: pytest.FixtureRequest) -> Construct:
    """Both ways an event is made: validating a decoded record, and the constructor."""
    made: Construct = request.param
    return made


def rejected(construct: Construct, cls: type[LifecycleEvent], record: Record) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as info:
        construct(cls, record)
    return info.value


def assert_names(error: InvalidEventError, field: str) -> None:
    """The error lists ``field`` as a problem and names it in its message."""
    fields = [problem.field for problem in error.problems]
    assert field in fields, f"{field!r} not among {fields}: {error}"
    assert f"{field}: " in str(error)


def with_envelope(record: Record, **changes: Any) -> Record:
    return {**record, "envelope": {**record["envelope"], **changes}}


def without(record: Record, *path: str) -> Record:
    """A copy of ``record`` with the (possibly nested) key at ``path`` removed."""
    copied = dict(record)
    if len(path) == 1:
        del copied[path[0]]
    else:
        copied[path[0]] = without(copied[path[0]], *path[1:])
    return copied


VALID_RECORDS: dict[EventType, Callable[[], Record]] = {
    kind: builder for kind, builder in RECORD_BUILDERS.items()
}


# --- the builders themselves ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EventType), ids=lambda kind: kind.value)
def test_every_builder_makes_a_valid_event_of_its_type(
    construct: Construct, kind: EventType
) -> None:
    cls = EVENT_CLASSES[kind]
    event = construct(cls, VALID_RECORDS[kind]())
    assert type(event) is cls
    assert event.envelope.event_type is kind is cls.event_type
    assert EVENT_CLASSES_BY_SCHEMA[cls.schema_name] is cls
    assert cls.schema_name == f"clientaudit.events.{cls.__name__}"


def test_builders_are_deterministic() -> None:
    assert build_used(sequence=7) == build_used(sequence=7)
    assert build_used(sequence=7).event_id != build_used(sequence=8).event_id


# --- envelope ids --------------------------------------------------------------------------

ENVELOPE_STRINGS = ["credentialId", "clientId", "userId", "correlationId", "source"]


@pytest.mark.parametrize("blank", ["", " ", "\t\n"], ids=["empty", "space", "whitespace"])
@pytest.mark.parametrize("field", ENVELOPE_STRINGS)
def test_blank_envelope_strings_are_rejected(construct: Construct, field: str, blank: str) -> None:
    record = with_envelope(used_record(), **{field: blank})
    error = rejected(construct, CredentialUsed, record)
    assert_names(error, f"envelope.{field}")
    assert "empty or blank" in str(error)


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_actor_id_is_rejected(construct: Construct, blank: str) -> None:
    record = with_envelope(used_record(), actor={"kind": "USER", "id": blank})
    assert_names(rejected(construct, CredentialUsed, record), "envelope.actor.id")


def test_unknown_actor_kind_is_rejected(construct: Construct) -> None:
    record = with_envelope(used_record(), actor={"kind": "ROBOT", "id": "r2"})
    assert_names(rejected(construct, CredentialUsed, record), "envelope.actor.kind")


@pytest.mark.parametrize("value", ["not-a-uuid", "", 42])
def test_event_id_must_be_a_uuid(construct: Construct, value: object) -> None:
    record = with_envelope(used_record(), eventId=value)
    assert_names(rejected(construct, CredentialUsed, record), "envelope.eventId")


def test_event_id_text_is_parsed_to_a_uuid() -> None:
    text = "0B8F7A1C-52E4-4D9A-9C61-4E0F3B9D2A10"
    event = CredentialUsed.from_record(with_envelope(used_record(), eventId=text))
    assert str(event.event_id) == text.lower()


@pytest.mark.parametrize(
    "field", ["eventId", "eventType", "credentialId", "occurredAt", "sequence", "actor", "source"]
)
def test_missing_envelope_fields_are_named(construct: Construct, field: str) -> None:
    record = without(used_record(), "envelope", field)
    assert_names(rejected(construct, CredentialUsed, record), f"envelope.{field}")


def test_missing_envelope_is_named(construct: Construct) -> None:
    assert_names(
        rejected(construct, CredentialUsed, without(used_record(), "envelope")), "envelope"
    )


# --- sequence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, -1, -(2**63), True, False, 1.0, 2.5, "1", None, 2**53, 2**63 - 1, 2**63],
    ids=[
        "zero",
        "minus-one",
        "min-long",
        "true",
        "false",
        "float",
        "fraction",
        "text",
        "null",
        "above-exact-json",
        "max-long",
        "above-long",
    ],
)
def test_invalid_sequences_are_rejected(construct: Construct, value: object) -> None:
    record = with_envelope(used_record(), sequence=value)
    assert_names(rejected(construct, CredentialUsed, record), "envelope.sequence")


@pytest.mark.parametrize("value", [1, 2, 2**53 - 1])
def test_valid_sequences_are_kept(value: int) -> None:
    event = build_used(sequence=value)
    assert event.sequence == value
    assert type(event.sequence) is int


# --- timestamps ----------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 3, 10, 0)

TIMESTAMP_FIELDS: list[tuple[type[LifecycleEvent], Callable[[Any], Record], str]] = [
    (CredentialUsed, lambda v: with_envelope(used_record(), occurredAt=v), "envelope.occurredAt"),
    (CredentialUsed, lambda v: with_envelope(used_record(), recordedAt=v), "envelope.recordedAt"),
    (CredentialUsed, lambda v: used_record(used_at=v), "usedAt"),
    (CredentialExpired, lambda v: expired_record(expires_time=v), "expiresTime"),
    (CredentialDeleted, lambda v: deleted_record(deleted_at=v), "deletedAt"),
    (CredentialUpdated, lambda v: updated_record(expires_time=v), "expiresTime"),
    (CredentialCreated, lambda v: created_record(expires_time=v), "credential.expiresTime"),
    (
        CredentialCreated,
        lambda v: created_record(credential={"createdAt": v}),
        "credential.createdAt",
    ),
    (
        CredentialCreated,
        lambda v: created_record(credential={"updatedAt": v}),
        "credential.updatedAt",
    ),
    (
        CredentialCreated,
        lambda v: created_record(credential={"lastUsedAt": v}),
        "credential.lastUsedAt",
    ),
    (
        CredentialCreated,
        lambda v: created_record(credential={"deletedAt": v}),
        "credential.deletedAt",
    ),
]


@pytest.mark.parametrize("naive", [NAIVE, "2026-03-03T10:00:00"], ids=["datetime", "iso-text"])
@pytest.mark.parametrize(
    ("cls", "make", "field"), TIMESTAMP_FIELDS, ids=[f for _, _, f in TIMESTAMP_FIELDS]
)
def test_naive_timestamps_are_rejected(
    construct: Construct,
    cls: type[LifecycleEvent],
    make: Callable[[Any], Record],
    field: str,
    naive: object,
) -> None:
    error = rejected(construct, cls, make(naive))
    assert_names(error, field)
    assert "timezone-aware" in str(error)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z"])
def test_unparseable_timestamps_are_rejected(construct: Construct, value: str) -> None:
    assert_names(rejected(construct, CredentialUsed, used_record(used_at=value)), "usedAt")


@pytest.mark.parametrize(
    "offset", [timedelta(hours=5, minutes=30), timedelta(hours=-8), timedelta(hours=14)]
)
@pytest.mark.parametrize(
    ("cls", "make", "field"), TIMESTAMP_FIELDS, ids=[f for _, _, f in TIMESTAMP_FIELDS]
)
def test_offsets_are_normalised_to_utc(
    cls: type[LifecycleEvent], make: Callable[[Any], Record], field: str, offset: timedelta
) -> None:
    local = T0.astimezone(timezone(offset))
    assert local.utcoffset() == offset
    event = cls.from_record(make(local))
    value = _field_value(event.to_record(), field)
    assert value == T0
    assert value.tzinfo is UTC
    assert value.utcoffset() == timedelta(0)
    assert (value.hour, value.minute) == (10, 0)


def test_iso_text_with_offset_is_normalised_to_utc() -> None:
    event = build_used(used_at="2026-03-03T15:30:00+05:30")
    assert event.used_at == T0
    assert event.used_at.tzinfo is UTC


def _field_value(record: Record, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value[part]
    return value


# --- CIDRs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cidr",
    [
        "not-a-cidr",
        "10.0.0.0/33",
        "300.1.2.0/24",
        "10.0.0.0/",
        "2001:db8::/129",
        "2001:zz8::/32",
        "",
        "10.0.0.0/8/8",
    ],
)
def test_malformed_cidrs_are_rejected_by_index(construct: Construct, cidr: str) -> None:
    record = updated_record(allow_source_cidr=["10.0.0.0/8", cidr])
    error = rejected(construct, CredentialUpdated, record)
    assert_names(error, "allowSourceCidr.1")


@pytest.mark.parametrize("cidr", ["10.0.0.1/8", "192.168.1.5/24", "2001:db8::1/32", "fd00::ff/64"])
def test_cidrs_with_host_bits_are_rejected(construct: Construct, cidr: str) -> None:
    """The documented decision: 10.0.0.1/8 is a mistake, not a spelling of 10.0.0.0/8."""
    error = rejected(construct, CredentialUpdated, updated_record(allow_source_cidr=[cidr]))
    assert_names(error, "allowSourceCidr.0")
    assert "host bits" in str(error)


def test_created_credential_cidrs_are_checked_with_their_path(construct: Construct) -> None:
    record = created_record(allow_source_cidr=["10.20.0.0/16", "10.0.0.1/8"])
    assert_names(rejected(construct, CredentialCreated, record), "credential.allowSourceCidr.1")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:0db8:0000:0000::/48", "2001:db8::/48"),
        ("FD00:AB::/32", "fd00:ab::/32"),
        ("::/0", "::/0"),
        ("10.20.0.0/16", "10.20.0.0/16"),
        (" 10.20.0.0/16 ", "10.20.0.0/16"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_cidrs_are_canonicalised(given: str, canonical: str) -> None:
    assert build_updated(allow_source_cidr=[given]).allow_source_cidr == (canonical,)
    created = build_created(allow_source_cidr=[given])
    assert created.credential.allow_source_cidr == (canonical,)


def test_cidrs_are_deduplicated_and_ordered_ipv4_first_by_address() -> None:
    event = build_updated(
        allow_source_cidr=[
            "2001:db8::/32",
            "10.30.4.0/24",
            "2001:DB8::/32",
            "10.20.0.0/16",
            "10.30.4.0/24",
            "9.0.0.0/8",
        ]
    )
    assert event.allow_source_cidr == ("9.0.0.0/8", "10.20.0.0/16", "10.30.4.0/24", "2001:db8::/32")
    assert event.to_record()["allowSourceCidr"] == list(event.allow_source_cidr)


def test_empty_cidr_list_is_a_change_that_allows_every_source() -> None:
    event = build_updated(display_name=None, allow_source_cidr=[])
    assert event.allow_source_cidr == ()
    assert event.to_record()["allowSourceCidr"] == []


# --- source IP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip", ["not-an-ip", "10.0.0.256", "10.0.0.0/24", "", "1.2.3", "2001:db8::g", "::1::2"]
)
def test_bad_source_ips_are_rejected(construct: Construct, ip: str) -> None:
    error = rejected(construct, CredentialUsed, used_record(source_ip=ip))
    assert_names(error, "sourceIp")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("2001:DB8:0:0:0:0:0:7", "2001:db8::7"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("::FFFF:a00:1", "::ffff:10.0.0.1"),
        ("0:0:0:0:0:ffff:0a01:0203", "::ffff:10.1.2.3"),
        ("::a01:203", "::a01:203"),
        ("10.20.1.7", "10.20.1.7"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_source_ips_are_canonicalised(given: str, canonical: str) -> None:
    assert build_used(source_ip=given).source_ip == canonical


# --- outcome and denial reason -------------------------------------------------------------


def test_denied_without_reason_is_rejected(construct: Construct) -> None:
    error = rejected(construct, CredentialUsed, used_record(outcome="DENIED", denial_reason=None))
    assert_names(error, "denialReason")
    assert "DENIED" in str(error)


@pytest.mark.parametrize("reason", list(DenialReason))
def test_allowed_with_reason_is_rejected(construct: Construct, reason: DenialReason) -> None:
    error = rejected(
        construct, CredentialUsed, used_record(outcome="ALLOWED", denial_reason=reason.value)
    )
    assert_names(error, "denialReason")
    assert "ALLOWED" in str(error)


@pytest.mark.parametrize("reason", list(DenialReason))
def test_denied_with_reason_is_valid(reason: DenialReason) -> None:
    event = build_used(outcome="DENIED", denial_reason=reason.value)
    assert event.outcome is UseOutcome.DENIED
    assert event.denial_reason is reason


def test_unknown_outcome_and_reason_are_rejected(construct: Construct) -> None:
    assert_names(rejected(construct, CredentialUsed, used_record(outcome="MAYBE")), "outcome")
    record = used_record(outcome="DENIED", denial_reason="BAD_LUCK")
    assert_names(rejected(construct, CredentialUsed, record), "denialReason")


# --- update --------------------------------------------------------------------------------


def test_update_that_changes_nothing_is_rejected(construct: Construct) -> None:
    record = updated_record(display_name=None, allow_source_cidr=None, expires_time=None)
    error = rejected(construct, CredentialUpdated, record)
    for name in ("displayName", "allowSourceCidr", "expiresTime"):
        assert name in str(error)


@pytest.mark.parametrize(
    "change",
    [{"display_name": "x"}, {"allow_source_cidr": ["10.0.0.0/8"]}, {"expires_time": T0}],
    ids=["displayName", "allowSourceCidr", "expiresTime"],
)
def test_update_that_changes_one_thing_is_valid(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"display_name": None, "allow_source_cidr": None, "expires_time": None}
    event = build_updated(**(fields | change))
    set_fields = [name for name in fields if getattr(event, name) is not None]
    assert set_fields == list(change)


# --- created -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "envelope_field"),
    [("id", "credentialId"), ("clientId", "clientId"), ("userId", "userId")],
)
def test_created_credential_ids_must_match_the_envelope(
    construct: Construct, field: str, envelope_field: str
) -> None:
    record = created_record(credential={field: "someone-else"})
    error = rejected(construct, CredentialCreated, record)
    assert_names(error, f"credential.{field}")
    assert f"envelope.{envelope_field}" in str(error)
    assert "someone-else" in str(error)


@pytest.mark.parametrize("field", ["id", "clientId", "userId"])
def test_created_credential_ids_must_not_be_blank(construct: Construct, field: str) -> None:
    error = rejected(construct, CredentialCreated, created_record(credential={field: " "}))
    assert_names(error, f"credential.{field}")


def test_created_may_omit_the_credential_ids() -> None:
    event = CredentialCreated.from_record(
        created_record(credential={"id": None, "clientId": None, "userId": None})
    )
    assert event.credential.id is None
    assert event.credential_id == "cred-0001"


# --- event type ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EventType), ids=lambda kind: kind.value)
def test_event_type_must_match_the_class(construct: Construct, kind: EventType) -> None:
    cls = EVENT_CLASSES[kind]
    for other in EventType:
        if other is kind:
            continue
        record = with_envelope(VALID_RECORDS[kind](), eventType=other.value)
        error = rejected(construct, cls, record)
        assert_names(error, "envelope.eventType")
        assert other.value in str(error)


def test_unknown_event_type_is_rejected(construct: Construct) -> None:
    record = with_envelope(used_record(), eventType="TELEPORTED")
    assert_names(rejected(construct, CredentialUsed, record), "envelope.eventType")


# --- roles ---------------------------------------------------------------------------------


def test_roles_are_deduplicated_and_sorted() -> None:
    record = roles_scoped_record(
        scoped_roles=["viewer", "admin", "viewer", "billing.reader", "admin"]
    )
    event = CredentialRolesScoped.from_record(record)
    assert event.scoped_roles == ("admin", "billing.reader", "viewer")
    assert event.to_record()["scopedRoles"] == ["admin", "billing.reader", "viewer"]
    created = build_created(scoped_roles=["z", "a", "z"])
    assert created.credential.scoped_roles == ("a", "z")


def test_empty_role_set_is_valid() -> None:
    assert (
        CredentialRolesScoped.from_record(roles_scoped_record(scoped_roles=[])).scoped_roles == ()
    )


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_roles_are_rejected_by_index(construct: Construct, blank: str) -> None:
    record = roles_scoped_record(scoped_roles=["viewer", blank])
    assert_names(rejected(construct, CredentialRolesScoped, record), "scopedRoles.1")


def test_non_string_roles_are_rejected(construct: Construct) -> None:
    record = roles_scoped_record(scoped_roles=["viewer", 7])
    assert_names(rejected(construct, CredentialRolesScoped, record), "scopedRoles.1")


def test_missing_roles_are_rejected(construct: Construct) -> None:
    record = without(roles_scoped_record(), "scopedRoles")
    assert_names(rejected(construct, CredentialRolesScoped, record), "scopedRoles")


# --- lists given as a bare string ----------------------------------------------------------

BARE_STRING_CASES: list[tuple[type[LifecycleEvent], Record, str]] = [
    (CredentialRolesScoped, roles_scoped_record(scoped_roles="admin"), "scopedRoles"),
    (CredentialUpdated, updated_record(allow_source_cidr="10.0.0.0/8"), "allowSourceCidr"),
    (CredentialCreated, created_record(scoped_roles="admin"), "credential.scopedRoles"),
    (
        CredentialCreated,
        created_record(allow_source_cidr="10.0.0.0/8"),
        "credential.allowSourceCidr",
    ),
    (CredentialRolesScoped, roles_scoped_record(scoped_roles=b"admin"), "scopedRoles"),
]


@pytest.mark.parametrize(
    ("cls", "record", "field"), BARE_STRING_CASES, ids=[f for _, _, f in BARE_STRING_CASES]
)
def test_bare_string_where_a_list_is_expected_is_rejected(
    construct: Construct, cls: type[LifecycleEvent], record: Record, field: str
) -> None:
    error = rejected(construct, cls, record)
    assert_names(error, field)
    assert "list" in str(error)


# --- unknown fields ------------------------------------------------------------------------

EXTRA_FIELD_CASES: list[tuple[type[LifecycleEvent], Record, str]] = [
    (CredentialUsed, {**used_record(), "sourcePort": 443}, "sourcePort"),
    (CredentialUsed, with_envelope(used_record(), tenant="acme"), "envelope.tenant"),
    (
        CredentialUsed,
        with_envelope(used_record(), actor={"kind": "USER", "id": "u", "ip": "x"}),
        "envelope.actor.ip",
    ),
    (CredentialCreated, created_record(credential={"secret": "hunter2"}), "credential.secret"),
    (CredentialDeleted, {**deleted_record(), "hard": True}, "hard"),
    (CredentialExpired, {**expired_record(), "reason": "x"}, "reason"),
]


@pytest.mark.parametrize(
    ("cls", "record", "field"), EXTRA_FIELD_CASES, ids=[f for _, _, f in EXTRA_FIELD_CASES]
)
def test_unknown_fields_are_rejected(
    construct: Construct, cls: type[LifecycleEvent], record: Record, field: str
) -> None:
    assert_names(rejected(construct, cls, record), field)


# --- PersonalClient ------------------------------------------------------------------------


def test_every_personal_client_field_is_optional() -> None:
    empty = PersonalClient()
    assert all(value is None for value in empty.model_dump().values())
    assert len(empty.model_dump()) == 11
    assert PersonalClient.from_record({}) == empty
    event = CredentialCreated.from_record(
        {"envelope": envelope_record(EventType.CREATED), "credential": {}}
    )
    assert event.credential == empty
    assert event.to_record()["credential"] == {
        "id": None,
        "clientId": None,
        "userId": None,
        "displayName": None,
        "scopedRoles": None,
        "allowSourceCidr": None,
        "createdAt": None,
        "updatedAt": None,
        "lastUsedAt": None,
        "expiresTime": None,
        "deletedAt": None,
    }


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": ""}, "id"),
        ({"allowSourceCidr": ["10.0.0.1/8"]}, "allowSourceCidr.0"),
        ({"createdAt": NAIVE}, "createdAt"),
        ({"scopedRoles": "admin"}, "scopedRoles"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_present_personal_client_fields_are_validated(record: Record, field: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        PersonalClient.from_record(record)
    assert_names(info.value, field)
    with pytest.raises(InvalidEventError) as info:
        PersonalClient(**record)
    assert_names(info.value, field)


def test_personal_client_accepts_snake_case_names_too() -> None:
    client = PersonalClient(display_name="x", allow_source_cidr=["10.0.0.0/8"])
    assert client == PersonalClient.from_record(
        {"displayName": "x", "allowSourceCidr": ["10.0.0.0/8"]}
    )


# --- the error type ------------------------------------------------------------------------


def test_invalid_event_error_lists_every_problem() -> None:
    record = with_envelope(used_record(source_ip="nope"), sequence=0, credentialId="")
    with pytest.raises(InvalidEventError) as info:
        CredentialUsed.from_record(record)
    error = info.value
    assert {problem.field for problem in error.problems} == {
        "envelope.sequence",
        "envelope.credentialId",
        "sourceIp",
    }
    assert error.subject == "CredentialUsed"
    assert str(error).startswith("invalid CredentialUsed: ")
    assert isinstance(error, EventContractError)
    assert isinstance(error, ValueError)


def test_parts_raise_the_contract_error_too() -> None:
    with pytest.raises(InvalidEventError) as info:
        Actor(kind=ActorKind.USER, id=" ")
    assert_names(info.value, "id")
    with pytest.raises(InvalidEventError) as envelope_info:
        Envelope.from_record({**envelope_record(EventType.USED), "sequence": -3})
    assert_names(envelope_info.value, "sequence")


def test_events_are_immutable() -> None:
    event = build_used()
    with pytest.raises((pydantic.ValidationError, TypeError, AttributeError)):
        event.source_ip = "10.0.0.1"  # type: ignore[misc]
    assert event.source_ip == "10.20.1.7"


def test_unicode_display_names_are_kept_verbatim() -> None:
    name = "Données export ✓ 拡張 token 🔑 e\u0301"
    assert build_created(display_name=name).credential.display_name == name
    assert build_updated(display_name=name).display_name == name


@pytest.mark.parametrize("kind", list(EventType), ids=lambda kind: kind.value)
def test_to_record_validates_back_to_the_same_event(kind: EventType) -> None:
    cls = EVENT_CLASSES[kind]
    event = cls.from_record(VALID_RECORDS[kind]())
    assert cls.from_record(event.to_record()) == event


def test_actor_renders_kind_and_id() -> None:
    assert str(build_used().envelope.actor) == "user:user-0001"
    expired = CredentialExpired.from_record(expired_record())
    assert str(expired.envelope.actor) == "system:expiry-sweeper"
    assert expired.expires_time == T0
    assert datetime(2026, 3, 3, 10, 0, tzinfo=UTC) == expired.occurred_at
