"""client-audit search and searches: every format, usage errors naming the term and its
column (exit 2), saved searches kept in the database; verify-log records its outcome."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from client_audit.cli.main import cli
from projections.chain.records import latest_verification
from projections.db.engine import create_engine_for
from projections.queries import AuditEntry
from tests.integration.search_support import names, newest_first, search_url
from tests.integration.test_search import SEARCH_CASES
from tests.seeding import seed

pytestmark = pytest.mark.integration

__all__ = ["search_url"]


def run(url: str, *args: str, command: str = "search") -> Result:
    result = CliRunner().invoke(cli, ["--database-url", url, command, *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def entries_of(result: Result) -> list[AuditEntry]:
    assert result.exit_code == 0, result.output
    return [AuditEntry.model_validate_json(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(("query", "expected"), SEARCH_CASES)
def test_search_as_json_lines(search_url: str, query: str, expected: list[str]) -> None:
    assert names(entries_of(run(search_url, query))) == newest_first(expected)


def test_search_as_json_csv_and_table(search_url: str) -> None:
    query = "type:USED -outcome:ALLOWED"
    document = json.loads(run(search_url, query, "--format", "json").stdout)
    assert names([AuditEntry.model_validate(entry) for entry in document]) == ["B4", "C4", "A4"]
    rows = list(csv.DictReader(io.StringIO(run(search_url, query, "--format", "csv").stdout)))
    assert [row["credentialId"] for row in rows] == ["cred-b", "cred-c", "cred-a"]
    table = run(search_url, query, "--format", "table").stdout
    assert "OUTSIDE_ALLOWED_CIDRS" in table and "cred-c" in table
    limited = run(search_url, "--limit", "2", "--format", "jsonl")
    assert names(entries_of(limited)) == ["G2", "H1"]
    as_words = run(search_url, "type:USED", "-outcome:ALLOWED", "--format", "jsonl")
    assert names(entries_of(as_words)) == ["B4", "C4", "A4"]
    after_dashes = run(search_url, "--format", "jsonl", "--", "-outcome:ALLOWED type:USED")
    assert names(entries_of(after_dashes)) == ["B4", "C4", "A4"]


def test_a_bad_query_is_a_usage_error_naming_each_term(search_url: str) -> None:
    result = run(search_url, "user:alice tpye:USED \"open")
    assert result.exit_code == 2
    assert "TERMS: column 12, 'tpye:USED': 'tpye' is not a qualifier" in result.output
    assert "column 22, '\"open': the quote opened at column 22 is never closed" in result.output


def test_hostile_characters_in_a_message_are_escaped(search_url: str) -> None:
    result = run(search_url, "type:\u202eX")
    assert result.exit_code == 2
    assert "\u202e" not in result.output and "\\u202e" in result.output


def test_saved_searches_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    seed(url, [], topic="t.saved")
    saved = run(url, "save", "denied", "type:USED outcome:DENIED", command="searches")
    assert saved.exit_code == 0, saved.output
    listed = run(url, "list", "--format", "jsonl", command="searches")
    assert [json.loads(line)["query"] for line in listed.stdout.splitlines()] == [
        "type:USED outcome:DENIED"
    ]
    assert run(url, "--saved", "denied").exit_code == 0
    assert run(url, "--saved", "missing").exit_code == 1
    both = run(url, "type:USED", "--saved", "denied")
    assert both.exit_code == 2 and "give TERMS or --saved, not both" in both.output
    refused = run(url, "save", "bad", "tpye:USED", command="searches")
    assert refused.exit_code == 2 and "'tpye' is not a qualifier" in refused.output
    badly_named = run(url, "save", "no spaces", "type:USED", command="searches")
    assert badly_named.exit_code == 2 and "is not a search name" in badly_named.output
    assert run(url, "delete", "denied", command="searches").exit_code == 0
    assert run(url, "delete", "denied", command="searches").exit_code == 1


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    result = run(url, "type:USED")
    assert result.exit_code == 1 and "no database at" in result.output
    saved = run(url, "save", "x", "type:USED", command="searches")
    assert saved.exit_code == 1 and "no projection database at" in saved.output


def test_verify_log_records_its_outcome_unless_told_not_to(search_url: str) -> None:
    engine = create_engine_for(search_url)
    try:
        result = run(search_url, "--no-record", "--format", "jsonl", command="verify-log")
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            before = latest_verification(connection)
        result = run(search_url, "--format", "jsonl", command="verify-log")
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            recorded = latest_verification(connection)
    finally:
        engine.dispose()
    assert recorded is not None and recorded != before
    assert recorded.intact and recorded.checks == 1 and not recorded.against_kafka
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(recorded.verdicts) == printed
