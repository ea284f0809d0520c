"""Canonical address text: IPv4-mapped IPv6 addresses and networks in dotted form.

Before this revision a stored IPv4-mapped address had whatever text the projecting
interpreter gave it: ``::ffff:a01:203`` before Python 3.13, ``::ffff:10.1.2.3`` since. From
now on the project writes the dotted form on every version (RFC 5952 section 5). This
revision rewrites the stored texts — ``audit_log.source_ip`` and the payloads' ``sourceIp``
and ``allowSourceCidr``, the credentials' ``seen_source_ips`` and ``allow_source_cidr`` —
and re-chains every partition in which a payload changed, so the audit log still verifies:
the chain hashes cover the payload text. The downgrade writes the hex form back and
re-chains the same way. Nothing else changes; a partition without mapped addresses keeps
every hash it had.

The code below is a frozen copy of what this revision runs (address texts, the v1 chain
hashing over stored payload JSON); later changes to the live code do not change it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00+00:00
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 5_000
GENESIS_HASH = "0" * 64
INSTANT_FIELDS = frozenset(
    {"occurredAt", "recordedAt", "createdAt", "updatedAt", "lastUsedAt", "expiresTime",
     "deletedAt", "usedAt"}
)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")

Spell = Callable[[ipaddress.IPv4Address], str]
"""Writes the IPv4 part of a mapped address after ``::ffff:``."""

_audit = sa.table(
    "audit_log",
    sa.column("position", sa.BigInteger()),
    sa.column("event_type", sa.String()),
    sa.column("source_ip", sa.Text()),
    sa.column("payload", sa.JSON()),
    sa.column("kafka_topic", sa.Text()),
    sa.column("kafka_partition", sa.Integer()),
    sa.column("kafka_offset", sa.BigInteger()),
    sa.column("previous_hash", sa.String()),
    sa.column("chain_hash", sa.String()),
)
_credentials = sa.table(
    "credentials",
    sa.column("credential_id", sa.Text()),
    sa.column("allow_source_cidr", sa.JSON()),
    sa.column("seen_source_ips", sa.JSON()),
)
_heads = sa.table(
    "audit_chain_heads",
    sa.column("topic", sa.Text()),
    sa.column("partition", sa.Integer()),
    sa.column("last_offset", sa.BigInteger()),
    sa.column("chain_hash", sa.String()),
    sa.column("length", sa.BigInteger()),
)


def dotted(ipv4: ipaddress.IPv4Address) -> str:
    return str(ipv4)


def hexadecimal(ipv4: ipaddress.IPv4Address) -> str:
    """How Python before 3.13 wrote the IPv4 part (two hex groups, RFC 5952 compressed)."""
    value = int(ipv4)
    return f"{value >> 16:x}:{value & 0xFFFF:x}"


def respelled_address(text: str, spell: Spell) -> str:
    parsed = ipaddress.ip_address(text)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return f"::ffff:{spell(parsed.ipv4_mapped)}"
    return text


def respelled_network(text: str, spell: Spell) -> str:
    network = ipaddress.ip_network(text)
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen >= 96
        and network.subnet_of(_MAPPED)
    ):
        address = network.network_address.ipv4_mapped
        assert address is not None
        return f"::ffff:{spell(address)}/{network.prefixlen}"
    return text


def respelled_payload(payload: dict[str, Any], spell: Spell) -> dict[str, Any]:
    """The payload with its addresses and networks respelled (a new dict)."""
    changed = dict(payload)
    if isinstance(changed.get("sourceIp"), str):
        changed["sourceIp"] = respelled_address(changed["sourceIp"], spell)
    if isinstance(changed.get("allowSourceCidr"), list):
        changed["allowSourceCidr"] = [
            respelled_network(cidr, spell) for cidr in changed["allowSourceCidr"]
        ]
    credential = changed.get("credential")
    if isinstance(credential, dict) and isinstance(credential.get("allowSourceCidr"), list):
        changed["credential"] = {
            **credential,
            "allowSourceCidr": [
                respelled_network(cidr, spell) for cidr in credential["allowSourceCidr"]
            ],
        }
    return changed


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


def chain_hash(
    previous_hash: str, payload: dict[str, Any], topic: str, partition: int, offset: int
) -> str:
    """The v1 chain hash of a stored payload read at topic/partition/offset."""
    document = {
        "event": _canonical(payload),
        "offset": offset,
        "partition": partition,
        "topic": topic,
    }
    encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(bytes.fromhex(previous_hash) + encoded).hexdigest()


def upgrade() -> None:
    _respell(op.get_bind(), dotted)


def downgrade() -> None:
    _respell(op.get_bind(), hexadecimal)


def _respell(connection: sa.Connection, spell: Spell) -> None:
    for topic, partition in _respell_audit_rows(connection, spell):
        _rechain(connection, topic, partition)
    _respell_credentials(connection, spell)


def _respell_audit_rows(connection: sa.Connection, spell: Spell) -> set[tuple[str, int]]:
    """Rewrite the rows holding a mapped address; the partitions whose payloads changed."""
    touched: set[tuple[str, int]] = set()
    candidates = sa.or_(
        _audit.c.source_ip.like("::ffff:%"),
        sa.and_(
            _audit.c.event_type.in_(["CREATED", "UPDATED"]),
            sa.cast(_audit.c.payload, sa.Text).like("%::ffff:%"),
        ),
    )
    update = (
        sa.update(_audit)
        .where(_audit.c.position == sa.bindparam("b_position"))
        .values(source_ip=sa.bindparam("b_source_ip"), payload=sa.bindparam("b_payload"))
    )
    after = 0
    while True:
        page = connection.execute(
            sa.select(_audit.c.position, _audit.c.source_ip, _audit.c.payload,
                      _audit.c.kafka_topic, _audit.c.kafka_partition)
            .where(candidates, _audit.c.position > after)
            .order_by(_audit.c.position)
            .limit(PAGE)
        ).all()
        if not page:
            return touched
        changes = []
        for position, source_ip, payload, topic, partition in page:
            new_payload = respelled_payload(payload, spell)
            new_source = None if source_ip is None else respelled_address(source_ip, spell)
            if new_payload != payload or new_source != source_ip:
                changes.append(
                    {"b_position": position, "b_source_ip": new_source, "b_payload": new_payload}
                )
                touched.add((topic, partition))
        if changes:
            connection.execute(update, changes)
        after = page[-1].position


def _rechain(connection: sa.Connection, topic: str, partition: int) -> None:
    """Chain one partition's rows again in offset order and move its head."""
    previous, last_offset, length = GENESIS_HASH, -1, 0
    update = (
        sa.update(_audit)
        .where(_audit.c.position == sa.bindparam("b_position"))
        .values(previous_hash=sa.bindparam("b_previous"), chain_hash=sa.bindparam("b_chain"))
    )
    while True:
        page = connection.execute(
            sa.select(_audit.c.position, _audit.c.payload, _audit.c.kafka_offset)
            .where(
                _audit.c.kafka_topic == topic,
                _audit.c.kafka_partition == partition,
                _audit.c.kafka_offset > last_offset,
            )
            .order_by(_audit.c.kafka_offset)
            .limit(PAGE)
        ).all()
        if not page:
            break
        changes: list[dict[str, Any]] = []
        for position, payload, offset in page:
            current = chain_hash(previous, payload, topic, partition, offset)
            changes.append({"b_position": position, "b_previous": previous, "b_chain": current})
            previous, last_offset, length = current, offset, length + 1
        connection.execute(update, changes)
    connection.execute(
        sa.update(_heads)
        .where(_heads.c.topic == topic, _heads.c.partition == partition)
        .values(last_offset=last_offset, chain_hash=previous, length=length)
    )


def _respell_credentials(connection: sa.Connection, spell: Spell) -> None:
    candidates = sa.or_(
        sa.cast(_credentials.c.seen_source_ips, sa.Text).like("%::ffff:%"),
        sa.cast(_credentials.c.allow_source_cidr, sa.Text).like("%::ffff:%"),
    )
    update = (
        sa.update(_credentials)
        .where(_credentials.c.credential_id == sa.bindparam("b_id"))
        .values(seen_source_ips=sa.bindparam("b_seen"), allow_source_cidr=sa.bindparam("b_cidrs"))
    )
    rows = connection.execute(
        sa.select(_credentials.c.credential_id, _credentials.c.seen_source_ips,
                  _credentials.c.allow_source_cidr).where(candidates)
    ).all()
    changes = [
        {
            "b_id": credential_id,
            "b_seen": [respelled_address(address, spell) for address in seen],
            "b_cidrs": [respelled_network(cidr, spell) for cidr in cidrs],
        }
        for credential_id, seen, cidrs in rows
    ]
    for start in range(0, len(changes), PAGE):
        connection.execute(update, changes[start : start + PAGE])
