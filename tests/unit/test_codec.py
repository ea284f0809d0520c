"""The codec: every event survives encode/decode, bad bytes fail with the contract's errors,
and the bytes are exactly the documented wire format (checked without schemas.codec)."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import EventCodec
from schemas.errors import DecodeError, EncodeError, InvalidEventError
from schemas.limits import IDENTIFIER_MAX
from schemas.models import (
    EVENT_CLASSES_BY_SCHEMA,
    CredentialCreated,
    CredentialUpdated,
    CredentialUsed,
    EventType,
    LifecycleEvent,
)
from schemas.registry import default_registry
from tests.builders import (
    FAR_FUTURE,
    T0,
    build_created,
    build_deleted,
    build_expired,
    build_roles_scoped,
    build_updated,
    build_used,
    created_record,
    one_of_each,
)

AVSC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
CODEC = EventCodec()

MANY_ROLES = [f"role.{index:05d}" for index in range(5000)]
UNICODE_NAME = "Données export ✓ — 拡張 token 🔑 Zürich e\u0301 end"
IPV6_CIDRS = ["2001:db8:1::/48", "fd00:ab::/32", "::/0", "2001:db8:abcd:12::/64"]

EDGE_EVENTS: dict[str, Callable[[], LifecycleEvent]] = {
    "created-typical": build_created,
    "created-empty-lists": lambda: build_created(scoped_roles=[], allow_source_cidr=[]),
    "created-5000-roles": lambda: build_created(scoped_roles=MANY_ROLES),
    "created-ipv6-cidrs": lambda: build_created(allow_source_cidr=[*IPV6_CIDRS, "10.0.0.0/8"]),
    "created-far-future": lambda: build_created(expires_time=FAR_FUTURE),
    "created-unicode": lambda: build_created(display_name=UNICODE_NAME),
    "created-all-none": lambda: CredentialCreated.from_record(
        created_record(
            display_name=None,
            scoped_roles=None,
            allow_source_cidr=None,
            expires_time=None,
            credential={
                "id": None,
                "clientId": None,
                "userId": None,
                "createdAt": None,
                "updatedAt": None,
            },
        )
    ),
    "created-every-field": lambda: build_created(
        credential={"lastUsedAt": T0 + timedelta(days=1), "deletedAt": T0 + timedelta(days=2)}
    ),
    "roles-scoped": build_roles_scoped,
    "roles-scoped-empty": lambda: build_roles_scoped(scoped_roles=[]),
    "roles-scoped-5000": lambda: build_roles_scoped(scoped_roles=MANY_ROLES),
    "roles-scoped-unicode": lambda: build_roles_scoped(scoped_roles=["rôle.lecteur", "角色"]),
    "updated-name-only": lambda: build_updated(display_name="new"),
    "updated-cidrs-only": lambda: build_updated(display_name=None, allow_source_cidr=IPV6_CIDRS),
    "updated-clear-cidrs": lambda: build_updated(display_name=None, allow_source_cidr=[]),
    "updated-expiry-only": lambda: build_updated(display_name=None, expires_time=FAR_FUTURE),
    "updated-everything": lambda: build_updated(
        display_name=UNICODE_NAME, allow_source_cidr=["10.0.0.0/8"], expires_time=T0
    ),
    "updated-empty-name": lambda: build_updated(display_name=""),
    "used-allowed-ipv4": build_used,
    "used-allowed-ipv6": lambda: build_used(source_ip="2001:db8:abcd:12::7"),
    "used-ipv4-mapped": lambda: build_used(source_ip="::ffff:192.0.2.1"),
    "used-denied-cidrs": lambda: build_used(
        source_ip="fe80::1", outcome="DENIED", denial_reason="OUTSIDE_ALLOWED_CIDRS"
    ),
    "used-denied-expired": lambda: build_used(outcome="DENIED", denial_reason="EXPIRED"),
    "used-denied-deleted": lambda: build_used(outcome="DENIED", denial_reason="DELETED"),
    "expired-far-future": lambda: build_expired(expires_time=FAR_FUTURE),
    "expired-epoch": lambda: build_expired(expires_time=datetime(1970, 1, 1, tzinfo=UTC)),
    "expired-before-epoch": lambda: build_expired(
        expires_time=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    ),
    "expired-year-one": lambda: build_expired(expires_time=datetime(1, 1, 1, tzinfo=UTC)),
    "deleted-with-reason": lambda: build_deleted(reason="compromised? ✓"),
    "deleted-without-reason": lambda: build_deleted(reason=None),
    "deleted-empty-reason": lambda: build_deleted(reason=""),
    "max-sequence-and-odd-ids": lambda: build_used(
        sequence=2**53 - 1,
        credential_id="cred/ü/\u2603",
        client_id="c" * IDENTIFIER_MAX,
        actor_kind="SYSTEM",
        actor_id="expiry-sweeper",
        occurred_at=FAR_FUTURE,
        recorded_at=FAR_FUTURE,
    ),
    "microseconds": lambda: build_used(
        occurred_at=datetime(2026, 3, 3, 10, 0, 0, 123457, tzinfo=UTC),
        used_at=datetime(2026, 3, 3, 10, 0, 0, 1, tzinfo=UTC),
    ),
}


def test_edge_events_cover_every_event_type() -> None:
    covered = {type(make()).event_type for make in EDGE_EVENTS.values()}
    assert covered == set(EventType)


@pytest.mark.parametrize("name", list(EDGE_EVENTS))
def test_round_trip(name: str) -> None:
    event = EDGE_EVENTS[name]()
    data = CODEC.encode(event)
    decoded = CODEC.decode(data)
    assert decoded == event
    assert type(decoded) is type(event)
    assert decoded.to_record() == event.to_record()
    # a second trip changes nothing either: the encoding is deterministic
    assert CODEC.encode(decoded) == data


def test_round_trip_keeps_edge_values_exactly() -> None:
    created = CODEC.decode(CODEC.encode(EDGE_EVENTS["created-5000-roles"]()))
    assert isinstance(created, CredentialCreated)
    assert created.credential.scoped_roles == tuple(MANY_ROLES)
    far = CODEC.decode(CODEC.encode(EDGE_EVENTS["expired-far-future"]()))
    assert far.to_record()["expiresTime"] == FAR_FUTURE
    assert far.to_record()["expiresTime"].tzinfo is not None
    named = CODEC.decode(CODEC.encode(EDGE_EVENTS["updated-everything"]()))
    assert isinstance(named, CredentialUpdated)
    assert named.display_name == UNICODE_NAME
    used = CODEC.decode(CODEC.encode(EDGE_EVENTS["used-allowed-ipv6"]()))
    assert isinstance(used, CredentialUsed)
    assert used.source_ip == "2001:db8:abcd:12::7"
    none = CODEC.decode(CODEC.encode(EDGE_EVENTS["created-all-none"]()))
    assert isinstance(none, CredentialCreated)
    assert none.credential.scoped_roles is None
    assert none.credential.allow_source_cidr is None
    cleared = CODEC.decode(CODEC.encode(EDGE_EVENTS["updated-clear-cidrs"]()))
    assert isinstance(cleared, CredentialUpdated)
    assert cleared.allow_source_cidr == ()
    assert cleared.display_name is None


def test_distinct_events_encode_differently() -> None:
    encoded = {CODEC.encode(make()) for make in EDGE_EVENTS.values()}
    assert len(encoded) == len(EDGE_EVENTS)


# --- decode errors -------------------------------------------------------------------------

VALID = CODEC.encode(build_used())
UNKNOWN_FINGERPRINT = bytes.fromhex("0123456789abcdef")

DECODE_ERRORS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "shorter than the 10-byte header"),
    "one-byte": (b"\xc3", "shorter than the 10-byte header"),
    "short-header": (VALID[:9], "shorter than the 10-byte header"),
    "wrong-marker": (b"\xc3\x02" + VALID[2:], "marker"),
    "swapped-marker": (b"\x01\xc3" + VALID[2:], "marker"),
    "plain-avro": (VALID[10:], "marker"),
    "json": (b'{"envelope": {"eventType": "USED"}}', "marker"),
    "unknown-fingerprint": (VALID[:2] + UNKNOWN_FINGERPRINT + VALID[10:], "0123456789abcdef"),
    "big-endian-fingerprint": (VALID[:2] + VALID[2:10][::-1] + VALID[10:], "unknown"),
    "header-only": (VALID[:10], "not valid Avro"),
    "truncated-body": (VALID[:-1], "not valid Avro"),
    "half-body": (VALID[: 10 + (len(VALID) - 10) // 2], "not valid Avro"),
    "trailing-byte": (VALID + b"\x00", "1 trailing bytes"),
    "trailing-bytes": (VALID + b"garbage", "7 trailing bytes"),
    "second-message": (VALID + VALID, "trailing bytes"),
}


@pytest.mark.parametrize("name", list(DECODE_ERRORS))
def test_decode_errors(name: str) -> None:
    data, message = DECODE_ERRORS[name]
    with pytest.raises(DecodeError, match=message.replace("?", r"\?")):
        CODEC.decode(data)


def test_decode_errors_are_not_invalid_event_errors() -> None:
    for data, _ in DECODE_ERRORS.values():
        with pytest.raises(DecodeError) as info:
            CODEC.decode(data)
        assert not isinstance(info.value, InvalidEventError)


def test_message_of_another_event_type_does_not_decode_as_this_one() -> None:
    """The fingerprint, not the caller, decides the type: a USED body under the CREATED
    fingerprint is not a CredentialCreated."""
    created_fp = default_registry().current("clientaudit.events.CredentialCreated").fingerprint
    with pytest.raises((DecodeError, InvalidEventError)):
        CODEC.decode(VALID[:2] + created_fp + VALID[10:])


def test_encode_of_unencodable_event_raises_encode_error() -> None:
    event = build_used()
    # bypass validation (model_construct) to hand the writer a value Avro cannot carry
    broken = CredentialUsed.model_construct(
        envelope=event.envelope.model_copy(update={"sequence": 2**64}),
        source_ip=event.source_ip,
        used_at=event.used_at,
        outcome=event.outcome,
        denial_reason=None,
    )
    with pytest.raises(EncodeError, match="CredentialUsed"):
        CODEC.encode(broken)


# --- valid Avro, invalid values --------------------------------------------------------------


def _write(schema_name: str, record: dict[str, Any]) -> bytes:
    """Bytes of a record written straight with fastavro and the writer schema (no validation)."""
    writer = default_registry().current(schema_name)
    buffer = io.BytesIO()
    buffer.write(b"\xc3\x01" + writer.fingerprint)
    fastavro.schemaless_writer(buffer, writer.schema, record)
    return buffer.getvalue()


def _envelope_changed(event: LifecycleEvent, **changes: Any) -> dict[str, Any]:
    record = event.to_record()
    record["envelope"] = {**record["envelope"], **changes}
    return record


INVALID_VALUES: dict[
    str, tuple[LifecycleEvent, Callable[[dict[str, Any]], dict[str, Any]], str]
] = {
    "source-ip-not-an-ip": (build_used(), lambda r: {**r, "sourceIp": "not-an-ip"}, "sourceIp"),
    "source-ip-cidr": (build_used(), lambda r: {**r, "sourceIp": "10.0.0.0/8"}, "sourceIp"),
    "denied-without-reason": (
        build_used(),
        lambda r: {**r, "outcome": "DENIED", "denialReason": None},
        "denialReason",
    ),
    "allowed-with-reason": (
        build_used(),
        lambda r: {**r, "denialReason": "EXPIRED"},
        "denialReason",
    ),
    "sequence-zero": (
        build_used(),
        lambda r: {**r, "envelope": {**r["envelope"], "sequence": 0}},
        "envelope.sequence",
    ),
    "sequence-negative": (
        build_expired(),
        lambda r: {**r, "envelope": {**r["envelope"], "sequence": -5}},
        "envelope.sequence",
    ),
    "blank-credential-id": (
        build_deleted(),
        lambda r: {**r, "envelope": {**r["envelope"], "credentialId": " "}},
        "envelope.credentialId",
    ),
    "event-type-mismatch": (
        build_used(),
        lambda r: {**r, "envelope": {**r["envelope"], "eventType": "DELETED"}},
        "envelope.eventType",
    ),
    "cidr-host-bits": (
        build_updated(),
        lambda r: {**r, "allowSourceCidr": ["10.0.0.1/8"]},
        "allowSourceCidr.0",
    ),
    "created-id-mismatch": (
        build_created(),
        lambda r: {**r, "credential": {**r["credential"], "id": "other"}},
        "credential.id",
    ),
    "update-without-change": (build_updated(), lambda r: {**r, "displayName": None}, "(event)"),
    "blank-role": (
        build_roles_scoped(),
        lambda r: {**r, "scopedRoles": ["ok", ""]},
        "scopedRoles.1",
    ),
}


@pytest.mark.parametrize("name", list(INVALID_VALUES))
def test_valid_avro_with_invalid_values_raises_invalid_event_error(name: str) -> None:
    event, corrupt, field = INVALID_VALUES[name]
    data = _write(event.schema_name, corrupt(event.to_record()))
    # the bytes themselves are well-formed Avro
    writer = default_registry().current(event.schema_name)
    fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.schema, None)
    with pytest.raises(InvalidEventError) as info:
        CODEC.decode(data)
    assert field in [problem.field for problem in info.value.problems]
    assert not isinstance(info.value, DecodeError)


def test_unmodified_direct_write_decodes() -> None:
    """Control for the test above: the direct-write helper itself yields decodable bytes."""
    for event in one_of_each():
        assert CODEC.decode(_write(event.schema_name, event.to_record())) == event


# --- fuzzing -------------------------------------------------------------------------------

SAMPLES = [CODEC.encode(make()) for name, make in EDGE_EVENTS.items() if "5000" not in name]
HEADERS = sorted({sample[:10] for sample in SAMPLES})


def _decode_or_contract_error(data: bytes) -> None:
    try:
        event = CODEC.decode(data)
    except (DecodeError, InvalidEventError):
        return
    # a mutation may leave a valid event (e.g. a changed letter inside a display name)
    assert isinstance(event, LifecycleEvent)
    assert CODEC.decode(CODEC.encode(event)) == event


FUZZ = settings(
    max_examples=400, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.timeout(300)
@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_contract_errors(data: bytes) -> None:
    _decode_or_contract_error(data)


@pytest.mark.timeout(300)
@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=400))
def test_random_bodies_behind_valid_headers_only_raise_contract_errors(
    header: bytes, body: bytes
) -> None:
    _decode_or_contract_error(header + body)


Mutation = tuple[str, int, int]

MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "delete", "insert", "overwrite"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=255),
)


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in mutations:
        if not buffer:
            break
        index = position % len(buffer)
        if kind == "flip":
            buffer[index] ^= 1 << (value % 8)
        elif kind == "truncate":
            del buffer[index:]
        elif kind == "delete":
            del buffer[index]
        elif kind == "insert":
            buffer.insert(index, value)
        else:
            buffer[index] = value
    return bytes(buffer)


def test_mutate_changes_bytes() -> None:
    """Control: the mutation helper really alters messages (else the fuzz test proves nothing)."""
    sample = SAMPLES[0]
    assert mutate(sample, [("flip", 12, 0)]) != sample
    assert mutate(sample, [("truncate", 12, 0)]) == sample[:12]
    assert len(mutate(sample, [("insert", 3, 7)])) == len(sample) + 1


@pytest.mark.timeout(300)
@settings(
    max_examples=1500, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
@given(st.sampled_from(SAMPLES), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_messages_only_raise_contract_errors(
    sample: bytes, mutations: list[Mutation]
) -> None:
    _decode_or_contract_error(mutate(sample, mutations))


@pytest.mark.timeout(300)
@FUZZ
@given(st.sampled_from(SAMPLES), st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_every_single_bit_flip_is_handled(sample: bytes, position: int, bit: int) -> None:
    _decode_or_contract_error(mutate(sample, [("flip", position, bit)]))


def test_every_truncation_of_every_sample_is_a_decode_error() -> None:
    for sample in SAMPLES:
        for length in range(len(sample)):
            with pytest.raises(DecodeError):
                CODEC.decode(sample[:length])


# --- independent check of the wire format ----------------------------------------------------
# CRC-64-AVRO and the parsing canonical form, implemented here from the Avro specification
# ("Schema Fingerprints", "Parsing Canonical Form for Schemas", "Single-object encoding").

CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    fp = CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "enum", "fixed"}


def _fullname(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def canonical_form(
    schema: Any,
    files: dict[str, Any] | None = None,
    namespace: str | None = None,
    seen: set[str] | None = None,
) -> str:
    """Parsing Canonical Form: [PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [STRINGS] [INTEGERS]
    [WHITESPACE]; a named type defined in another .avsc file is inlined at first use."""
    files = files or {}
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return json.dumps(schema, ensure_ascii=False)
        name = _fullname(schema, namespace)
        if name in seen or name not in files:
            return json.dumps(name, ensure_ascii=False)
        return canonical_form(files[name], files, namespace, seen)
    if isinstance(schema, list):
        return (
            "["
            + ",".join(canonical_form(branch, files, namespace, seen) for branch in schema)
            + "]"
        )
    kind = schema["type"]
    if kind in PRIMITIVES:
        return json.dumps(kind)
    if kind not in NAMED:
        inner = {"array": "items", "map": "values"}[kind]
        return (
            f'{{"type":{json.dumps(kind)},"{inner}":'
            f"{canonical_form(schema[inner], files, namespace, seen)}}}"
        )
    name = _fullname(schema["name"], schema.get("namespace", namespace))
    seen.add(name)
    own_namespace = name.rpartition(".")[0] or None
    parts = [f'"name":{json.dumps(name, ensure_ascii=False)}', f'"type":{json.dumps(kind)}']
    if kind == "record":
        fields = ",".join(
            f'{{"name":{json.dumps(field["name"], ensure_ascii=False)},'
            f'"type":{canonical_form(field["type"], files, own_namespace, seen)}}}'
            for field in schema["fields"]
        )
        parts.append(f'"fields":[{fields}]')
    elif kind == "enum":
        parts.append(f'"symbols":{json.dumps(schema["symbols"], separators=(",", ":"))}')
    else:
        parts.append(f'"size":{int(schema["size"])}')
    return "{" + ",".join(parts) + "}"


# Vectors from Apache Avro's share/test/data/schema-tests.txt (signed 64-bit in that file).
SPEC_VECTORS: list[tuple[str, str, int]] = [
    ('"null"', '"null"', 7195948357588979594),
    ('"int"', '"int"', 8247732601305521295),
    ('"string"', '"string"', -8142146995180207161),
    (
        '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
        '{"name":"x.y.foo","type":"record","fields":[]}',
        5916914534497305771,
    ),
    (
        '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
        '{"name":"a.b.foo","type":"record","fields":[]}',
        -4616218487480524110,
    ),
    (
        '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},'
        '{"order":"descending","name":"f2","doc":"Hello","type":"int"}],'
        ' "type":"record", "name":"foo"}',
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},'
        '{"name":"f2","type":"int"}]}',
        -4860222112080293046,
    ),
    (
        '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar",'
        ' "symbols":["A1", "A2"]}',
        '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
        -4448647247586288245,
    ),
    (
        '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
        '{"name":"x.y.z.foo","type":"fixed","size":32}',
        -3064184465700546786,
    ),
    (
        '{ "items":{"type":"null"}, "type":"array"}',
        '{"type":"array","items":"null"}',
        -589620603366471059,
    ),
    (
        '{ "values":"string", "type":"map"}',
        '{"type":"map","values":"string"}',
        -8732877298790414990,
    ),
    (
        '{"name":"PigValue","type":"record",'
        '"fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
        '{"name":"PigValue","type":"record","fields":[{"name":"value","type":'
        '["null","int","long","PigValue"]}]}',
        -1759257747318642341,
    ),
]


@pytest.mark.parametrize(("schema", "canonical", "fingerprint"), SPEC_VECTORS)
def test_own_canonical_form_and_crc64_match_the_avro_spec_vectors(
    schema: str, canonical: str, fingerprint: int
) -> None:
    assert canonical_form(json.loads(schema)) == canonical
    assert crc64_avro(canonical.encode()) == fingerprint & 0xFFFF_FFFF_FFFF_FFFF


def _avsc_files() -> dict[str, Any]:
    files = {}
    for path in sorted(AVSC_DIR.glob("*.avsc")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        name = _fullname(schema["name"], schema.get("namespace"))
        assert path.name == f"{name}.avsc"
        files[name] = schema
    return files


def _consumer_schema(name: str, files: dict[str, Any]) -> Any:
    """What a downstream consumer does with only the .avsc files: parse the shared named
    types first, then the event record that refers to them."""
    named: dict[str, Any] = {}
    for shared in ("clientaudit.events.Envelope", "clientaudit.events.PersonalClient"):
        fastavro.parse_schema(files[shared], named_schemas=named)
    return fastavro.parse_schema(files[name], named_schemas=named)


def test_every_event_class_has_an_avsc_file() -> None:
    files = _avsc_files()
    assert set(EVENT_CLASSES_BY_SCHEMA) <= set(files)
    assert set(files) - set(EVENT_CLASSES_BY_SCHEMA) == {
        "clientaudit.events.Envelope",
        "clientaudit.events.PersonalClient",
        "clientaudit.alerts.Alert",
    }


@pytest.mark.parametrize("name", list(EDGE_EVENTS))
def test_message_bytes_are_the_documented_single_object_encoding(name: str) -> None:
    event = EDGE_EVENTS[name]()
    files = _avsc_files()
    canonical = canonical_form(files[event.schema_name], files)
    fingerprint = struct.pack("<Q", crc64_avro(canonical.encode("utf-8")))

    data = CODEC.encode(event)

    assert data[:2] == bytes([0xC3, 0x01])
    assert data[2:10] == fingerprint
    body = io.BytesIO(data[10:])
    record = fastavro.schemaless_reader(body, _consumer_schema(event.schema_name, files), None)
    assert body.tell() == len(data) - 10, "the body is exactly one record"
    assert record == event.to_record()
    # and the canonical form is what the registry fingerprints (same text, not just same hash)
    assert default_registry().current(event.schema_name).canonical_form == canonical


def test_fingerprints_differ_per_event_type() -> None:
    files = _avsc_files()
    prints = {
        crc64_avro(canonical_form(files[name], files).encode()) for name in EVENT_CLASSES_BY_SCHEMA
    }
    assert len(prints) == len(EVENT_CLASSES_BY_SCHEMA)
