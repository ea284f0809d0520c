"""client-audit query: every question through the command line, exports that round-trip,
and bad input refused with a usage error (exit 2), never a traceback."""

from __future__ import annotations

import csv
import io
import json
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from pydantic import BaseModel

from client_audit.cli.main import cli
from projections.db.migrate import upgrade
from projections.queries import (
    AuditEntry,
    AuditPageRequest,
    CredentialFilter,
    CredentialPageRequest,
    CredentialRecord,
    TrailFilter,
    audit_trail,
    list_credentials,
    walk,
)
from tests.integration import test_queries as shared
from tests.integration.test_queries import (
    ANOMALY_CASES,
    CREDENTIAL_CASES,
    DENIED_CASES,
    HISTORY_OF_C,
    TRAIL_CASES,
    USES_CASES,
    C,
    names,
)

pytestmark = pytest.mark.integration

# The projected hand-written history (seeded without Kafka), shared with the query-function
# tests.
history_url = shared.history_url
history_engine = shared.history_engine

OPTIONS = {
    "credentialId": "--credential-id", "userId": "--user-id", "actorId": "--actor-id",
    "eventType": "--event-type", "from": "--from", "to": "--to", "network": "--network",
    "outcome": "--outcome", "reason": "--reason", "kind": "--kind", "status": "--status",
    "role": "--role", "expiringBefore": "--expiring-before", "unusedSince": "--unused-since",
}


