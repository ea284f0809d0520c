"""client-audit tokens, query access and verify-log's access check through the command line,
on SQLite and PostgreSQL; and a session with `client-audit serve`: a token created, refused
on a route outside its scope, and the access-log entry that recorded the refusal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from client_audit.cli.main import cli
from devservices.ports import free_port
from projections.db import migrate
from projections.db.engine import create_engine_for
from projections.db.tables import access_log, api_tokens
from tests.builders_projection import History
from tests.seeding import seed, topic_name

pytestmark = pytest.mark.integration


def run(database_url: str, *arguments: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, ["--database-url", database_url, *arguments],
                         catch_exceptions=False)


def created(database_url: str, name: str, *scopes: str, extra: tuple[str, ...] = ()) -> str:
    options = [option for scope in scopes for option in ("--scope", scope)]
    result = run(database_url, "tokens", "create", "--name", name, *options, *extra)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_create_prints_the_token_once_and_stores_its_hash(database_url: str) -> None:
    migrate.upgrade(database_url)
    result = run(database_url, "tokens", "create", "--name", "ci-reader",
                 "--scope", "read:audit-log", "--scope", "read:credentials",
                 "--expires", "2099-01-01T00:00:00+02:00")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("cat_") and "\n" not in token
    assert "created token 'ci-reader' with scopes read:audit-log, read:credentials" in (
        result.stderr)
    assert "expires 2098-12-31T22:00:00Z" in result.stderr
    assert token not in result.stderr
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(sa.select(api_tokens)).mappings().one()
    finally:
        engine.dispose()
    assert token not in json.dumps({k: str(v) for k, v in stored.items()})


def test_create_json_list_and_revoke(database_url: str) -> None:
    migrate.upgrade(database_url)
    result = run(database_url, "tokens", "create", "--name", "auditor", "--scope", "admin",
                 "--format", "json")
    document = json.loads(result.stdout)
    assert document["token"].startswith("cat_")
    assert (document["name"], document["scopes"], document["state"]) == (
        "auditor", ["admin"], "active")
    created(database_url, "reader", "read:audit-log")

    listed = run(database_url, "tokens", "list", "--format", "jsonl")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(row["name"], row["state"]) for row in rows] == [
        ("auditor", "active"), ("reader", "active")]
    assert all("token" not in row and "tokenHash" not in row for row in rows)
    assert document["token"] not in listed.stdout

    revoked = run(database_url, "tokens", "revoke", "reader")
    assert revoked.exit_code == 0 and "token 'reader' is revoked" in revoked.stderr
    again = run(database_url, "tokens", "revoke", "reader")
    assert again.exit_code == 0 and "was already revoked" in again.stderr
    table = run(database_url, "tokens", "list", "--format", "csv")
    states = {row["name"]: row["state"] for row in csv.DictReader(io.StringIO(table.stdout))}
    assert states == {"auditor": "active", "reader": "revoked"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["create", "--name", "x", "--scope", "read:everything"], "'read:everything' is not"),
        (["create", "--name", "x"], "Missing option '--scope'"),
        (["create", "--scope", "admin"], "Missing option '--name'"),
        (["create", "--name", "bad name", "--scope", "admin"], "is not a token name"),
        (["create", "--name", "env:1", "--scope", "admin"], "is not a token name"),
        (["create", "--name", "\x1b[2J", "--scope", "admin"], "is not a token name"),
        (["create", "--name", "x", "--scope", "admin", "--expires", "2020-01-01T00:00:00Z"],
         "is not in the future"),
        (["create", "--name", "x", "--scope", "admin", "--expires", "2099-01-01T00:00:00"],
         "has no UTC offset"),
        (["create", "--name", "taken", "--scope", "admin"], "exists already"),
        (["revoke", "nobody"], "no token is named 'nobody'"),
    ],
)
def test_bad_token_requests_exit_2_and_change_nothing(
    sqlite_url: str, arguments: list[str], message: str
) -> None:
    migrate.upgrade(sqlite_url)
    created(sqlite_url, "taken", "admin")
    result = run(sqlite_url, "tokens", *arguments)
    assert result.exit_code == 2, result.output
    assert message in result.output
    listed = run(sqlite_url, "tokens", "list", "--format", "jsonl")
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["taken"]


def test_tokens_need_a_migrated_database(tmp_path: Path) -> None:
    missing = run(f"sqlite:///{tmp_path / 'absent.db'}", "tokens", "list")
    assert missing.exit_code == 1 and "no projection database" in missing.output
    assert not (tmp_path / "absent.db").exists()


# ------------------------------------------------------------------ query access / verify-log


def _append(database_url: str, count: int) -> None:
    from projections.access.log import AccessLogWriter
    from projections.model.access import AccessEntry

    engine = create_engine_for(database_url)
    writer = AccessLogWriter(engine)
    at = datetime(2026, 3, 4, 12, tzinfo=UTC)
    try:
        for n in range(1, count + 1):
            writer.append(AccessEntry(
                at + timedelta(minutes=n), "ci" if n % 2 else "env:1", "GET",
                "/v1/trail" if n < 4 else "/v1/access", 200 if n % 3 else 403,
                {"userId": "=HYPERLINK(\"http://x\")" if n == 1 else f"user-{n}"},
                None if n % 3 == 0 else n, "127.0.0.1",
            ))
    finally:
        engine.dispose()


def test_query_access_filters_and_every_format(database_url: str) -> None:
    migrate.upgrade(database_url)
    _append(database_url, 6)
    every = run(database_url, "query", "access", "--format", "jsonl")
    rows = [json.loads(line) for line in every.stdout.splitlines()]
    assert [row["position"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["parameters"] == {"userId": '=HYPERLINK("http://x")'}
    assert len(rows[0]["chainHash"]) == 64 and rows[1]["previousHash"] == rows[0]["chainHash"]

    def positions(*options: str) -> list[int]:
        result = run(database_url, "query", "access", *options, "--format", "json")
        assert result.exit_code == 0, result.output
        return [row["position"] for row in json.loads(result.stdout)]

    assert positions("--token", "ci") == [1, 3, 5]
    assert positions("--route", "/v1/access", "--status", "403") == [6]
    assert positions("--status", "200", "--status", "403", "--limit", "2") == [1, 2]
    assert positions("--from", "2026-03-04T12:02:00Z", "--to", "2026-03-04T12:04:00Z") == [2, 3]
    neutralised = run(database_url, "query", "access", "--format", "csv", "--limit", "1")
    assert "'=HYPERLINK" not in neutralised.stdout  # the cell is JSON text: it starts with {
    table = run(database_url, "query", "access", "--format", "table")
    assert "access log" in table.stdout and "/v1/trail" in table.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--status", "99"], "99 is not in the range 100<=x<=599"),
        (["--from", "yesterday"], "is not an ISO-8601 instant"),
        (["--from", "2026-03-04T12:00:00Z", "--to", "2026-03-04T11:00:00Z"], "must be after"),
        (["--token", "nul\x00byte"], "--token: must not contain NUL"),
    ],
)
def test_bad_access_queries_exit_2(sqlite_url: str, options: list[str], message: str) -> None:
    migrate.upgrade(sqlite_url)
    result = run(sqlite_url, "query", "access", *options)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_verify_log_walks_the_access_chain_and_finds_an_altered_row(database_url: str) -> None:
    migrate.upgrade(database_url)
    _append(database_url, 4)
    intact = run(database_url, "verify-log", "--format", "json")
    assert intact.exit_code == 0, intact.output
    (access,) = [row for row in json.loads(intact.stdout) if row["check"] == "access"]
    assert (access["result"], access["rows"], access["lastOffset"]) == ("intact", 4, 4)
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.update(access_log).where(access_log.c.position == 2).values(status=500)
            )
    finally:
        engine.dispose()
    broken = run(database_url, "verify-log", "--format", "json")
    assert broken.exit_code == 1
    (access,) = [row for row in json.loads(broken.stdout) if row["check"] == "access"]
    assert (access["result"], access["offset"]) == ("altered", 2)
    assert "content does not match its hash" in access["detail"]


# --------------------------------------------------------------------------- the session


def _serve(database_url: str, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, **env}
    environment.pop("CLIENT_AUDIT_API_TOKENS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "client_audit.cli", "--database-url", database_url, "serve",
         "--port", str(port)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=environment,
    )


def _until_listening(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return
        except httpx.TransportError:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)


def test_a_session_token_refused_outside_its_scope_and_recorded(
    database_url: str, tmp_path: Path
) -> None:
    history = History("cred-session-1", user_id="alice")
    seed(database_url, [history.created(), history.used("10.0.0.1")], topic=topic_name("s"))
    token = created(database_url, "credentials-only", "read:credentials")
    port, log = free_port(), tmp_path / "serve.log"
    server = _serve(database_url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        _until_listening(base, server, log)
        auth = {"Authorization": f"Bearer {token}"}
        allowed = httpx.get(f"{base}/v1/credentials", headers=auth, timeout=5)
        refused = httpx.get(f"{base}/v1/trail", params={"userId": "alice"}, headers=auth,
                            timeout=5)
    finally:
        server.terminate()
        server.wait(15)
    assert allowed.status_code == 200 and len(allowed.json()["credentials"]) == 1
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "this route needs the scope read:audit-log; the token 'credentials-only' holds "
        "read:credentials")
    assert token not in log.read_text()

    recorded = run(database_url, "query", "access", "--token", "credentials-only",
                   "--format", "jsonl")
    entries: list[dict[str, Any]] = [json.loads(line) for line in recorded.stdout.splitlines()]
    assert [(e["route"], e["status"], e["rowsReturned"]) for e in entries] == [
        ("/v1/credentials", 200, 1), ("/v1/trail", 403, None)]
    assert entries[1]["parameters"] == {"userId": "alice"}
    assert entries[1]["clientAddress"] == "127.0.0.1"
    listed = run(database_url, "tokens", "list", "--format", "jsonl")
    assert json.loads(listed.stdout)["lastUsedAt"] is not None
    assert run(database_url, "verify-log").exit_code == 0


def test_serve_refuses_an_access_log_in_another_store(sqlite_url: str, tmp_path: Path) -> None:
    migrate.upgrade(sqlite_url)
    result = subprocess.run(
        [sys.executable, "-m", "client_audit.cli", "--database-url", sqlite_url, "serve"],
        env={**os.environ, "CLIENT_AUDIT_API_TOKENS": '["t0ken"]',
             "CLIENT_AUDIT_ACCESS_LOG_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "must name the store of DATABASE_URL" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    result = subprocess.run(
        [sys.executable, "-m", "client_audit.cli", "--database-url", url, "serve"],
        env={**os.environ, "CLIENT_AUDIT_API_TOKENS": '["t0ken"]'},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert f"schema revision 0003, not {migrate.head_revision()}" in result.stderr
