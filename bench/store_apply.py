"""Throughput of ProjectionStore.apply for one 5,000-event batch, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.store_apply [--events 5000] [--postgres-url URL]

PostgreSQL is measured when --postgres-url or TEST_DATABASE_URL is set; the run uses a
temporary schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.services import fresh_postgres
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.model.positioned import PositionedEvent
from projections.write.store import ProjectionStore
from schemas.models import (
    Actor,
    ActorKind,
    CredentialCreated,
    CredentialUsed,
    Envelope,
    EventType,
    LifecycleEvent,
    PersonalClient,
    UseOutcome,
)

TOPIC = "bench.lifecycle"
T0 = datetime(2026, 3, 3, tzinfo=UTC)


def envelope(event_type: EventType, credential: int, sequence: int) -> Envelope:
    at = T0 + timedelta(seconds=credential * 100 + sequence)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        credential_id=f"cred-{credential}",
        client_id=f"client-{credential}",
        user_id=f"user-{credential % 97}",
        occurred_at=at,
        recorded_at=at,
        sequence=sequence,
        actor=Actor(kind=ActorKind.USER, id=f"user-{credential % 97}"),
        correlation_id=uuid.uuid4().hex,
        source="bench",
    )


def history(credential: int, length: int, first_sequence: int) -> list[LifecycleEvent]:
    events: list[LifecycleEvent] = []
    for sequence in range(first_sequence, first_sequence + length):
        if sequence == 1:
            record = PersonalClient(
                display_name=f"credential {credential}",
                scoped_roles=("reader",),
                allow_source_cidr=("10.0.0.0/8", "2001:db8::/32"),
            )
            events.append(
                CredentialCreated(
                    envelope=envelope(EventType.CREATED, credential, 1), credential=record
                )
            )
        else:
            base = envelope(EventType.USED, credential, sequence)
            events.append(
                CredentialUsed(
                    envelope=base,
                    source_ip=f"10.{credential % 250}.{sequence % 3}.1",
                    used_at=base.occurred_at,
                    outcome=UseOutcome.ALLOWED,
                )
            )
    return events


def batch(
    total: int, per_credential: int, first_sequence: int, first_offset: int
) -> list[PositionedEvent]:
    credentials = total // per_credential
    events = [
        event
        for credential in range(credentials)
        for event in history(credential, per_credential, first_sequence)
    ]
    return [
        PositionedEvent(event, TOPIC, index % 6, first_offset + index // 6)
        for index, event in enumerate(events)
    ]


def offsets_after(placed: list[PositionedEvent]) -> dict[tuple[str, int], int]:
    next_offsets: dict[tuple[str, int], int] = {}
    for positioned in placed:
        key = (positioned.topic, positioned.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), positioned.offset + 1)
    return next_offsets


def measure(name: str, url: str, total: int) -> None:
    migrate.upgrade(url)
    engine = create_engine_for(url)
    try:
        store = ProjectionStore(engine)
        first = batch(total, 10, 1, 0)
        again = batch(total, 10, 11, len(first) // 6 + 1)
        for label, placed in (("new credentials", first), ("existing credentials", again)):
            started = time.perf_counter()
            result = store.apply(placed, offsets_after(placed))
            elapsed = time.perf_counter() - started
            print(
                f"{name:10} {label:21} {result.applied:6d} events in {elapsed:6.3f} s"
                f"  = {result.applied / elapsed:8.0f} events/s"
            )
        started = time.perf_counter()
        result = store.apply(first, offsets_after(first))
        elapsed = time.perf_counter() - started
        print(
            f"{name:10} {'re-delivery':21} {result.duplicates:6d} events in {elapsed:6.3f} s"
            f"  = {result.duplicates / elapsed:8.0f} events/s (all skipped)"
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        measure("sqlite", f"sqlite:///{Path(directory) / 'bench.db'}", arguments.events)
    if arguments.postgres_url:
        with fresh_postgres(arguments.postgres_url) as url:
            measure("postgresql", url, arguments.events)
    else:
        print("postgresql skipped: set TEST_DATABASE_URL or --postgres-url")


if __name__ == "__main__":
    main()
