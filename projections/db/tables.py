"""The projection tables: current state per credential, the audit log, consumer positions;
and beside them the API's tokens and its access log.

One MetaData; portable between SQLite (embedded default) and PostgreSQL (production). The
schema itself is created by the Alembic migrations in ``projections/db/migrations``; these
definitions are what the code reads and writes, and a test checks the two agree.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from projections.db.sqltypes import UtcDateTime, big_serial, json_document
from projections.model.credential import CREDENTIAL_FIELDS, CredentialStatus, FieldShape

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

def _credential_column(shape: FieldShape) -> Column[Any]:
    """The credentials column of one state field: its name, a type for its values."""
    kind: TypeEngine[Any]
    if shape.is_set:
        kind = json_document()
    elif shape.value_type is datetime:
        kind = UtcDateTime()
    elif shape.value_type is uuid.UUID:
        kind = String(36)
    elif issubclass(shape.value_type, Enum):
        kind = String(16)
    elif shape.value_type is int:
        kind = Integer() if shape.bits is not None and shape.bits <= 32 else BigInteger()
    elif shape.value_type is str:
        kind = Text()
    else:
        raise TypeError(f"no column type for field {shape.name}: {shape.value_type!r}")
    return Column(
        shape.name,
        kind,
        primary_key=shape.name == "credential_id",
        nullable=shape.optional,
    )


credentials = Table(
    "credentials",
    metadata,
    *(_credential_column(shape) for shape in CREDENTIAL_FIELDS),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status.value}'" for status in CredentialStatus)),
        name="status",
    ),
    Index("ix_credentials_user_id", "user_id"),
    Index("ix_credentials_status", "status"),
    Index("ix_credentials_expires_time", "expires_time"),
)
"""Current state of every credential, as of its last applied lifecycle event: one column
per field of :class:`~projections.model.credential.CredentialState`, same name and order."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("position", big_serial(), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("credential_id", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("source_ip", Text, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("denial_reason", String(32), nullable=True),
    Column("payload", json_document(), nullable=False),
    Column("anomalies", json_document(), nullable=False),
    Column("is_anomaly", Boolean, nullable=False),
    Column("kafka_topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("projected_at", UtcDateTime, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    UniqueConstraint("event_id", name="uq_audit_log_event_id"),
    UniqueConstraint(
        "kafka_topic", "kafka_partition", "kafka_offset", name="uq_audit_log_kafka_position"
    ),
    Index("ix_audit_log_credential_occurred", "credential_id", "occurred_at"),
    Index("ix_audit_log_user_occurred", "user_id", "occurred_at"),
    Index("ix_audit_log_event_type_occurred", "event_type", "occurred_at"),
    Index("ix_audit_log_source_ip_occurred", "source_ip", "occurred_at"),
    Index("ix_audit_log_actor_occurred", "actor_id", "occurred_at"),
    Index("ix_audit_log_anomaly_occurred", "is_anomaly", "occurred_at"),
    Index("ix_audit_log_credential_sequence", "credential_id", "sequence"),
    Index("ix_audit_log_client_occurred", "client_id", "occurred_at"),
    Index("ix_audit_log_correlation_occurred", "correlation_id", "occurred_at"),
)
"""One row per lifecycle event, append-only, in ``position`` order (the pagination cursor).

``payload`` is the whole event as JSON (Avro field names), from which the event is rebuilt;
``anomalies`` lists the :class:`projections.model.anomalies.Anomaly` names flagged on it.
``chain_hash`` links the row to ``previous_hash``, the chain hash of the row before it in the
same Kafka partition (offset order), and ``leaf_index`` is the row's place in its
partition's Merkle log (0, 1, 2, ... in offset order); :mod:`projections.chain.hashing`
defines the hash exactly.
"""

