"""The broker that refuses strangers (SASL/SCRAM-SHA-512 and ACLs, one for the whole run):
no credentials, a wrong password, or a principal outside its ACLs get nothing in or out;
the producer and projector principals run the whole pipeline through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from consumer.errors import TopicUnavailableError
from consumer.reading import ReaderSettings, open_consumer
from devservices.kafka_acls import grant_access
from devservices.kafka_secure import SecureKafka
from producer.errors import BrokerUnavailableError, PublishError
from producer.publisher import EventPublisher
from schemas.models import LifecycleEvent
from tests.builders_projection import History

pytestmark = pytest.mark.integration

REFUSAL_TIMEOUT_S = 3
"""kafka-python reports refused credentials as a bootstrap timeout: keep it short."""


@dataclass(frozen=True)
class Secured:
    broker: SecureKafka
    lifecycle: str
    dead_letter: str
    group: str

    def environment(self, principal: str) -> dict[str, str]:
        """``client-audit`` settings connecting as ``principal``."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "CLIENT_AUDIT_LIFECYCLE_TOPIC": self.lifecycle,
            "CLIENT_AUDIT_DEAD_LETTER_TOPIC": self.dead_letter,
            "CLIENT_AUDIT_CONSUMER_GROUP": self.group,
            "CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CLIENT_AUDIT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CLIENT_AUDIT_KAFKA_SASL_USERNAME": principal,
            "CLIENT_AUDIT_KAFKA_SASL_PASSWORD": self.broker.passwords[principal],
            "CLIENT_AUDIT_DELIVERY_TIMEOUT_S": "20",
        }

    def end_offsets(self) -> int:
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap,
                                 **self.broker.client_options("admin"))
        try:
            partitions = [TopicPartition(self.lifecycle, p)
                          for p in sorted(consumer.partitions_for_topic(self.lifecycle) or ())]
            return sum(consumer.end_offsets(partitions).values())
        finally:
            consumer.close()


@pytest.fixture
def secured(secure_kafka: SecureKafka, unique_name: str) -> Iterator[Secured]:
    lifecycle, dead_letter = f"{unique_name}.lifecycle", f"{unique_name}.lifecycle.dlq"
    grant_access(secure_kafka.bootstrap, secure_kafka.client_options("admin"), lifecycle,
                 dead_letter, group_prefix=unique_name, partitions=3)
    yield Secured(secure_kafka, lifecycle, dead_letter, f"{unique_name}-projector")


def one_event() -> list[LifecycleEvent]:
    return [History("cred-secure-1", user_id="alice").created()]


def test_a_producer_without_credentials_is_refused(secured: Secured) -> None:
    with pytest.raises(BrokerUnavailableError, match="did not answer"):
        EventPublisher(secured.broker.bootstrap, secured.lifecycle, timeout_s=REFUSAL_TIMEOUT_S)
    with pytest.raises(TopicUnavailableError):
        open_consumer(ReaderSettings(secured.broker.bootstrap, "stranger",
                                     timeout_s=REFUSAL_TIMEOUT_S))
    assert secured.end_offsets() == 0


def test_a_wrong_password_is_refused(secured: Secured) -> None:
    wrong = secured.broker.client_options("producer", password="not-the-password")
    with pytest.raises(BrokerUnavailableError,
                       match="or refused the SASL credentials of 'producer'"):
        EventPublisher(secured.broker.bootstrap, secured.lifecycle,
                       timeout_s=REFUSAL_TIMEOUT_S, client_options=wrong)
    assert secured.end_offsets() == 0


def test_an_authenticated_principal_without_write_is_refused(secured: Secured) -> None:
    options = secured.broker.client_options("projector")
    with EventPublisher(secured.broker.bootstrap, secured.lifecycle, timeout_s=10,
                        client_options=options) as publisher, \
            pytest.raises(PublishError, match="TopicAuthorizationFailedError"):
        publisher.publish_many(one_event())
    assert secured.end_offsets() == 0


def test_the_producer_publishes_but_cannot_read(secured: Secured) -> None:
    options = secured.broker.client_options("producer")
    with EventPublisher(secured.broker.bootstrap, secured.lifecycle, timeout_s=20,
                        client_options=options) as publisher:
        assert publisher.publish_many(one_event()) == 1
    assert secured.end_offsets() == 1
    for group in (secured.group, "somebody-else"):
        consumer = KafkaConsumer(secured.lifecycle, bootstrap_servers=secured.broker.bootstrap,
                                 group_id=group, auto_offset_reset="earliest", **options)
        try:
            with pytest.raises(GroupAuthorizationFailedError):
                consumer.poll(timeout_ms=5000)
        finally:
            consumer.close()
    groupless = KafkaConsumer(bootstrap_servers=secured.broker.bootstrap, group_id=None,
                              **options)
    try:
        groupless.assign([TopicPartition(secured.lifecycle, p) for p in range(3)])
        groupless.seek_to_beginning()
        with pytest.raises(TopicAuthorizationFailedError):
            for _ in range(10):
                assert groupless.poll(timeout_ms=1000) == {}
    finally:
        groupless.close()


def client_audit(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client_audit.cli", *arguments], env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )


def test_the_producer_and_projector_principals_run_the_pipeline(
    secured: Secured, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'secure.db'}"
    published = client_audit("simulate", "--credentials", "12", "--no-progress",
                             env=secured.environment("producer"))
    assert published.returncode == 0, published.stderr
    events = json.loads(published.stdout)["events"]
    assert secured.end_offsets() == events

    as_producer = client_audit("--database-url", database, "project", "--until-caught-up",
                               env=secured.environment("producer"))
    assert as_producer.returncode != 0
    assert "Traceback" not in as_producer.stderr

    projected = client_audit("--database-url", database, "project", "--until-caught-up",
                             env=secured.environment("projector"))
    assert projected.returncode == 0, projected.stderr
    trail = client_audit("--database-url", database, "query", "trail", "--format", "jsonl",
                         env=secured.environment("projector"))
    assert len(trail.stdout.splitlines()) == events

    checked = client_audit("--database-url", database, "verify-log", "--against-kafka",
                           "--format", "jsonl", env=secured.environment("projector"))
    assert checked.returncode == 0, checked.stderr
    verdicts = [json.loads(line) for line in checked.stdout.splitlines()]
    assert {row["check"] for row in verdicts} == {"chain", "kafka", "access"}
    assert sum(row["rows"] for row in verdicts if row["check"] == "kafka") == events
