"""docker-compose.yml runs the same Kafka, topics, ACLs and PostgreSQL roles as the code and
devservices, and has no default secret."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from devservices.kafka import BROKER_SETTINGS, JVM_HEAP_OPTS
from devservices.kafka_acls import PROJECTOR_GROUP_PREFIX, grants
from devservices.kafka_config import PRINCIPALS, SECURE_BROKER_SETTINGS
from devservices.maven import kafka_version
from devservices.pg_provision import ACCESS_WRITER_USER, APP_USER, READER_USER, ROLE_GRANTS
from producer.topics import (
    ALERT_TOPIC_DEFAULT,
    CHECKPOINT_TOPIC_DEFAULT,
    DEAD_LETTER_TOPIC_DEFAULT,
    DEFAULT_PARTITIONS,
    LIFECYCLE_TOPIC_DEFAULT,
    TopicLayout,
)

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
COMPOSE_TEXT = COMPOSE_FILE.read_text()
ADMIN_CONFIG = "/etc/client-audit/admin.properties"
SPECS = TopicLayout(
    LIFECYCLE_TOPIC_DEFAULT, DEAD_LETTER_TOPIC_DEFAULT, DEFAULT_PARTITIONS,
    checkpoints=CHECKPOINT_TOPIC_DEFAULT, alerts=ALERT_TOPIC_DEFAULT,
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


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def broker(compose: dict[str, Any]) -> dict[str, str]:
    """The kafka service's server.properties (with ${...} left as written)."""
    return _properties(compose["configs"]["kafka-server"]["content"])


def test_kafka_is_a_single_kraft_node_whose_controller_is_loopback_only(
    broker: dict[str, str],
) -> None:
    assert broker["process.roles"] == "broker,controller"
    assert broker["controller.quorum.voters"] == f"{broker['node.id']}@127.0.0.1:9093"
    assert broker["listeners"] == "CLIENT://:9092,CONTROLLER://127.0.0.1:9093"
    assert broker["advertised.listeners"] == "CLIENT://kafka:9092"


def test_kafka_image_matches_the_broker_jars_in_the_pom(services: dict[str, Any]) -> None:
    expected = f"apache/kafka:{kafka_version()}"
    assert kafka_version().startswith("4.1.")
    assert services["kafka"]["image"] == expected
    assert services["kafka-init"]["image"] == expected


def test_kafka_settings_match_the_secure_local_broker(
    services: dict[str, Any], broker: dict[str, str]
) -> None:
    for setting, value in {**BROKER_SETTINGS, **SECURE_BROKER_SETTINGS}.items():
        assert broker[setting] == value, setting
    jaas = broker["listener.name.client.scram-sha-512.sasl.jaas.config"]
    assert 'username="admin" password="${KAFKA_ADMIN_PASSWORD:?' in jaas
    assert services["kafka"]["environment"]["KAFKA_HEAP_OPTS"] == " ".join(JVM_HEAP_OPTS)


def test_every_principal_is_created_when_the_storage_is_formatted(
    services: dict[str, Any],
) -> None:
    script = services["kafka"]["command"][0]
    for principal in PRINCIPALS:
        variable = f"KAFKA_{principal.upper()}_PASSWORD"
        assert f'--add-scram "SCRAM-SHA-512=[name={principal},password=$${variable}]"' in (
            script)
        assert services["kafka"]["environment"][variable].startswith(f"${{{variable}:?")
    assert "exec /opt/kafka/bin/kafka-server-start.sh /etc/client-audit/server.properties" in (
        script)


def _acl_commands(command: list[str]) -> list[list[str]]:
    lines = " ".join(command).splitlines()
    return [shlex.split(line) for line in lines if "kafka-acls.sh" in line]


def _granted(words: list[str]) -> set[tuple[str, str, str, str, bool]]:
    principal = _option(words, "--allow-principal").removeprefix("User:")
    operations = [words[i + 1].upper() for i, word in enumerate(words) if word == "--operation"]
    resource = "TOPIC" if "--topic" in words else "GROUP"
    name = _option(words, "--topic" if resource == "TOPIC" else "--group")
    prefixed = "--resource-pattern-type" in words and _option(
        words, "--resource-pattern-type") == "prefixed"
    return {(principal, operation, resource, name, prefixed) for operation in operations}


def test_kafka_init_grants_exactly_the_acls_of_devservices(services: dict[str, Any]) -> None:
    found: set[tuple[str, str, str, str, bool]] = set()
    for words in _acl_commands(services["kafka-init"]["command"]):
        assert _option(words, "--command-config") == ADMIN_CONFIG
        assert "--add" in words
        found |= _granted(words)
    expected = {(g.principal, g.operation, g.resource, g.name, g.prefixed)
                for g in grants(LIFECYCLE_TOPIC_DEFAULT, DEAD_LETTER_TOPIC_DEFAULT,
                                PROJECTOR_GROUP_PREFIX)}
    assert found == expected


def test_the_admin_client_config_authenticates_as_admin(compose: dict[str, Any]) -> None:
    admin = _properties(compose["configs"]["kafka-admin-client"]["content"])
    assert admin["security.protocol"] == "SASL_PLAINTEXT"
    assert admin["sasl.mechanism"] == "SCRAM-SHA-512"
    assert 'username="admin" password="${KAFKA_ADMIN_PASSWORD:?' in admin["sasl.jaas.config"]


