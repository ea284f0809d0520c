"""The one settings model: environment variables (CLIENT_AUDIT_*, plus the usual service URLs).

Every value is checked here, where it is read: a bad URL, address, name or number is refused
with a message naming the variable, before anything connects anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from producer.topics import (
    CHECKPOINT_TOPIC_DEFAULT,
    DEAD_LETTER_TOPIC_DEFAULT,
    DEFAULT_PARTITIONS,
    LIFECYCLE_TOPIC_DEFAULT,
)

SQLITE_DEFAULT = "sqlite:///client-audit.db"

DATABASE_BACKENDS = ("sqlite", "postgresql")

ENVIRONMENT_NAMES = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "database_url": "DATABASE_URL",
}
"""Fields read from a conventional variable rather than CLIENT_AUDIT_<FIELD>."""

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)")


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
    partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=100)
    database_url: str = Field(
        default=SQLITE_DEFAULT,
        validation_alias=AliasChoices("DATABASE_URL", "CLIENT_AUDIT_DATABASE_URL"),
    )
    consumer_group: str = Field(default="client-audit-projector", min_length=1, max_length=249)
    delivery_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    api_tokens: list[SecretStr] = Field(default_factory=list)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    signing_key: Path | None = None
    """Private key the projector signs checkpoints with (``keys generate``)."""

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        problem = bootstrap_servers_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()

    @field_validator("lifecycle_topic", "dead_letter_topic", "checkpoint_topic")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        if not _TOPIC.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                f"{value[:300]!r} is not a Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
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
        return tokens