consumer_positions = Table(
    "consumer_positions",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""The next Kafka offset to read per topic partition, written with the rows it produced."""

audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("last_offset", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("frontier", json_document(), nullable=False),
)
"""The end of each partition's audit chain: the offset and chain hash of its last row, how
many rows the chain (and the partition's Merkle log) holds, and the Merkle frontier (hex
hashes of the perfect subtrees of that size, largest first). Written with the rows that
extend it."""

merkle_logs = Table(
    "merkle_logs",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    UniqueConstraint("topic", "partition", name="uq_merkle_logs_topic_partition"),
)
"""One Merkle log per Kafka partition of the audit log; ``log_id`` keys its nodes."""

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=False),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)
"""Every completed perfect subtree of every Merkle log: node (level, idx) covers leaves
``[idx * 2**level, (idx + 1) * 2**level)`` (level 0: the entries' leaf hashes, in offset
order). A node never changes once written."""

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("first_used_at", UtcDateTime, nullable=False),
)
"""The public keys checkpoints were signed with (PEM), by key id."""

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("checkpoint_id", big_serial(), primary_key=True, autoincrement=True),
    Column("made_at", UtcDateTime, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Index("ix_checkpoints_made_at", "made_at"),
)
"""Signed checkpoints: ``body`` is the canonical text that ``signature`` (base64 Ed25519)
signs; see :mod:`projections.chain.checkpoints`."""

checkpoint_logs = Table(
    "checkpoint_logs",
    metadata,
    Column("checkpoint_id", BigInteger, primary_key=True, autoincrement=False),
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Index("ix_checkpoint_logs_partition_size", "topic", "partition", "size"),
)
"""What each checkpoint says of each Merkle log (a copy of its body, for lookups)."""

audit_chain_v1_heads = Table(
    "audit_chain_v1_heads",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("last_offset", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("replaced_at", UtcDateTime, nullable=False),
    Column("intact", Boolean, nullable=False),
    Column("first_break_offset", BigInteger, nullable=True),
)
"""The heads of the first (v1) audit chain as they were when revision 0004 re-hashed every
row with the v2 entry documents: the last word of the old chain, kept as evidence of the
transition, and whether the rows still gave that chain (else the first offset that broke
it) when they were re-hashed."""

saved_searches = Table(
    "saved_searches",
    metadata,
    Column("name", Text, primary_key=True),
    Column("query", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""Named search queries (the text of the search language), saved from the command line."""

log_verifications = Table(
    "log_verifications",
    metadata,
    Column("id", big_serial(), primary_key=True, autoincrement=True),
    Column("checked_at", UtcDateTime, nullable=False),
    Column("against_kafka", Boolean, nullable=False),
    Column("checks", Integer, nullable=False),
    Column("broken", Integer, nullable=False),
    Column("verdicts", json_document(), nullable=False),
)
"""The outcome of each ``verify-log`` run: when, whether the topic was compared too, how
many partition checks there were and how many were broken, and each check's verdict."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("scopes", json_document(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("last_used_at", UtcDateTime, nullable=True),
    UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
)
"""Bearer tokens of the API: the SHA-256 (hex) of each token, never the token; its scopes
(a JSON array of :class:`projections.model.access.Scope` values). Names are never reused, so
the access log's token names stay unambiguous."""

access_log = Table(
    "access_log",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("token_name", Text, nullable=True),
    Column("method", String(16), nullable=False),
    Column("route", Text, nullable=False),
    Column("parameters", json_document(), nullable=False),
    Column("rows_returned", Integer, nullable=True),
    Column("status", Integer, nullable=False),
    Column("client_address", Text, nullable=True),
    Column("previous_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Index("ix_access_log_at", "at"),
    Index("ix_access_log_token_name_at", "token_name", "at"),
)
"""One row per API or console request, append-only, positions 1, 2, 3 ... without gaps.
``chain_hash`` links each row to the one before it (:mod:`projections.chain.access_hashing`).
"""

access_chain_head = Table(
    "access_chain_head",
    metadata,
    Column("chain", String(16), primary_key=True),
    Column("last_position", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
)
"""The end of the access log's chain (one row, chain ``access``), created by the migration
and moved, under a row lock, by every append."""

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("seq", big_serial(), primary_key=True, autoincrement=True),
    Column("alert_id", String(36), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("credential_id", Text, nullable=False),
    Column("kinds", json_document(), nullable=False),
    Column("silenced", Text, nullable=True),
    Column("flagged_at", UtcDateTime, nullable=False),
    Column("kafka_topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("published_at", UtcDateTime, nullable=True),
    UniqueConstraint("alert_id", name="uq_alert_outbox_alert_id"),
    Index("ix_alert_outbox_published_seq", "published_at", "seq"),
)
"""One row per flagged audit entry, written in the transaction that records the entry (the
outbox); the relay publishes each to the alert topic and sets ``published_at``. ``silenced``
says why the alert rules keep it from webhooks and SIEMs (None: they get it). The event
itself is read from ``audit_log`` by ``event_id`` when the alert is sent."""

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("delivery_id", big_serial(), primary_key=True, autoincrement=True),
    Column("alert_id", String(36), nullable=False),
    Column("target", Text, nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retrying_since", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_result", Text, nullable=True),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    UniqueConstraint("alert_id", "target", name="uq_alert_deliveries_alert_id_target"),
    Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),
)
"""One row per alert and push target (a webhook endpoint or a SIEM output), made when the
alert is published: ``pending`` until an attempt succeeds (``delivered``) or the retry
policy gives up (``failed``), which it does ``give_up_after_s`` after ``retrying_since`` (when
the delivery was made, or when ``client-audit redeliver`` last made it pending again)."""

alert_delivery_attempts = Table(
    "alert_delivery_attempts",
    metadata,
    Column("delivery_id", BigInteger, primary_key=True, autoincrement=False),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("result", Text, nullable=False),
    Column("duration_ms", Integer, nullable=False),
)
"""Every attempt of every delivery: when, whether it succeeded, the HTTP status (webhooks)
and the answer or error in a line, and how long it took."""

bulk_loads = Table(
    "bulk_loads",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
)
"""A bulk replay of ``topic`` into this database that began and has not finished: its
states, chain heads and positions are not written yet and its secondary indexes may be
missing, so nothing may resume or project into it (:mod:`projections.bulk`)."""