def arguments(given: dict[str, Any]) -> list[str]:
    """Command-line options for a filter given with API names."""
    found: list[str] = []
    for name, value in given.items():
        for each in value if isinstance(value, list) else [value]:
            text = each.isoformat() if isinstance(each, datetime) else str(each)
            found += [OPTIONS[name], text]
    return found


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--database-url", url, "query", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def entries_of(result: Result) -> list[AuditEntry]:
    assert result.exit_code == 0, result.output
    return [AuditEntry.model_validate_json(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(("given", "expected"), TRAIL_CASES)
def test_trail(history_url: str, given: dict[str, Any], expected: list[str]) -> None:
    assert names(entries_of(run(history_url, "trail", *arguments(given)))) == expected


@pytest.mark.parametrize(("given", "expected"), USES_CASES)
def test_uses(history_url: str, given: dict[str, Any], expected: list[str]) -> None:
    assert names(entries_of(run(history_url, "uses", *arguments(given)))) == expected


@pytest.mark.parametrize(("given", "expected"), DENIED_CASES)
def test_denied(history_url: str, given: dict[str, Any], expected: list[str]) -> None:
    entries = entries_of(run(history_url, "denied", *arguments(given), "--format", "jsonl"))
    assert names(entries) == expected
    assert all(entry.outcome == "DENIED" and entry.denial_reason for entry in entries)


@pytest.mark.parametrize(("given", "expected"), CREDENTIAL_CASES)
def test_credentials(history_url: str, given: dict[str, Any], expected: list[str]) -> None:
    result = run(history_url, "credentials", *arguments(given))
    assert result.exit_code == 0, result.output
    found = [CredentialRecord.model_validate_json(line) for line in result.stdout.splitlines()]
    assert [record.credential_id for record in found] == expected


@pytest.mark.parametrize(("given", "expected"), ANOMALY_CASES)
def test_anomalies(history_url: str, given: dict[str, Any], expected: list[str]) -> None:
    assert names(entries_of(run(history_url, "anomalies", *arguments(given)))) == expected


def test_one_credential_as_json_holds_state_and_history(history_url: str) -> None:
    result = run(history_url, "credential", C, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert CredentialRecord.model_validate(document["credential"]).status == "expired"
    history = [AuditEntry.model_validate(entry) for entry in document["history"]]
    assert names(history) == HISTORY_OF_C


def test_one_credential_as_tables(history_url: str) -> None:
    result = run(history_url, "credential", C, "--format", "table")
    assert result.exit_code == 0, result.output
    assert "credential cred-c" in result.stdout and "expired" in result.stdout
    assert "history" in result.stdout and "2001:db8:abcd:12::1" in result.stdout


def test_one_credential_state_alone_as_jsonl(history_url: str) -> None:
    result = run(history_url, "credential", C, "--no-history", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert CredentialRecord.model_validate_json(line).credential_id == C


def test_history_of_one_credential_in_a_window(history_url: str) -> None:
    result = run(history_url, "credential", C, "--format", "json", "--from",
                 "2026-03-03T13:00:00+00:00", "--event-type", "used")
    assert result.exit_code == 0, result.output
    history = [AuditEntry.model_validate(entry) for entry in json.loads(result.stdout)["history"]]
    assert names(history) == ["C4", "C6"]


def test_limit_caps_the_rows(history_url: str) -> None:
    assert names(entries_of(run(history_url, "trail", "--limit", "2"))) == ["A1", "C1"]


def test_table_shows_the_columns_and_says_when_rows_were_left_out(history_url: str) -> None:
    result = run(history_url, "trail", "--format", "table", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "credentialId" in result.stdout and "cred-a" in result.stdout
    assert "first 3 rows shown" in result.stderr


# ---------------------------------------------------------------- exports round-trip


def _container(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (tuple, dict):
        return True
    return any(_container(arg) for arg in typing.get_args(annotation))


def from_csv(model: type[BaseModel], text: str) -> list[Any]:
    """Rows read back from CSV: empty cells are null, lists and objects are JSON text."""
    containers = {
        (info.alias or name) for name, info in model.model_fields.items()
        if _container(info.annotation)
    }
    rows = []
    for cells in csv.DictReader(io.StringIO(text)):
        values = {
            key: (json.loads(cell) if key in containers else (cell if cell != "" else None))
            for key, cell in cells.items()
        }
        rows.append(model.model_validate(values))
    return rows


def _all_entries(engine: sa.Engine) -> list[AuditEntry]:
    with engine.connect() as connection:
        return list(walk(lambda page: audit_trail(connection, TrailFilter(), page),
                         AuditPageRequest(limit=4)))


def _all_credentials(engine: sa.Engine) -> list[CredentialRecord]:
    with engine.connect() as connection:
        return list(walk(lambda page: list_credentials(connection, CredentialFilter(), page),
                         CredentialPageRequest(limit=2)))


def test_csv_export_round_trips(history_url: str, history_engine: sa.Engine) -> None:
    entries = run(history_url, "trail", "--format", "csv")
    credentials = run(history_url, "credentials", "--format", "csv")
    assert entries.exit_code == credentials.exit_code == 0
    assert from_csv(AuditEntry, entries.stdout) == _all_entries(history_engine)
    assert from_csv(CredentialRecord, credentials.stdout) == _all_credentials(history_engine)


def test_json_export_round_trips(history_url: str, history_engine: sa.Engine) -> None:
    entries = run(history_url, "trail", "--format", "json")
    credentials = run(history_url, "credentials", "--format", "json")
    assert entries.exit_code == credentials.exit_code == 0
    assert [AuditEntry.model_validate(row) for row in json.loads(entries.stdout)] == (
        _all_entries(history_engine)
    )
    assert [CredentialRecord.model_validate(row) for row in json.loads(credentials.stdout)] == (
        _all_credentials(history_engine)
    )


def test_empty_csv_is_a_header_and_empty_json_an_empty_array(history_url: str) -> None:
    csv_result = run(history_url, "trail", "--credential-id", "none", "--format", "csv")
    json_result = run(history_url, "trail", "--credential-id", "none", "--format", "json")
    assert csv_result.stdout.startswith("position,eventId,eventType,")
    assert len(csv_result.stdout.splitlines()) == 1
    assert json.loads(json_result.stdout) == []


# ---------------------------------------------------------------- bad input

BAD_INPUT = [
    (["trail", "--from", "2026-03-03T10:00:00"], "no UTC offset"),
    (["trail", "--from", "yesterday"], "is not an ISO-8601 instant"),
    (["trail", "--from", "2026-03-03T12:00Z", "--to", "2026-03-03T10:00Z"], "--to: must be after"),
    (["trail", "--event-type", "NOPE"], "--event-type"),
    (["trail", "--limit", "0"], "--limit"),
    (["trail", "--credential-id", "  "], "--credential-id: must not be empty or blank"),
    (["trail", "--user-id", "a\x00b"], "--user-id: must not contain NUL"),
    (["uses", "--network", "10.0.0.1/8"], "did you mean 10.0.0.0/8?"),
    (["uses", "--network", "10.0.0.0/33"], "--network"),
    (["uses", "--network", "'; DROP TABLE audit_log; --"], "--network"),
    (["uses", "--outcome", "allowed", "--reason", "expired"], "DENIED uses only"),
    (["denied", "--reason", "BORED"], "--reason"),
    (["credentials", "--status", "gone"], "--status"),
    (["credentials", "--expiring-before", "2026-03-03"], "no UTC offset"),
    (["anomalies", "--kind", "SPOOKY"], "--kind"),
    (["credential", "cred-a", "--format", "csv"], "--no-history"),
    (["trail", "--format", "xml"], "--format"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    result = run(url, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_an_unknown_credential_is_an_error(history_url: str) -> None:
    result = run(history_url, "credential", "cred-unknown")
    assert result.exit_code == 1
    assert "no credential 'cred-unknown' is known" in result.output


def test_a_missing_sqlite_database_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    result = run(f"sqlite:///{path}", "trail")
    assert result.exit_code == 1
    assert "no database at" in result.output and "client-audit project" in result.output
    assert not path.exists()


def test_a_database_without_tables_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    result = run(f"sqlite:///{path}", "credentials")
    assert result.exit_code == 1
    assert "could not query" in result.output and "no such table" in result.output


def test_choices_ignore_case(history_url: str) -> None:
    result = run(history_url, "trail", "--user-id", "alice", "--event-type", "deleted")
    assert names(entries_of(result)) == ["B3"]
