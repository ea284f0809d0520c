"""Messages the projector must refuse, of four kinds, made from a seeded random source."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass

from fastavro import schemaless_writer

from schemas.registry import default_registry
from schemas.wire import HEADER_SIZE, MARKER
from tests.builders import used_record
from tests.drills.stream import StreamMessage

KIND_HEADER = "drill-malformed-kind"
RANDOM_BYTES = "random-bytes"
TRUNCATED = "truncated-avro"
UNKNOWN_FINGERPRINT = "unknown-fingerprint"
INVALID_VALUES = "invalid-values"
KINDS = (RANDOM_BYTES, TRUNCATED, UNKNOWN_FINGERPRINT, INVALID_VALUES)

INVALID_USES: tuple[tuple[dict[str, object], str], ...] = (
    ({"source_ip": "not-an-ip"}, "sourceIp"),
    ({"denial_reason": "EXPIRED"}, "denialReason"),
    ({"outcome": "DENIED"}, "denialReason"),
    ({"sequence": 0}, "envelope.sequence"),
    ({"actor_id": " "}, "envelope.actor.id"),
)
"""Valid Avro, invalid values: the mutation of a use record, and the field the error names."""


@dataclass(frozen=True)
class MalformedMessage:
    """One message to refuse, the kind it is, and a word its refusal reason must contain."""

    key: bytes
    value: bytes
    kind: str
    expected_reason: str

    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        return ((KIND_HEADER, self.kind.encode()),)


def malformed_messages(
    count: int, valid: Sequence[StreamMessage], rng: random.Random
) -> list[MalformedMessage]:
    """``count`` refusable messages, the four kinds in turn, keyed over many partitions."""
    return [_malformed(index, KINDS[index % len(KINDS)], valid, rng) for index in range(count)]


def _malformed(
    index: int, kind: str, valid: Sequence[StreamMessage], rng: random.Random
) -> MalformedMessage:
    key = f"cred-malformed-{index:05d}".encode()
    original = rng.choice(valid).value
    if kind == RANDOM_BYTES:
        return MalformedMessage(key, rng.randbytes(rng.randint(0, 300)), kind, "")
    if kind == TRUNCATED:
        cut = rng.randint(HEADER_SIZE, len(original) - 1)
        return MalformedMessage(key, original[:cut], kind, "not valid Avro")
    if kind == UNKNOWN_FINGERPRINT:
        value = MARKER + rng.randbytes(8) + original[HEADER_SIZE:]
        return MalformedMessage(key, value, kind, "unknown writer schema fingerprint")
    mutation, field = INVALID_USES[index // len(KINDS) % len(INVALID_USES)]
    credential_id = key.decode()
    record = used_record(credential_id=credential_id, **{"sequence": 2, **mutation})
    writer = default_registry().current("clientaudit.events.CredentialUsed")
    buffer = io.BytesIO()
    buffer.write(MARKER + writer.fingerprint)
    schemaless_writer(buffer, writer.schema, record)
    return MalformedMessage(key, buffer.getvalue(), kind, field)
