"""The secure local broker's configuration: SASL/SCRAM on its only client listener, ACLs
that allow nothing by default, the contract's topic settings, no password shown."""

from __future__ import annotations

from pathlib import Path

from devservices.kafka_acls import (
    ALERT_TOPIC,
    CHECKPOINT_TOPIC,
    DEAD_LETTER_TOPIC,
    LIFECYCLE_TOPIC,
    PROJECTOR_GROUP_PREFIX,
    TOPIC_CONFIGS,
    grants,
)
from devservices.kafka_config import (
    BROKER_SETTINGS,
    CONTROLLER,
    SECURE_CLIENT,
    KafkaLayout,
    scram_format_options,
    secure_server_properties,
)
from devservices.kafka_secure import SecureKafka
from devservices.services import SERVICES, select
from producer.topics import (
    ALERT_TOPIC_DEFAULT,
    CHECKPOINT_TOPIC_DEFAULT,
    DEAD_LETTER_CONFIGS,
    DEAD_LETTER_TOPIC_DEFAULT,
    LIFECYCLE_CONFIGS,
    LIFECYCLE_TOPIC_DEFAULT,
    RETENTION_CONFIGS,
)


def test_the_default_topics_are_the_contracts() -> None:
    assert (LIFECYCLE_TOPIC, DEAD_LETTER_TOPIC, CHECKPOINT_TOPIC, ALERT_TOPIC) == (
        LIFECYCLE_TOPIC_DEFAULT, DEAD_LETTER_TOPIC_DEFAULT, CHECKPOINT_TOPIC_DEFAULT,
        ALERT_TOPIC_DEFAULT)
    assert TOPIC_CONFIGS == {LIFECYCLE_TOPIC: LIFECYCLE_CONFIGS,
                             DEAD_LETTER_TOPIC: DEAD_LETTER_CONFIGS,
                             CHECKPOINT_TOPIC: RETENTION_CONFIGS,
                             ALERT_TOPIC: RETENTION_CONFIGS}


def test_the_client_listener_is_sasl_only_and_acls_deny_by_default(tmp_path: Path) -> None:
    layout = KafkaLayout.under(tmp_path, "kafka-secure")
    properties = secure_server_properties(layout, {SECURE_CLIENT: 1111, CONTROLLER: 2222},
                                          "s3cret")
    assert properties["listeners"] == "CLIENT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222"
    assert properties["advertised.listeners"] == "CLIENT://127.0.0.1:1111"
    assert properties["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT")
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["authorizer.class.name"].endswith("StandardAuthorizer")
    assert properties["super.users"] == "User:admin;User:ANONYMOUS"
    assert 'username="admin" password="s3cret"' in (
        properties["listener.name.client.scram-sha-512.sasl.jaas.config"])
    shared = {key: value for key, value in BROKER_SETTINGS.items()
              if key not in {"inter.broker.listener.name", "listener.security.protocol.map"}}
    assert shared.items() <= properties.items()
    assert layout.libs == tmp_path / "kafka" / "libs"


def test_each_principal_is_created_at_format_time() -> None:
    assert scram_format_options({"admin": "a1", "producer": "p2"}) == [
        "--add-scram", "SCRAM-SHA-512=[name=admin,password=a1]",
        "--add-scram", "SCRAM-SHA-512=[name=producer,password=p2]",
    ]


def test_only_the_producer_writes_and_only_the_projector_reads() -> None:
    found = {(g.principal, g.operation, g.resource, g.name, g.prefixed)
             for g in grants("life", "dead", "group")}
    assert ("producer", "WRITE", "TOPIC", "life", False) in found
    assert ("projector", "READ", "TOPIC", "life", False) in found
    assert ("projector", "READ", "GROUP", "group", True) in found
    assert ("projector", "WRITE", "TOPIC", "dead", False) in found
    assert ("projector", "WRITE", "TOPIC", CHECKPOINT_TOPIC, False) in found
    assert ("projector", "WRITE", "TOPIC", ALERT_TOPIC, False) in found
    writers = {g.principal for g in grants("life", "dead", "group")
               if g.operation == "WRITE" and g.name == "life"}
    readers = {g.principal for g in grants("life", "dead", "group") if g.operation == "READ"}
    assert (writers, readers) == ({"producer"}, {"projector"})
    assert PROJECTOR_GROUP_PREFIX == "client-audit-projector"


def test_passwords_are_exported_but_never_in_a_repr() -> None:
    broker = SecureKafka("127.0.0.1:1", {"admin": "a1", "producer": "p2", "projector": "q3"})
    assert "p2" not in repr(broker)
    assert broker.variables()["KAFKA_SECURE_PRODUCER_PASSWORD"] == "p2"
    assert broker.client_options("projector")["sasl_plain_password"] == "q3"


def test_all_starts_the_default_services_and_stops_every_one(tmp_path: Path) -> None:
    assert [s.name for s in select("all")] == ["kafka", "postgres"]
    assert [s.name for s in select("all", every=True)] == ["kafka", "postgres", "kafka-secure"]
    assert SERVICES["kafka-secure"].optional
