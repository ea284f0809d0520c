"""The one settings model: environment variables (CLIENT_AUDIT_*, plus the usual service URLs).

Every value is checked here, where it is read: a bad URL, address, name or number is refused
with a message naming the variable, before anything connects anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from producer.topics import (
    ALERT_TOPIC_DEFAULT,
    CHECKPOINT_TOPIC_DEFAULT,
    DEAD_LETTER_TOPIC_DEFAULT,
    DEFAULT_PARTITIONS,
    LIFECYCLE_TOPIC_DEFAULT,
)

SQLITE_DEFAULT = "sqlite:///client-audit.db"

DATABASE_BACKENDS = ("sqlite", "postgresql")

KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

ENVIRONMENT_NAMES = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "database_url": "DATABASE_URL",
}
"""Fields read from a conventional variable rather than CLIENT_AUDIT_<FIELD>."""

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)")
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def environment_name(field: str) -> str:
    """The environment variable a settings field is read from."""
    return ENVIRONMENT_NAMES.get(field, f"CLIENT_AUDIT_{field.upper()}")


def bootstrap_servers_problem(value: str) -> str | None:
    """Why ``value`` is not a comma-separated list of ``host:port`` (None: it is)."""
    servers = [server.strip() for server in value.split(",")]
    if not value.strip() or any(not server for server in servers):
        return "must be host:port, or several separated by commas"
    for server in servers:
        host, colon, port = server.rpartition(":")
        if not colon or not _HOST.fullmatch(host):
            return f"{server!r} is not host:port (an IPv6 address goes in brackets: [::1]:9092)"
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            return f"{server!r} has no port between 1 and 65535"
    return None


class Settings(BaseSettings):
    """Where the service finds Kafka and its database, and how it names things there.

    Every field reads CLIENT_AUDIT_<NAME>; bootstrap servers and database URL also read the
    conventional KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL.
    """

    model_config = SettingsConfigDict(env_prefix="CLIENT_AUDIT_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "CLIENT_AUDIT_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    lifecycle_topic: str = LIFECYCLE_TOPIC_DEFAULT
    dead_letter_topic: str = DEAD_LETTER_TOPIC_DEFAULT
    checkpoint_topic: str = CHECKPOINT_TOPIC_DEFAULT
    alert_topic: str = ALERT_TOPIC_DEFAULT
    alerts_config: Path | None = None
    """The alerts file (rules, silences, webhooks, SIEM outputs); None: every kind alerts,
    on the alert topic only."""
    alert_source: str = Field(default="urn:client-audit", min_length=1, max_length=512)
    """The CloudEvents ``source`` of this deployment's alerts (a URI reference)."""
    partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=100)
    database_url: str = Field(
        default=SQLITE_DEFAULT,
        validation_alias=AliasChoices("DATABASE_URL", "CLIENT_AUDIT_DATABASE_URL"),
    )
    consumer_group: str = Field(default="client-audit-projector", min_length=1, max_length=249)
    delivery_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    api_tokens: list[SecretStr] = Field(default_factory=list)
    access_log_database_url: str | None = None
    """Where ``serve`` appends its access log (a role that may only append there); the same
    store as ``database_url``. None: through ``database_url`` itself."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    signing_key: Path | None = None
    """Private key the projector signs checkpoints with (``keys generate``)."""
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(default=None, min_length=1, max_length=256)
    kafka_sasl_password: SecretStr | None = Field(default=None, validate_default=True)

    def kafka_client_options(self) -> dict[str, Any]:
        """The kafka-python options of every Kafka client this deployment builds: empty for
        PLAINTEXT, else the security protocol, SASL mechanism and credentials."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return {}
        assert self.kafka_sasl_password is not None  # checked by _kafka_credentials
        return {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": self.kafka_sasl_mechanism,
            "sasl_plain_username": self.kafka_sasl_username,
            "sasl_plain_password": self.kafka_sasl_password.get_secret_value(),
        }

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        problem = bootstrap_servers_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()

    @field_validator("lifecycle_topic", "dead_letter_topic", "checkpoint_topic", "alert_topic")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        if not _TOPIC.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                f"{value[:300]!r} is not a Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -)"
            )
        return value

    @field_validator("alert_source")
    @classmethod
    def _alert_source(cls, value: str) -> str:
        if _CONTROL.search(value) or any(ch.isspace() for ch in value):
            raise ValueError("must be a URI reference without spaces or control characters")
        return value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("kafka_sasl_username")
    @classmethod
    def _sasl_username(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _CONTROL.search(value)):
            raise ValueError("must be a non-blank name without control characters")
        return value

    @field_validator("kafka_sasl_password")
    @classmethod
    def _kafka_credentials(
        cls, password: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """Credentials go with a SASL protocol, and a SASL protocol needs both of them."""
        if password is not None and (
            not password.get_secret_value() or _CONTROL.search(password.get_secret_value())
        ):
            raise ValueError("must be non-empty and hold no control characters")
        protocol = info.data.get("kafka_security_protocol")
        mechanism = info.data.get("kafka_sasl_mechanism")
        username = info.data.get("kafka_sasl_username")
        if protocol is None or mechanism is None or "kafka_sasl_username" not in info.data:
            return password  # refused above; reported under its own name
        given = username is not None or password is not None
        if protocol == "PLAINTEXT":
            if given:
                raise ValueError(
                    "SASL credentials are set but CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL is "
                    "PLAINTEXT, which would not use them; set it to SASL_PLAINTEXT or SASL_SSL"
                )
            return password
        if username is None or password is None:
            raise ValueError(
                f"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL={protocol} needs both "
                "CLIENT_AUDIT_KAFKA_SASL_USERNAME and CLIENT_AUDIT_KAFKA_SASL_PASSWORD"
            )
        if mechanism == "PLAIN" and protocol == "SASL_PLAINTEXT":
            raise ValueError(
                "SASL mechanism PLAIN over SASL_PLAINTEXT sends the password in the clear; "
                "use SCRAM-SHA-512, or SASL_SSL"
            )
        return password

    @field_validator("database_url", "access_log_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (e.g. sqlite:///audit.db, "
                "postgresql+psycopg://user:password@host/database)"
            ) from None
        if url.get_backend_name() not in DATABASE_BACKENDS:
            raise ValueError(
                f"{url.render_as_string(hide_password=True)!r} is not a SQLite or PostgreSQL "
                "URL (sqlite:///audit.db, postgresql+psycopg://user:password@host/database)"
            )
        return value

    @field_validator("api_tokens")
    @classmethod
    def _tokens(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        if any(not token.get_secret_value().strip() for token in tokens):
            raise ValueError("must not hold empty or blank tokens")
        for index, token in enumerate(tokens, start=1):
            if not _BEARER_TOKEN.fullmatch(token.get_secret_value()):
                raise ValueError(
                    f"token {index} is not a bearer token (RFC 6750: letters, digits and "
                    "-._~+/ then optional '='), so no client could present it"
                )
        return tokens
