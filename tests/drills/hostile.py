"""What a hostile upstream sends: messages the projector must refuse, and odd valid events it
must apply. Every case of the hostile-input issue is here, made from a seeded random source.

Refused (each with a word its dead letter's reason must contain):

- random bytes, truncated Avro, an unknown schema fingerprint, schema-invalid values
  (tests.drills.malformed);
- an undecodable value of 5 MB that compresses well, so the lifecycle topic takes it; and one
  of 70 MB, too large even for the dead-letter producer, which gets a digest dead letter;
- a schema-valid event holding NUL or an escape sequence (display name, ids, roles);
- an event above the contract's encoded size, an id above its length;
- a JSON value nested 100,000 deep (not Avro at all);
- a valid event under a wrong key, no key, or a key that is not UTF-8 (whose replacement
  decoding would match the event's id);
- a valid event reusing the id of a stream event with other content, sent after it under
  the same key.

Applied (valid, however odd): IPv4-mapped addresses written in hex, display names that
spreadsheets would run as formulas, ids with slashes and other scripts.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from fastavro import schemaless_writer

from schemas.codec import EventCodec
from schemas.limits import IDENTIFIER_MAX
from schemas.models import CredentialCreated, CredentialUsed, LifecycleEvent
from schemas.registry import default_registry
from schemas.wire import MARKER
from tests.builders import T0, build_created, build_used, created_record, used_record
from tests.drills.malformed import MalformedMessage, malformed_messages
from tests.drills.stream import StreamMessage

KIND_HEADER = "drill-hostile-kind"
CODEC = EventCodec()

LARGE_COPYABLE = 5 * 1024 * 1024
LARGE_UNCOPYABLE = 70 * 1024 * 1024


def encode_unchecked(event_class: type[LifecycleEvent], record: dict[str, object]) -> bytes:
    """A record in the current writer schema's single-object encoding, not validated: valid
    Avro whatever the values."""
    writer = default_registry().current(event_class.schema_name)
    buffer = io.BytesIO()
    buffer.write(MARKER + writer.fingerprint)
    schemaless_writer(buffer, writer.schema, record)
    return buffer.getvalue()


@dataclass(frozen=True)
class Hostile:
    """One message to refuse: its key and value, its kind, a word its reason must hold, and
    the event id it must not displace (for a reused id)."""

    key: bytes | None
    value: bytes
    kind: str
    expected_reason: str
    after: str | None = None
    """The stream event id that must be sent before this message (under the same key)."""

    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        return ((KIND_HEADER, self.kind.encode()),)


@dataclass(frozen=True)
class OddValid:
    """A valid event a naive pipeline would mangle, and what must be stored of it."""

    key: bytes
    value: bytes
    event_id: str
    checks: dict[str, object] = field(default_factory=dict)


def hostile_messages(
    count: int, valid: Sequence[StreamMessage], rng: random.Random
) -> list[Hostile]:
    """``count`` or more refusable messages: every kind below, then the four kinds of
    tests.drills.malformed to fill up."""
    made = [*_oversized(), *_control_characters(rng), *_over_limits(), *_keys(rng),
            *_reused_ids(valid, rng), _deep_json()]
    fill = malformed_messages(max(0, count - len(made)), valid, rng)
    made.extend(_from_malformed(message) for message in fill)
    return made


def _from_malformed(message: MalformedMessage) -> Hostile:
    return Hostile(message.key, message.value, message.kind, message.expected_reason)


def _oversized() -> list[Hostile]:
    return [
        Hostile(b"cred-oversized-1", b"\x00" * LARGE_COPYABLE, "oversized-5MB", "larger than"),
        Hostile(b"cred-oversized-2", b"\xc3\x01" + b"\x07" * LARGE_COPYABLE, "oversized-5MB",
                "larger than"),
        Hostile(b"cred-oversized-3", b"\x00" * LARGE_UNCOPYABLE, "oversized-70MB",
                "larger than"),
    ]


def _control_characters(rng: random.Random) -> list[Hostile]:
    found = []
    for index, (field_name, text) in enumerate(
        [("displayName", "evil\x00name"), ("displayName", "\x1b[2J\x1b[31mred"),
         ("displayName", "line\nbreak"), ("credentialId", "cred\x00nul"),
         ("userId", "user\x1b]0;title\x07"), ("role", "ad\x00min"),
         ("actorId", "mallory\u202eevil"), ("credentialId", "cred\u200bzero-width")] * 5
    ):
        credential = f"cred-control-{index:03d}"
        record = created_record(credential_id=credential, sequence=1)
        if field_name == "displayName":
            record["credential"]["displayName"] = text
        elif field_name == "role":
            record["credential"]["scopedRoles"] = ["reader", text]
        elif field_name == "actorId":
            record["envelope"]["actor"]["id"] = text
        else:
            name = {"credentialId": "credentialId", "userId": "userId"}[field_name]
            record["envelope"][name] = text
            record["credential"]["id" if name == "credentialId" else "userId"] = text
        key = record["envelope"]["credentialId"].encode("utf-8", "surrogatepass")
        found.append(Hostile(key, encode_unchecked(CredentialCreated, record),
                             f"control-{field_name}", "must not contain"))
    rng.shuffle(found)
    return found


def _over_limits() -> list[Hostile]:
    long_id = "c" * 600
    record = created_record(credential_id=long_id, sequence=1)
    record["credential"]["id"] = long_id
    roles = [f"{index:04d}" + "r" * (IDENTIFIER_MAX - 4) for index in range(5000)]
    big = created_record(credential_id="cred-huge-roles", sequence=1)
    big["credential"]["scopedRoles"] = roles
    return [
        Hostile(long_id.encode(), encode_unchecked(CredentialCreated, record), "id-over-limit",
                f"at most {IDENTIFIER_MAX} characters"),
        Hostile(b"cred-huge-roles", encode_unchecked(CredentialCreated, big),
                "event-over-limit", "larger than the contract"),
    ]


def _keys(rng: random.Random) -> list[Hostile]:
    found = []
    for index in range(10):
        event = build_used(credential_id=f"cred-keyed-{index}", sequence=1)
        value = CODEC.encode(event)
        found.append(Hostile(b"someone-else", value, "wrong-key", "differs from"))
        found.append(Hostile(None, value, "missing-key", "has no key"))
    replaced = build_used(credential_id="\ufffd\ufffd", sequence=1)
    found.append(Hostile(b"\xff\xfe", CODEC.encode(replaced), "non-utf8-key", "not UTF-8"))
    return found


def _reused_ids(valid: Sequence[StreamMessage], rng: random.Random) -> list[Hostile]:
    found = []
    for original in rng.sample(list(valid), 10):
        event = CODEC.decode(original.value)
        forged = event.model_copy(
            update={"envelope": event.envelope.model_copy(update={"source": "forger"})}
        )
        found.append(Hostile(original.key, CODEC.encode(forged), "reused-event-id",
                             "already recorded with other content", str(event.event_id)))
    return found


def _deep_json() -> Hostile:
    return Hostile(b"cred-deep", b"[" * 100_000 + b"]" * 100_000, "deep-json", "single-object")


def odd_valid_events(count: int) -> list[OddValid]:
    """Valid events a naive pipeline mangles (count of them, several kinds in turn)."""
    found: list[OddValid] = []
    for index in range(count):
        kind = index % 4
        credential = ["cred/odd/ü/ユーザー", "cred-formula", "cred-mapped", "cred-rtl"][kind]
        credential = f"{credential}-{index:03d}"
        at = T0 + timedelta(minutes=index)
        event: LifecycleEvent
        if kind == 2:
            event = CredentialUsed.from_record(
                used_record(credential_id=credential, sequence=1, source_ip="::ffff:a01:203",
                            occurred_at=at)
            )
            checks: dict[str, object] = {"source_ip": "::ffff:10.1.2.3"}
        else:
            name = {0: "laptop", 1: '=HYPERLINK("http://evil.example/","x")',
                    3: "\u202eevil-looking"}[kind]
            event = build_created(credential_id=credential, sequence=1, display_name=name,
                                  occurred_at=at, event_id=uuid.uuid5(uuid.NAMESPACE_URL,
                                                                      credential))
            checks = {"credential_id": credential}
        found.append(OddValid(credential.encode(), CODEC.encode(event), str(event.event_id),
                              checks))
    return found
