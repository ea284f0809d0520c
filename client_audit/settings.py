"""The one settings model: environment variables (CLIENT_AUDIT_*, plus the usual service URLs)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from producer.topics import DEAD_LETTER_TOPIC_DEFAULT, DEFAULT_PARTITIONS, LIFECYCLE_TOPIC_DEFAULT

SQLITE_DEFAULT = "sqlite:///client-audit.db"


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
    partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    database_url: str = Field(
        default=SQLITE_DEFAULT,
        validation_alias=AliasChoices("DATABASE_URL", "CLIENT_AUDIT_DATABASE_URL"),
    )
    consumer_group: str = "client-audit-projector"
    delivery_timeout_s: float = Field(default=30.0, gt=0)
    api_tokens: list[SecretStr] = Field(default_factory=list)
    metrics_port: int | None = None
