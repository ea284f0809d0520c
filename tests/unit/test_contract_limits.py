"""The contract's limits (schemas/limits.py): every field's length and characters, the largest
event, and one canonical address text. Each refusal names the field and the limit."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

import pytest

from schemas.addresses import address_text, canonical_address, network_text
from schemas.codec import EventCodec
from schemas.errors import DecodeError, EncodeError, InvalidEventError
from schemas.limits import (
    ADDRESS_TEXT_MAX,
    CIDRS_MAX,
    EVENT_MAX_BYTES,
    IDENTIFIER_MAX,
    ROLES_MAX,
    TEXT_MAX,
)
from schemas.models import (
    CredentialCreated,
    CredentialDeleted,
    CredentialRolesScoped,
    CredentialUpdated,
    CredentialUsed,
)
from tests.builders import (
    build_created,
    created_record,
    deleted_record,
    roles_scoped_record,
    updated_record,
    used_record,
)

CODEC = EventCodec()

HOSTILE_CHARACTERS = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "newline": "\n",
    "carriage return": "\r",
    "tab": "\t",
    "DEL": "\x7f",
    "C1 CSI": "\x9b",
    "line separator": "\u2028",
    "lone surrogate": "\ud800",
    "noncharacter": "\uffff",
}
INVISIBLE = {
    "right-to-left override": "\u202e",
    "zero-width space": "\u200b",
    "byte-order mark": "\ufeff",
    "left-to-right isolate": "\u2066",
}

ENVELOPE_IDENTIFIERS = ["credentialId", "clientId", "userId", "correlationId", "source"]


def refusal(cls: type[Any], record: dict[str, Any]) -> str:
    with pytest.raises(InvalidEventError) as info:
        cls.from_record(record)
    return str(info.value)


def with_envelope(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, "envelope": {**record["envelope"], **changes}}


@pytest.mark.parametrize("field", ENVELOPE_IDENTIFIERS)
@pytest.mark.parametrize(("name", "character"), [*HOSTILE_CHARACTERS.items(), *INVISIBLE.items()])
def test_identifiers_refuse_control_and_invisible_characters(
    field: str, name: str, character: str
) -> None:
    record = with_envelope(used_record(), **{field: f"evil{character}id"})
    if field == "credentialId":
        record = with_envelope(record, credentialId=f"evil{character}id")
    message = refusal(CredentialUsed, record)
    assert f"envelope.{field}: must not contain" in message
    assert f"U+{ord(character):04X} at index 4" in message


def test_the_actor_id_and_roles_are_identifiers_too() -> None:
    record = used_record()
    record["envelope"]["actor"] = {"kind": "USER", "id": "mallory\x1b[2J"}
    assert "envelope.actor.id: must not contain" in refusal(CredentialUsed, record)
    message = refusal(CredentialRolesScoped, roles_scoped_record(scoped_roles=["ok", "ad\x00min"]))
    assert "scopedRoles.1: must not contain" in message


@pytest.mark.parametrize("field", ENVELOPE_IDENTIFIERS)
def test_identifiers_are_at_most_the_limit(field: str) -> None:
    longest = "x" * IDENTIFIER_MAX
    assert CredentialUsed.from_record(with_envelope(used_record(), **{field: longest}))
    message = refusal(CredentialUsed, with_envelope(used_record(), **{field: longest + "x"}))
    assert f"envelope.{field}: must be at most {IDENTIFIER_MAX} characters (got 257)" in message


def test_identifiers_refuse_surrounding_white_space() -> None:
    message = refusal(CredentialUsed, with_envelope(used_record(), userId=" alice"))
    assert "envelope.userId: must not begin or end with white space" in message


def test_identifiers_keep_other_scripts_and_punctuation() -> None:
    odd = "cred/ü/☃/ユーザー/🔑"
    event = CredentialUsed.from_record(with_envelope(used_record(), credentialId=odd))
    assert event.credential_id == odd


@pytest.mark.parametrize(("name", "character"), list(HOSTILE_CHARACTERS.items()))
def test_display_names_and_reasons_refuse_control_characters(name: str, character: str) -> None:
    created = created_record(display_name=f"evil{character}name")
    assert "credential.displayName: must not contain" in refusal(CredentialCreated, created)
    updated = updated_record(display_name=f"evil{character}name")
    assert "displayName: must not contain" in refusal(CredentialUpdated, updated)
    deleted = deleted_record(reason=f"left{character}")
    assert "reason: must not contain" in refusal(CredentialDeleted, deleted)


def test_display_names_may_hold_direction_marks_and_be_empty() -> None:
    """Right-to-left text needs its marks; terminals and tables show them escaped."""
    assert build_created(display_name="\u202eabc").credential.display_name == "\u202eabc"
    assert build_created(display_name="").credential.display_name == ""


def test_text_fields_are_at_most_the_limit() -> None:
    assert build_created(display_name="n" * TEXT_MAX)
    message = refusal(CredentialCreated, created_record(display_name="n" * (TEXT_MAX + 1)))
    assert f"credential.displayName: must be at most {TEXT_MAX} characters" in message


def test_role_and_network_lists_are_bounded() -> None:
    roles = [f"r{index}" for index in range(ROLES_MAX + 1)]
    message = refusal(CredentialRolesScoped, roles_scoped_record(scoped_roles=roles))
    assert f"scopedRoles: must hold at most {ROLES_MAX} roles (got {ROLES_MAX + 1})" in message
    networks = [f"10.{index // 256}.{index % 256}.0/24" for index in range(CIDRS_MAX + 1)]
    message = refusal(CredentialUpdated, updated_record(allow_source_cidr=networks))
    assert f"allowSourceCidr: must hold at most {CIDRS_MAX} networks" in message


@pytest.mark.parametrize(
    "address", ["fe80::1%eth0", "fe80::1%\x1b[2J", "10.0.0.1" + " " * ADDRESS_TEXT_MAX]
)
def test_source_addresses_refuse_zone_ids_and_long_text(address: str) -> None:
    message = refusal(CredentialUsed, used_record(source_ip=address))
    assert "sourceIp: " in message
    assert "\x1b" not in message


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("::ffff:10.1.2.3", "::ffff:10.1.2.3"),
        ("::ffff:a01:203", "::ffff:10.1.2.3"),
        ("0:0:0:0:0:FFFF:0A01:0203", "::ffff:10.1.2.3"),
        ("2001:0DB8::0:7", "2001:db8::7"),
        ("::1", "::1"),
        ("::", "::"),
        ("192.0.2.1", "192.0.2.1"),
    ],
)
def test_one_canonical_address_text_on_every_python(given: str, canonical: str) -> None:
    assert canonical_address(given) == canonical
    assert build_used_ip(given) == canonical


def build_used_ip(address: str) -> str:
    return CredentialUsed.from_record(used_record(source_ip=address)).source_ip


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ("::ffff:a00:0/104", "::ffff:10.0.0.0/104"),
        ("::ffff:0:0/96", "::ffff:0.0.0.0/96"),
        ("::/0", "::/0"),
        ("2001:DB8::/32", "2001:db8::/32"),
    ],
)
def test_one_canonical_network_text(given: str, canonical: str) -> None:
    assert network_text(ipaddress.ip_network(given)) == canonical
    event = CredentialUpdated.from_record(updated_record(allow_source_cidr=[given]))
    assert event.allow_source_cidr == (canonical,)


def test_mapped_text_does_not_follow_the_interpreter() -> None:
    """Python 3.13 changed str() of these addresses; ours is the same either way."""
    mapped = ipaddress.IPv6Address("::ffff:10.1.2.3")
    assert address_text(mapped) == "::ffff:10.1.2.3"
    if sys.version_info < (3, 13):
        assert str(mapped) == "::ffff:a01:203"


def test_events_larger_than_the_limit_are_neither_encoded_nor_decoded() -> None:
    roles = [f"{index:04d}" + "r" * (IDENTIFIER_MAX - 4) for index in range(ROLES_MAX)]
    big = CredentialRolesScoped.from_record(roles_scoped_record(scoped_roles=roles))
    with pytest.raises(EncodeError, match=f"larger than the contract's {EVENT_MAX_BYTES:,}"):
        CODEC.encode(big)
    oversized = CODEC.encode(build_created()) + b"\x00" * EVENT_MAX_BYTES
    with pytest.raises(DecodeError, match="larger than the contract's"):
        CODEC.decode(oversized)


def test_an_event_at_every_limit_at_once_still_encodes_and_decodes() -> None:
    record = created_record(
        display_name="n" * TEXT_MAX,
        scoped_roles=[f"{index:04d}" + "r" * 100 for index in range(ROLES_MAX)],
    )
    longest = {field: "x" * IDENTIFIER_MAX for field in ENVELOPE_IDENTIFIERS}
    record = with_envelope(record, **longest)
    record["credential"] = {**record["credential"], "id": "x" * IDENTIFIER_MAX,
                            "clientId": "x" * IDENTIFIER_MAX, "userId": "x" * IDENTIFIER_MAX}
    event = CredentialCreated.from_record(record)
    encoded = CODEC.encode(event)
    assert len(encoded) <= EVENT_MAX_BYTES
    assert CODEC.decode(encoded) == event
