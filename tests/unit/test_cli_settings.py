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
        (["--topic", "bad topic!"], {}, "--topic: 'bad topic!' is not a Kafka topic name"),
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
