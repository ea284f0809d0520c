"""Evidence: v2 entry documents (RFC 8785, flags included), Merkle logs, signed checkpoints.

Every audit row is re-hashed here with the v2 entry document, which also commits to the
row's anomaly flags, and gets its ``leaf_index`` (its place in its partition's Merkle log,
offset order); each partition's Merkle log is built from its rows (every completed perfect
subtree stored in ``merkle_nodes``) and its head records the log's frontier. The heads of
the v1 chain are kept in ``audit_chain_v1_heads`` with the time they were replaced: a v1
head hash recorded elsewhere before the upgrade can be matched there, and nothing after it
is comparable with the v1 chain. Re-hashing must not launder a log altered before the
upgrade, so every row's v1 hash and link is checked as it is re-hashed, and the end of each
partition's chain against its v1 head: ``intact`` and ``first_break_offset`` record the
result, which ``verify-log`` reports from then on. Tables for signing keys and signed
checkpoints are added (empty: checkpoints are made by a projector given a signing key).

The downgrade drops what this revision added and re-hashes every row with the v1 chain.
The code below is a frozen copy of what this revision runs; later changes to the live code
do not change it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00+00:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 5_000
GENESIS_HASH = "0" * 64
ENTRY_FORMAT = "client-audit/audit-entry/v2"
SAFE_INTEGER = 2**53 - 1
INSTANT_FIELDS = frozenset(
    {"occurredAt", "recordedAt", "createdAt", "updatedAt", "lastUsedAt", "expiresTime",
     "deletedAt", "usedAt"}
)

Link = Callable[[str, dict[str, Any], list[str], str, int, int], tuple[str, bytes]]
"""(previous hash, payload, anomalies, topic, partition, offset) -> (chain hash, leaf hash)."""


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


_audit = sa.table(
    "audit_log",
    sa.column("position", sa.BigInteger()),
    sa.column("payload", sa.JSON()),
    sa.column("anomalies", sa.JSON()),
    sa.column("kafka_topic", sa.Text()),
    sa.column("kafka_partition", sa.Integer()),
    sa.column("kafka_offset", sa.BigInteger()),
    sa.column("previous_hash", sa.String()),
    sa.column("chain_hash", sa.String()),
    sa.column("leaf_index", sa.BigInteger()),
)
_heads = sa.table(
    "audit_chain_heads",
    sa.column("topic", sa.Text()),
    sa.column("partition", sa.Integer()),
    sa.column("last_offset", sa.BigInteger()),
    sa.column("chain_hash", sa.String()),
    sa.column("length", sa.BigInteger()),
    sa.column("frontier", sa.JSON()),
)
_logs = sa.table(
    "merkle_logs",
    sa.column("log_id", sa.Integer()),
    sa.column("topic", sa.Text()),
    sa.column("partition", sa.Integer()),
)
_nodes = sa.table(
    "merkle_nodes",
    sa.column("log_id", sa.Integer()),
    sa.column("level", sa.Integer()),
    sa.column("idx", sa.BigInteger()),
    sa.column("hash", sa.LargeBinary()),
)
_v1_heads = sa.table(
    "audit_chain_v1_heads",
    sa.column("topic", sa.Text()),
    sa.column("partition", sa.Integer()),
    sa.column("last_offset", sa.BigInteger()),
    sa.column("chain_hash", sa.String()),
    sa.column("length", sa.BigInteger()),
    sa.column("replaced_at", _instant()),
    sa.column("intact", sa.Boolean()),
    sa.column("first_break_offset", sa.BigInteger()),
)


def _instant_text(value: str) -> str:
    instant = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(value: Any, name: str | None = None) -> Any:
    if isinstance(value, dict):
        return {
            key: _canonical(member, key) for key, member in value.items() if member is not None
        }
    if isinstance(value, list):
        return [_canonical(member) for member in value]
    if name in INSTANT_FIELDS and isinstance(value, str):
        return _instant_text(value)
    return value


def v2_document(
    payload: dict[str, Any], anomalies: list[str], topic: str, partition: int, offset: int
) -> bytes:
    """The v2 entry document (RFC 8785 text, UTF-8) of a stored row."""
    sequence = payload.get("envelope", {}).get("sequence", 0)
    for name, value in (("partition", partition), ("offset", offset), ("sequence", sequence)):
        if abs(int(value)) > SAFE_INTEGER:
            raise RuntimeError(
                f"{topic}[{partition}]@{offset}: {name} {value} is beyond RFC 8785's exact "
                "integers (2^53 - 1); this row cannot be given a v2 entry document"
            )
    document = {
        "anomalies": list(anomalies),
        "event": _canonical(payload),
        "format": ENTRY_FORMAT,
        "offset": offset,
        "partition": partition,
        "topic": topic,
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def v2_link(
    previous: str, payload: dict[str, Any], anomalies: list[str], topic: str, partition: int,
    offset: int,
) -> tuple[str, bytes]:
    document = v2_document(payload, anomalies, topic, partition, offset)
    chain = hashlib.sha256(bytes.fromhex(previous) + document).hexdigest()
    return chain, hashlib.sha256(b"\x00" + document).digest()


def v1_link(
    previous: str, payload: dict[str, Any], _anomalies: list[str], topic: str, partition: int,
    offset: int,
) -> tuple[str, bytes]:
    document = {"event": _canonical(payload), "offset": offset, "partition": partition,
                "topic": topic}
    encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(bytes.fromhex(previous) + encoded).hexdigest(), b""


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The perfect subtrees of a Merkle log as leaves are appended (RFC 9162 hashing)."""

    def __init__(self) -> None:
        self.size = 0
        self.levels: list[int] = []
        self.hashes: list[bytes] = []

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        completed = [(0, index, leaf)]
        folded, level = leaf, 0
        while self.levels and self.levels[-1] == level:
            self.levels.pop()
            folded = _node(self.hashes.pop(), folded)
            level += 1
            completed.append((level, index >> level, folded))
        self.levels.append(level)
        self.hashes.append(folded)
        self.size += 1
        return completed


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("leaf_index", sa.BigInteger(), nullable=True))
    op.add_column("audit_chain_heads", sa.Column("frontier", _json(), nullable=True))
    op.create_table(
        "merkle_logs",
        sa.Column("log_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("log_id", name="pk_merkle_logs"),
        sa.UniqueConstraint("topic", "partition", name="uq_merkle_logs_topic_partition"),
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("log_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("log_id", "level", "idx", name="pk_merkle_nodes"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("first_used_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_signing_keys"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("checkpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("made_at", _instant(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("checkpoint_id", name="pk_checkpoints"),
    )
    op.create_index("ix_checkpoints_made_at", "checkpoints", ["made_at"])
    op.create_table(
        "checkpoint_logs",
        sa.Column("checkpoint_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("checkpoint_id", "topic", "partition",
                                name="pk_checkpoint_logs"),
    )
    op.create_index("ix_checkpoint_logs_partition_size", "checkpoint_logs",
                    ["topic", "partition", "size"])
    op.create_table(
        "audit_chain_v1_heads",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", _instant(), nullable=False),
        sa.Column("intact", sa.Boolean(), nullable=False),
        sa.Column("first_break_offset", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_audit_chain_v1_heads"),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    old = connection.execute(sa.select(_heads.c.topic, _heads.c.partition, _heads.c.last_offset,
                                       _heads.c.chain_hash, _heads.c.length)).all()
    if old:
        connection.execute(sa.insert(_v1_heads), [
            {"topic": t, "partition": p, "last_offset": o, "chain_hash": h, "length": n,
             "replaced_at": now, "intact": True, "first_break_offset": None}
            for t, p, o, h, n in old
        ])
    v1_heads = {(t, p): (o, h, n) for t, p, o, h, n in old}
    connection.execute(sa.update(_heads).values(frontier=[]))
    for topic, partition in _partitions(connection):
        connection.execute(sa.insert(_logs).values(topic=topic, partition=partition))
        log_id = connection.execute(sa.select(_logs.c.log_id).where(
            _logs.c.topic == topic, _logs.c.partition == partition)).scalar_one()
        walk = _rehash(connection, topic, partition, v2_link, int(log_id))
        _record_v1(connection, topic, partition, walk, v1_heads.get((topic, partition)), now)
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("leaf_index", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.alter_column("frontier", existing_type=_json(), nullable=False)


def downgrade() -> None:
    connection = op.get_bind()
    for topic, partition in _partitions(connection):
        _rehash(connection, topic, partition, v1_link, None)
    op.drop_table("audit_chain_v1_heads")
    op.drop_index("ix_checkpoint_logs_partition_size", table_name="checkpoint_logs")
    op.drop_table("checkpoint_logs")
    op.drop_index("ix_checkpoints_made_at", table_name="checkpoints")
    op.drop_table("checkpoints")
    op.drop_table("signing_keys")
    op.drop_table("merkle_nodes")
    op.drop_table("merkle_logs")
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.drop_column("frontier")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("leaf_index")


def _partitions(connection: sa.Connection) -> list[tuple[str, int]]:
    rows = connection.execute(
        sa.select(_audit.c.kafka_topic, _audit.c.kafka_partition).distinct()
        .order_by(_audit.c.kafka_topic, _audit.c.kafka_partition)
    ).all()
    return [(topic, partition) for topic, partition in rows]


class _V1Walk:
    """What re-hashing saw of the v1 chain: its end, and the first row that broke it."""

    def __init__(self) -> None:
        self.last: str = GENESIS_HASH
        self.last_offset = -1
        self.length = 0
        self.first_break: int | None = None

    def see(self, offset: int, stored_previous: str, stored_chain: str, payload: dict[str, Any],
            anomalies: list[str], topic: str, partition: int) -> None:
        expected, _leaf = v1_link(stored_previous, payload, anomalies, topic, partition, offset)
        if self.first_break is None and (stored_previous != self.last or stored_chain != expected):
            self.first_break = offset
        self.last, self.last_offset, self.length = stored_chain, offset, self.length + 1


def _record_v1(
    connection: sa.Connection, topic: str, partition: int, walk: _V1Walk,
    head: tuple[int, str, int] | None, now: datetime,
) -> None:
    """Record whether the v1 chain the re-hash replaced was intact up to its head."""
    first_break = walk.first_break
    if first_break is None and head != (walk.last_offset, walk.last, walk.length):
        first_break = walk.last_offset
    if head is None:
        connection.execute(sa.insert(_v1_heads).values(
            topic=topic, partition=partition, last_offset=walk.last_offset,
            chain_hash=walk.last, length=walk.length, replaced_at=now, intact=False,
            first_break_offset=first_break if first_break is not None else walk.last_offset,
        ))
        return
    if first_break is not None:
        connection.execute(
            sa.update(_v1_heads)
            .where(_v1_heads.c.topic == topic, _v1_heads.c.partition == partition)
            .values(intact=False, first_break_offset=first_break)
        )


def _rehash(
    connection: sa.Connection, topic: str, partition: int, link: Link, log_id: int | None
) -> _V1Walk:
    """Chain a partition's rows again in offset order with ``link``; with a ``log_id``, also
    number them and build the partition's Merkle log; move the head. What the walk saw of
    the chain the rows held before is returned."""
    walk = _V1Walk()
    previous, last_offset = GENESIS_HASH, -1
    frontier = Frontier()
    values: dict[str, Any] = {"previous_hash": sa.bindparam("b_previous"),
                              "chain_hash": sa.bindparam("b_chain")}
    if log_id is not None:
        values["leaf_index"] = sa.bindparam("b_index")
    update = sa.update(_audit).where(_audit.c.position == sa.bindparam("b_position")).values(
        **values)
    while True:
        page = connection.execute(
            sa.select(_audit.c.position, _audit.c.payload, _audit.c.anomalies,
                      _audit.c.kafka_offset, _audit.c.previous_hash, _audit.c.chain_hash)
            .where(_audit.c.kafka_topic == topic, _audit.c.kafka_partition == partition,
                   _audit.c.kafka_offset > last_offset)
            .order_by(_audit.c.kafka_offset)
            .limit(PAGE)
        ).all()
        if not page:
            break
        changes: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for position, payload, anomalies, offset, stored_previous, stored_chain in page:
            if log_id is not None:
                walk.see(offset, stored_previous, stored_chain, payload, list(anomalies), topic,
                         partition)
            current, leaf = link(previous, payload, list(anomalies), topic, partition, offset)
            change = {"b_position": position, "b_previous": previous, "b_chain": current}
            if log_id is not None:
                change["b_index"] = frontier.size
                nodes += [{"log_id": log_id, "level": level, "idx": index, "hash": value}
                          for level, index, value in frontier.append(leaf)]
            changes.append(change)
            previous, last_offset = current, offset
        connection.execute(update, changes)
        if nodes:
            connection.execute(sa.insert(_nodes), nodes)
    head: dict[str, Any] = {"chain_hash": previous}
    if log_id is not None:
        head["frontier"] = [value.hex() for value in frontier.hashes]
    connection.execute(
        sa.update(_heads).where(_heads.c.topic == topic, _heads.c.partition == partition)
        .values(**head)
    )
    return walk
