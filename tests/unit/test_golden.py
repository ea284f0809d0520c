"""Golden bytes: fixed events encode to exactly the checked-in messages, and back.

A failure here means the bytes on the wire changed. If that is an intentional new schema
version, release it (schemas/history/vN+1) and run ``python -m tests.golden.regenerate``;
otherwise the change broke the contract for every downstream consumer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.codec import EventCodec
from schemas.models import EventType
from schemas.registry import default_registry
from schemas.wire import MARKER
from tests.golden.regenerate import GOLDEN_PATH, golden_document, golden_events

CODEC = EventCodec()
EVENTS = golden_events()


def _golden() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
    entries: dict[str, Any] = document["events"]
    return entries


GOLDEN = _golden()


def test_golden_file_covers_exactly_the_golden_events() -> None:
    assert set(GOLDEN) == set(EVENTS)


def test_golden_events_cover_every_event_type() -> None:
    assert {event.event_type for event in EVENTS.values()} == set(EventType)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_encode_gives_the_golden_bytes(name: str) -> None:
    event = EVENTS[name]
    golden = bytes.fromhex(GOLDEN[name]["hex"])
    assert CODEC.encode(event).hex() == golden.hex()


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_decode_of_the_golden_bytes_gives_the_event(name: str) -> None:
    golden = bytes.fromhex(GOLDEN[name]["hex"])
    decoded = CODEC.decode(golden)
    assert decoded == EVENTS[name]
    assert type(decoded) is type(EVENTS[name])


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_golden_header_names_its_schema(name: str) -> None:
    entry = GOLDEN[name]
    golden = bytes.fromhex(entry["hex"])
    assert golden[:2] == MARKER
    assert golden[2:10].hex() == entry["fingerprint"]
    writer = default_registry().by_fingerprint(golden[2:10])
    assert writer is not None
    assert writer.name == entry["schema"] == EVENTS[name].schema_name


def test_regenerating_would_change_nothing() -> None:
    """The checked-in file is exactly what the script writes (nobody hand-edited it)."""
    assert golden_document()["events"] == GOLDEN
