"""Bad URLs, addresses and environment values: a precise message and exit status 2, never a
traceback, before anything connects anywhere."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from client_audit.cli.main import cli


def run(*arguments: str, **environment: str) -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(arguments), env=environment, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("arguments", "environment", "expected"),
    [
        (["--database-url", "foo://bar"], {}, "--database-url: 'foo://bar' is not a SQLite or "
                                              "PostgreSQL URL"),
        (["--database-url", "not a url"], {}, "--database-url: is not a database URL"),
        ([], {"DATABASE_URL": "mysql://u:secret@h/db"}, "DATABASE_URL: 'mysql://u:***@h/db'"),
        (["--bootstrap-servers", "garbage:::"], {}, "--bootstrap-servers: 'garbage:::' is not "
                                                    "host:port"),
        (["--bootstrap-servers", "host:99999"], {}, "has no port between 1 and 65535"),
        (["--bootstrap-servers", "a:1,,b:2"], {}, "must be host:port, or several"),
        ([], {"KAFKA_BOOTSTRAP_SERVERS": "nohost"}, "KAFKA_BOOTSTRAP_SERVERS: 'nohost' is not"),
        ([], {"CLIENT_AUDIT_API_TOKENS": "tok"}, "CLIENT_AUDIT_API_TOKENS is not valid JSON"),
        ([], {"CLIENT_AUDIT_API_TOKENS": '["ok", " "]'}, "must not hold empty or blank"),
        ([], {"CLIENT_AUDIT_PARTITIONS": "abc"}, "CLIENT_AUDIT_PARTITIONS: Input should be a "
                                                 "valid integer"),
        ([], {"CLIENT_AUDIT_METRICS_PORT": "70000"}, "CLIENT_AUDIT_METRICS_PORT: Input should "
                                                     "be less than or equal to 65535"),
        ([], {"CLIENT_AUDIT_API_TOKENS": '["has space"]'}, "token 1 is not a bearer token"),
        (["--topic", "bad topic!"], {}, "--topic: 'bad topic!' is not a Kafka topic name"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SSL"},
         "CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT'"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
         "CLIENT_AUDIT_KAFKA_SASL_PASSWORD: CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT "
         "needs both CLIENT_AUDIT_KAFKA_SASL_USERNAME and CLIENT_AUDIT_KAFKA_SASL_PASSWORD"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
              "CLIENT_AUDIT_KAFKA_SASL_USERNAME": "producer"}, "needs both"),
        ([], {"CLIENT_AUDIT_KAFKA_SASL_USERNAME": "producer",
              "CLIENT_AUDIT_KAFKA_SASL_PASSWORD": "secret"}, "PLAINTEXT, which would not use"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
              "CLIENT_AUDIT_KAFKA_SASL_MECHANISM": "PLAIN",
              "CLIENT_AUDIT_KAFKA_SASL_USERNAME": "producer",
              "CLIENT_AUDIT_KAFKA_SASL_PASSWORD": "secret"}, "sends the password in the clear"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
              "CLIENT_AUDIT_KAFKA_SASL_MECHANISM": "GSSAPI"},
         "CLIENT_AUDIT_KAFKA_SASL_MECHANISM: Input should be 'SCRAM-SHA-512'"),
        ([], {"CLIENT_AUDIT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
              "CLIENT_AUDIT_KAFKA_SASL_USERNAME": "pro\x1bducer",
              "CLIENT_AUDIT_KAFKA_SASL_PASSWORD": "secret"},
         "CLIENT_AUDIT_KAFKA_SASL_USERNAME: must be a non-blank name"),
        ([], {"CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL": "mysql://u:secret@h/db"},
         "CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL: 'mysql://u:***@h/db'"),
        ([], {"CLIENT_AUDIT_DEAD_LETTER_TOPIC": "x" * 250}, "is not a Kafka topic name"),
    ],
)
def test_bad_settings_are_refused_by_name_with_exit_2(
    arguments: list[str], environment: dict[str, str], expected: str
) -> None:
    code, output = run(*arguments, "query", "trail", **environment)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output
    assert "secret" not in output


def test_good_settings_reach_the_command() -> None:
    code, output = run("--bootstrap-servers", "[::1]:9092,kafka-1.internal:19092",
                       "--database-url", "postgresql://u:p@db.internal/audit", "query", "--help")
    assert code == 0, output


def test_kafka_client_options_carry_the_sasl_settings() -> None:
    from client_audit.settings import Settings

    assert Settings().kafka_client_options() == {}
    settings = Settings(
        kafka_security_protocol="sasl_plaintext", kafka_sasl_username="projector",
        kafka_sasl_password="s3cret=]x",
    )
    assert settings.kafka_client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "projector",
        "sasl_plain_password": "s3cret=]x",
    }
    assert "s3cret" not in repr(settings)


def test_reader_and_projector_settings_never_show_the_password() -> None:
    from consumer.projector import ProjectorConfig
    from consumer.reading import ReaderSettings

    options = {"sasl_plain_password": "s3cret"}
    reader = ReaderSettings("127.0.0.1:9092", "client", client_options=options)
    config = ProjectorConfig("127.0.0.1:9092", "topic", "dlq", None, client_options=options)
    assert "s3cret" not in repr(reader)
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(config.reader())
