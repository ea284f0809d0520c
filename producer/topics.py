"""The lifecycle, dead-letter, checkpoint and alert topics: names, settings, creating them
when missing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError, TopicAuthorizationFailedError

from producer.errors import BrokerUnavailableError, TopicSetupError

log = logging.getLogger(__name__)

LIFECYCLE_TOPIC_DEFAULT = "client-audit.credential-lifecycle.v1"
"""The system of record: every lifecycle event, keyed by credential id."""

DEAD_LETTER_TOPIC_DEFAULT = "client-audit.credential-lifecycle.v1.dlq"
"""Messages the projector could not decode or validate, with the reason in headers."""

CHECKPOINT_TOPIC_DEFAULT = "client-audit.checkpoints.v1"
"""Signed checkpoints of the audit log's Merkle logs, as the projector makes them."""

ALERT_TOPIC_DEFAULT = "client-audit.anomalies.v1"
"""One alert per flagged audit entry, keyed by credential id (CloudEvents, binary mode)."""

CHECKPOINT_PARTITIONS = 1
"""One partition: checkpoints stay in the order they were made."""

DEFAULT_PARTITIONS = 6

RETENTION_CONFIGS: dict[str, str] = {
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
}
"""Every topic keeps every message forever: they are the audit system of record."""

LIFECYCLE_MAX_MESSAGE_BYTES = 2 * 1024 * 1024
"""Largest record batch the lifecycle topic takes: room for the contract's largest event
(schemas.limits.EVENT_MAX_BYTES) with its key and headers, even if it does not compress."""

DEAD_LETTER_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest record batch the dead-letter topic takes: a copy of anything the lifecycle topic
accepted, recompressed (consumer.dead_letter.MAX_REQUEST_BYTES before compression)."""

LIFECYCLE_CONFIGS = {**RETENTION_CONFIGS, "max.message.bytes": str(LIFECYCLE_MAX_MESSAGE_BYTES)}
DEAD_LETTER_CONFIGS = {
    **RETENTION_CONFIGS, "max.message.bytes": str(DEAD_LETTER_MAX_MESSAGE_BYTES),
}


@dataclass(frozen=True)
class TopicLayout:
    """Names and sizing of the topics one deployment uses."""

    lifecycle: str = LIFECYCLE_TOPIC_DEFAULT
    dead_letter: str = DEAD_LETTER_TOPIC_DEFAULT
    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = 1
    checkpoints: str | None = None
    """The checkpoints topic, created when named."""
    alerts: str | None = None
    """The alert topic, created when named: partitioned as the lifecycle topic (alerts are
    keyed by credential id too) and kept as long."""

    def specs(self) -> dict[str, tuple[int, dict[str, str]]]:
        """Topic name -> (partitions, configs)."""
        found = {
            self.lifecycle: (self.partitions, LIFECYCLE_CONFIGS),
            self.dead_letter: (self.partitions, DEAD_LETTER_CONFIGS),
        }
        if self.checkpoints is not None:
            found[self.checkpoints] = (CHECKPOINT_PARTITIONS, RETENTION_CONFIGS)
        if self.alerts is not None:
            found[self.alerts] = (self.partitions, RETENTION_CONFIGS)
        return found


def unanswered(
    bootstrap_servers: str, timeout_s: float, client_options: Mapping[str, Any]
) -> str:
    """Why a client could not bootstrap: kafka-python reports refused SASL credentials as
    a bootstrap timeout too, so say so when credentials were given."""
    reason = f"Kafka at {bootstrap_servers} did not answer within {timeout_s:g} s"
    username = client_options.get("sasl_plain_username")
    if username is not None:
        reason += f" (or refused the SASL credentials of {username!r})"
    return reason


def ensure_topics(
    bootstrap_servers: str,
    layout: TopicLayout,
    timeout_s: float = 30.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create whichever of the layout's topics is missing; return the names created.

    A principal that may not create topics (on a broker with ACLs) only sees the topics it
    may describe; the others were created by an administrator or are not its business, so
    a refused creation is logged and nothing is created.
    """
    options = dict(client_options or {})
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="client-audit-admin",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            **options,
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(
            f"{unanswered(bootstrap_servers, timeout_s, options)}: {exc}"
        ) from exc
    try:
        existing = set(admin.list_topics())
        specs = layout.specs()
        wanted = [name for name in specs if name not in existing]
        if not wanted:
            return []
        spec = {
            name: {
                "num_partitions": specs[name][0],
                "replication_factor": layout.replication_factor,
                "configs": specs[name][1],
            }
            for name in wanted
        }
        try:
            admin.create_topics(spec, timeout_ms=int(timeout_s * 1000), wait_for_metadata=True)
        except TopicAlreadyExistsError:
            log.info("topics created concurrently by another process: %s", wanted)
        except TopicAuthorizationFailedError:
            log.info("not authorised to create or describe topics %s; leaving them to the "
                     "administrator", wanted)
            return []
        except KafkaError as exc:
            raise TopicSetupError(f"could not create topics {wanted}: {exc}") from exc
        log.info(
            "created topics %s with %d partitions, replication factor %d",
            wanted,
            layout.partitions,
            layout.replication_factor,
        )
        return wanted
    finally:
        admin.close()
