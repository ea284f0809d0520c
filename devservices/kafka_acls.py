"""Who may do what on the secure broker: the ACLs of the producer and projector principals,
and the default topics an administrator creates for them.

- ``producer`` may write (and describe) the lifecycle topic, nothing else;
- ``projector`` may read the lifecycle topic, read (join, commit in) consumer groups
  starting with its group prefix, and write the dead-letter topic and the checkpoints
  topic (signed checkpoints of the audit log's Merkle logs);
- ``admin`` is a super user (``super.users``), needs no ACL.

No one else may do anything (``allow.everyone.if.no.acl.found=false``), so an unknown
client, a wrong password or a principal outside its ACLs is refused. The same ACLs are
created by docker-compose's ``kafka-init``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourceType,
)
from kafka.errors import TopicAlreadyExistsError

from devservices.errors import ServiceStartError

log = logging.getLogger(__name__)

LIFECYCLE_TOPIC: Final = "client-audit.credential-lifecycle.v1"
DEAD_LETTER_TOPIC: Final = "client-audit.credential-lifecycle.v1.dlq"
CHECKPOINT_TOPIC: Final = "client-audit.checkpoints.v1"
ALERT_TOPIC: Final = "client-audit.anomalies.v1"
CHECKPOINT_PARTITIONS: Final = 1
PROJECTOR_GROUP_PREFIX: Final = "client-audit-projector"
PARTITIONS: Final = 6
_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
TOPIC_CONFIGS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    LIFECYCLE_TOPIC: {**_RETENTION, "max.message.bytes": "2097152"},
    DEAD_LETTER_TOPIC: {**_RETENTION, "max.message.bytes": "67108864"},
    CHECKPOINT_TOPIC: dict(_RETENTION),
    ALERT_TOPIC: dict(_RETENTION),
})
"""The contract's topic settings (``producer.topics``; a unit test holds them equal)."""


@dataclass(frozen=True)
class Grant:
    """One ACL: ``principal`` may ``operation`` the ``resource`` named ``name``."""

    principal: str
    operation: str
    resource: str
    name: str
    prefixed: bool = False


def grants(
    lifecycle: str,
    dead_letter: str,
    group_prefix: str,
    checkpoints: str = CHECKPOINT_TOPIC,
    alerts: str = ALERT_TOPIC,
) -> list[Grant]:
    """The ACLs of the producer and the projector (which runs the alert relay) for these
    topics and groups."""
    return [
        Grant("producer", "WRITE", "TOPIC", lifecycle),
        Grant("producer", "DESCRIBE", "TOPIC", lifecycle),
        Grant("projector", "READ", "TOPIC", lifecycle),
        Grant("projector", "DESCRIBE", "TOPIC", lifecycle),
        Grant("projector", "READ", "GROUP", group_prefix, prefixed=True),
        Grant("projector", "WRITE", "TOPIC", dead_letter),
        Grant("projector", "DESCRIBE", "TOPIC", dead_letter),
        Grant("projector", "WRITE", "TOPIC", checkpoints),
        Grant("projector", "DESCRIBE", "TOPIC", checkpoints),
        Grant("projector", "WRITE", "TOPIC", alerts),
        Grant("projector", "DESCRIBE", "TOPIC", alerts),
    ]


def _acl(grant: Grant) -> ACL:
    pattern = ACLResourcePatternType.PREFIXED if grant.prefixed else ACLResourcePatternType.LITERAL
    return ACL(
        principal=f"User:{grant.principal}",
        host="*",
        operation=ACLOperation[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(ResourceType[grant.resource], grant.name, pattern),
    )


def admin_client(bootstrap: str, admin_options: Mapping[str, Any]) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="devservices-admin",
        bootstrap_timeout_ms=10_000, request_timeout_ms=15_000, **admin_options,
    )


def grant_access(
    bootstrap: str,
    admin_options: Mapping[str, Any],
    lifecycle: str = LIFECYCLE_TOPIC,
    dead_letter: str = DEAD_LETTER_TOPIC,
    group_prefix: str = PROJECTOR_GROUP_PREFIX,
    partitions: int = PARTITIONS,
    checkpoints: str = CHECKPOINT_TOPIC,
    alerts: str = ALERT_TOPIC,
) -> None:
    """As the administrator: create the four topics if missing, then their ACLs (creating
    an ACL that exists changes nothing). ACLs come before any producer uses them: an
    idempotent producer refused before its ACL existed stays refused."""
    admin = admin_client(bootstrap, admin_options)
    try:
        existing = set(admin.list_topics())
        names = (lifecycle, dead_letter, checkpoints, alerts)
        wanted = [name for name in names if name not in existing]
        if wanted:
            kinds = {lifecycle: LIFECYCLE_TOPIC, dead_letter: DEAD_LETTER_TOPIC,
                     checkpoints: CHECKPOINT_TOPIC, alerts: ALERT_TOPIC}
            counts = {lifecycle: partitions, dead_letter: partitions,
                      checkpoints: CHECKPOINT_PARTITIONS, alerts: partitions}
            topics = [
                NewTopic(name, counts[name], 1,
                         topic_configs=dict(TOPIC_CONFIGS[kinds[name]]))
                for name in wanted
            ]
            try:
                admin.create_topics(topics, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently: %s", wanted)
        result = admin.create_acls([_acl(grant) for grant in grants(
            lifecycle, dead_letter, group_prefix, checkpoints, alerts)])
        if result["failed"]:
            raise ServiceStartError(f"creating the ACLs failed: {result['failed']}")
    finally:
        admin.close()