def test_internal_topics_need_one_replica(broker: dict[str, str]) -> None:
    for name in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert broker[name] == "1", name
    assert broker["auto.create.topics.enable"] == "false"
    assert broker["group.initial.rebalance.delay.ms"] == "0"


def test_kafka_and_postgres_have_healthchecks(services: dict[str, Any]) -> None:
    kafka_check = " ".join(services["kafka"]["healthcheck"]["test"])
    postgres_check = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka_check
    assert f"--command-config {ADMIN_CONFIG}" in kafka_check
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
        assert _option(words, "--command-config") == ADMIN_CONFIG
        assert int(_option(words, "--partitions")) == SPECS[_option(words, "--topic")][0]
        assert int(_option(words, "--replication-factor")) == 1
        assert _configs(words) == CONFIGS[_option(words, "--topic")]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


def _url(user: str, password_variable: str) -> str:
    return (f"postgresql+psycopg://{user}:${{{password_variable}:?set {password_variable} "
            "(openssl rand -hex 24)}@postgres:5432/client_audit")


def test_each_service_connects_to_postgres_as_its_role(services: dict[str, Any]) -> None:
    env = services["postgres"]["environment"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == (APP_USER, "client_audit")
    assert services["projector"]["environment"]["DATABASE_URL"] == _url(
        APP_USER, "POSTGRES_PASSWORD")
    api = services["api"]["environment"]
    assert api["DATABASE_URL"] == _url(READER_USER, "POSTGRES_READER_PASSWORD")
    assert api["CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL"] == _url(
        ACCESS_WRITER_USER, "POSTGRES_ACCESS_PASSWORD")


def test_the_init_script_provisions_the_roles_as_devservices_does(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    (mounted,) = services["postgres"]["configs"]
    assert mounted["target"].startswith("/docker-entrypoint-initdb.d/")
    assert mounted["target"].endswith(".sh") and mounted["mode"] == 0o555
    script = compose["configs"][mounted["source"]]["content"]
    statements = {" ".join(line.rstrip(";").split()) for line in script.splitlines()}
    for statement in ROLE_GRANTS:
        expected = statement.format(database="client_audit", owner=APP_USER,
                                    reader=READER_USER, writer=ACCESS_WRITER_USER)
        assert expected in statements, expected
    for role, variable in ((READER_USER, "reader_password"),
                           (ACCESS_WRITER_USER, "access_password")):
        assert f"CREATE ROLE {role} LOGIN PASSWORD :'{variable}'" in statements


@pytest.mark.parametrize("name", ["projector", "api"])
def test_service_waits_for_postgres(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["build"] == "."


def test_projector_and_producer_are_the_kafka_principals(services: dict[str, Any]) -> None:
    for name, principal in (("projector", "projector"), ("producer", "producer")):
        env = services[name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["CLIENT_AUDIT_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["CLIENT_AUDIT_KAFKA_SASL_USERNAME"] == principal
        variable = f"KAFKA_{principal.upper()}_PASSWORD"
        assert env["CLIENT_AUDIT_KAFKA_SASL_PASSWORD"].startswith(f"${{{variable}:?")
    depends = services["projector"]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"
    assert services["producer"]["profiles"] == ["tools"]
    assert "KAFKA_BOOTSTRAP_SERVERS" not in services["api"]["environment"]


def test_commands_and_published_api_port(services: dict[str, Any]) -> None:
    assert services["projector"]["command"] == ["project"]
    assert services["api"]["command"][0] == "serve"
    assert "8080" in _option(services["api"]["command"], "--port")
    assert any(str(port).startswith("127.0.0.1:") for port in services["api"]["ports"])


INTERPOLATION = re.compile(r"\$\{([A-Z_]+)(:\?[^}]*)?\}")


def _uncommented(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_no_secret_has_a_default() -> None:
    text = _uncommented(COMPOSE_TEXT)
    found = INTERPOLATION.findall(text)
    assert {name for name, _ in found} == {
        "KAFKA_ADMIN_PASSWORD", "KAFKA_PRODUCER_PASSWORD", "KAFKA_PROJECTOR_PASSWORD",
        "POSTGRES_PASSWORD", "POSTGRES_READER_PASSWORD", "POSTGRES_ACCESS_PASSWORD",
        "CLIENT_AUDIT_API_TOKENS",
    }
    assert all(required.startswith(":?set ") for _, required in found)
    leftover = INTERPOLATION.sub("", text).replace("$$", "")
    assert "$" not in leftover, "a $ that is neither ${VAR:?...} nor an escaped $$"
    assert "dev-token" not in COMPOSE_TEXT
    assert "client_audit:client_audit@" not in COMPOSE_TEXT


def test_the_api_refuses_to_start_without_tokens_you_set(services: dict[str, Any]) -> None:
    tokens = services["api"]["environment"]["CLIENT_AUDIT_API_TOKENS"]
    assert tokens.startswith("${CLIENT_AUDIT_API_TOKENS:?set CLIENT_AUDIT_API_TOKENS")
