"""docker-compose.yml runs the same Kafka, topics and PostgreSQL as the code and devservices."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from devservices.kafka import BROKER_SETTINGS, JVM_HEAP_OPTS
from devservices.maven import kafka_version
from producer.topics import (
    CHECKPOINT_TOPIC_DEFAULT,
    DEAD_LETTER_TOPIC_DEFAULT,
    DEFAULT_PARTITIONS,
    LIFECYCLE_TOPIC_DEFAULT,
    TopicLayout,
)

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SPECS = TopicLayout(
    LIFECYCLE_TOPIC_DEFAULT, DEAD_LETTER_TOPIC_DEFAULT, DEFAULT_PARTITIONS,
    checkpoints=CHECKPOINT_TOPIC_DEFAULT,
).specs()
"""Topic name -> (partitions, configs), as the service creates its default topics."""
CONFIGS = {name: configs for name, (_partitions, configs) in SPECS.items()}
TOPICS = set(SPECS)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def _env_name(setting: str) -> str:
    return "KAFKA_" + setting.upper().replace(".", "_")


def _topic_commands(command: list[str]) -> list[list[str]]:
    lines = " ".join(command).splitlines()
    return [shlex.split(line) for line in lines if "kafka-topics.sh" in line and "--create" in line]


def _option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def _configs(words: list[str]) -> dict[str, str]:
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "--config"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_kafka_is_a_single_kraft_node(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "CONTROLLER://" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_kafka_image_matches_the_broker_jars_in_the_pom(services: dict[str, Any]) -> None:
    expected = f"apache/kafka:{kafka_version()}"
    assert kafka_version().startswith("4.1.")
    assert services["kafka"]["image"] == expected
    assert services["kafka-init"]["image"] == expected


def test_kafka_settings_match_the_local_broker(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    for setting, value in BROKER_SETTINGS.items():
        assert str(env[_env_name(setting)]) == value, setting
    assert env["KAFKA_HEAP_OPTS"] == " ".join(JVM_HEAP_OPTS)


def test_internal_topics_need_one_replica(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[name] == "1", name
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def test_kafka_and_postgres_have_healthchecks(services: dict[str, Any]) -> None:
    kafka_check = " ".join(services["kafka"]["healthcheck"]["test"])
    postgres_check = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka_check
    assert "pg_isready" in postgres_check


def test_topic_block_declares_every_topic_as_the_code_does(compose: dict[str, Any]) -> None:
    topics = compose["x-client-audit-topics"].values()
    assert {topic["name"] for topic in topics} == TOPICS
    for topic in topics:
        assert topic["partitions"] == SPECS[topic["name"]][0]
        assert topic["replication-factor"] == 1
        assert topic["config"] == CONFIGS[topic["name"]]


def test_kafka_init_creates_exactly_the_topics_of_the_code(services: dict[str, Any]) -> None:
    init = services["kafka-init"]
    commands = _topic_commands(init["command"])
    assert {_option(words, "--topic") for words in commands} == TOPICS
    assert len(commands) == len(TOPICS)
    for words in commands:
        assert int(_option(words, "--partitions")) == SPECS[_option(words, "--topic")][0]
        assert int(_option(words, "--replication-factor")) == 1
        assert _configs(words) == CONFIGS[_option(words, "--topic")]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_postgres_credentials_match_the_service_url(services: dict[str, Any]) -> None:
    env = services["postgres"]["environment"]
    assert services["postgres"]["image"].startswith("postgres:15")
    user, password, database = (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )
    url = f"postgresql+psycopg://{user}:{password}@postgres:5432/{database}"
    assert services["projector"]["environment"]["DATABASE_URL"] == url
    assert services["api"]["environment"]["DATABASE_URL"] == url


@pytest.mark.parametrize("name", ["projector", "api"])
def test_service_waits_for_kafka_topics_and_postgres(services: dict[str, Any], name: str) -> None:
    service = services[name]
    depends = service["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert service["build"] == "."


def test_commands_and_published_api_port(services: dict[str, Any]) -> None:
    assert services["projector"]["command"] == ["project"]
    assert services["api"]["command"][0] == "serve"
    assert "8080" in _option(services["api"]["command"], "--port")
    assert any(str(port).endswith(":8080") for port in services["api"]["ports"])
    assert "CLIENT_AUDIT_API_TOKENS" in services["api"]["environment"]
