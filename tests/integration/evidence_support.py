"""Helpers of the evidence tests: a seeded log with signed checkpoints, and an attacker with
write access to the database who recomputes every hash, leaf, node and head after a change."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy import Connection

from client_audit.cli.main import cli as main_cli
from projections.chain import checkpoints
from projections.chain.checkpoints import Checkpoint
from projections.chain.hashing import GENESIS_HASH, entry_document, entry_leaf, link_hash
from projections.chain.merkle import Frontier
from projections.chain.signing import SigningKey, public_pem
from projections.db.engine import create_engine_for
from projections.db.rows import event_from_payload
from projections.db.tables import audit_chain_heads, audit_log, merkle_logs, merkle_nodes
from schemas.models import DenialReason, LifecycleEvent
from tests.builders_projection import History
from tests.seeding import seed

TOPIC = "t-evidence.lifecycle"


def history() -> list[LifecycleEvent]:
    """Three credentials over two partitions (cred-a and cred-c in 0, cred-d in 1): uses
    allowed and denied, flags, a deletion and a use after it."""
    first, second, third = History("cred-a"), History("cred-d"), History("cred-c")
    events: list[LifecycleEvent] = []
    for round_ in range(6):
        events += [
            first.used("10.0.0.1") if round_ else first.created(allow_source_cidr=("10.0.0.0/8",)),
            second.used("192.0.2.9", denied=DenialReason.OUTSIDE_ALLOWED_CIDRS)
            if round_
            else second.created(allow_source_cidr=("10.0.0.0/8",)),
            third.created() if not round_ else third.used(f"2001:db8::{round_}"),
        ]
    events.append(second.deleted())
    events.append(second.used("10.0.0.2"))
    return events


@contextlib.contextmanager
def connected(url: str) -> Iterator[Connection]:
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def sign_checkpoint(url: str, key: SigningKey, at: datetime | None = None) -> Checkpoint:
    """A checkpoint of the store's logs now, signed by ``key`` and stored."""
    with connected(url) as connection:
        heads = checkpoints.current_heads(connection)
        made = checkpoints.signed(key, at or datetime.now(UTC), heads)
        checkpoints.store(connection, made, key)
    return made


def tail() -> list[LifecycleEvent]:
    """Entries recorded after the last checkpoint (the log moves on between checkpoints)."""
    late = History("cred-e")
    return [late.created(), late.used("10.1.1.1"), late.used("10.1.1.2")]


def seeded_with_checkpoints(url: str, key: SigningKey) -> list[LifecycleEvent]:
    """The history in two batches, a checkpoint after each, then a tail no checkpoint
    covers yet. Partition 0 holds 12 entries (checkpoints at sizes 7 and 12); partition 1
    holds 8 (checkpoints at 3 and 8) and the tail of 3. Partition 1's denied uses are its
    leaves 1 to 5 (positions 5, 8, 11, 14, 17)."""
    events = history()
    half = len(events) // 2
    seed(url, events[:half], topic=TOPIC, partitions=2)
    sign_checkpoint(url, key)
    apply_more(url, events[half:])
    sign_checkpoint(url, key)
    apply_more(url, tail())
    return events


def apply_more(url: str, events: list[LifecycleEvent]) -> None:
    from projections.write.store import ProjectionStore
    from tests.seeding import partition_of

    engine = create_engine_for(url)
    try:
        store = ProjectionStore(engine)
        offsets: dict[tuple[str, int], int] = {}
        with engine.connect() as connection:
            for partition, offset in connection.execute(
                sa.select(audit_chain_heads.c.partition, audit_chain_heads.c.last_offset)
            ):
                offsets[(TOPIC, partition)] = offset + 1
        from projections.model.positioned import PositionedEvent

        placed = []
        for event in events:
            key = (TOPIC, partition_of(event.credential_id, 2))
            offset = offsets.get(key, 0)
            placed.append(PositionedEvent(event, key[0], key[1], offset))
            offsets[key] = offset + 1
        store.apply(placed, offsets)
    finally:
        engine.dispose()


def public_key_file(key: SigningKey, folder: Path) -> Path:
    path = folder / f"{key.key_id}.pem"
    path.write_text(public_pem(key.public))
    return path


Tamper = Callable[[Connection], object]


def tamper_and_cover_up(url: str, change: Tamper) -> None:
    """Apply ``change`` in SQL, then recompute every partition's chain hashes, leaf indexes,
    Merkle nodes and heads from the rows as they now are, as an attacker with the code and
    write access to the database would."""
    with connected(url) as connection:
        change(connection)
        connection.execute(merkle_nodes.delete())
        partitions = connection.execute(
            sa.select(audit_log.c.kafka_topic, audit_log.c.kafka_partition).distinct()
        ).all()
        for topic, partition in partitions:
            _rechain(connection, topic, partition)


def _rechain(connection: Connection, topic: str, partition: int) -> None:
    rows = connection.execute(
        sa.select(
            audit_log.c.position,
            audit_log.c.event_type,
            audit_log.c.payload,
            audit_log.c.anomalies,
            audit_log.c.kafka_offset,
        )
        .where(audit_log.c.kafka_topic == topic, audit_log.c.kafka_partition == partition)
        .order_by(audit_log.c.kafka_offset)
    ).all()
    log_id = connection.execute(
        sa.select(merkle_logs.c.log_id).where(
            merkle_logs.c.topic == topic, merkle_logs.c.partition == partition
        )
    ).scalar_one()
    frontier, previous, last = Frontier(), GENESIS_HASH, -1
    for position, event_type, payload, flags, offset in rows:
        event = event_from_payload(event_type, payload)
        document = entry_document(event, list(flags), topic, partition, offset)
        chain = link_hash(previous, document)
        index = frontier.size
        nodes = frontier.append(entry_leaf(document))
        connection.execute(
            audit_log.update()
            .where(audit_log.c.position == position)
            .values(previous_hash=previous, chain_hash=chain, leaf_index=index)
        )
        connection.execute(
            merkle_nodes.insert(),
            [
                {"log_id": log_id, "level": level, "idx": idx, "hash": value}
                for level, idx, value in nodes
            ],
        )
        previous, last = chain, offset
    connection.execute(
        audit_chain_heads.update()
        .where(audit_chain_heads.c.topic == topic, audit_chain_heads.c.partition == partition)
        .values(
            chain_hash=previous,
            length=frontier.size,
            last_offset=last,
            frontier=[value.hex() for value in frontier.hashes],
        )
    )


def cli(url: str, *args: str) -> Result:
    """``client-audit --database-url URL --topic TOPIC <args>``, output captured."""
    arguments = ["--database-url", url, "--topic", TOPIC, *args]
    return CliRunner().invoke(main_cli, arguments, catch_exceptions=False)


def checkpoint_rows(result: Result) -> list[dict[str, Any]]:
    """The checkpoint lines ``verify-log --checkpoints --format jsonl`` printed."""
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [line for line in lines if line["check"] == "checkpoint"]


def results_of(result: Result) -> set[str]:
    return {line["result"] for line in checkpoint_rows(result)}
