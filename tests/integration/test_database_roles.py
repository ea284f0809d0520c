"""Least privilege on PostgreSQL: the API's read-only role reads every table and writes
none; the access-log writer appends access rows, moves the chain head and sets a token's
last use, and can do nothing else (the console's tables included); the API and the
console work with exactly these two roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.console import install_console
from projections.access.log import AccessLogWriter
from projections.access.tokens import issue_token, list_tokens
from projections.chain.access_verify import verify_access_chain
from projections.chain.records import VerificationRecord, record_verification
from projections.db import migrate
from projections.db.engine import create_engine_for, write_transaction
from projections.db.tables import metadata
from projections.model.access import AccessEntry, Scope
from projections.write.saved_searches import save_search
from tests.builders_projection import History, Partition
from tests.services import RoleUrls

pytestmark = pytest.mark.integration

TABLES = sorted(metadata.tables)
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


@pytest.fixture
def seeded(role_schema: RoleUrls) -> Iterator[RoleUrls]:
    from projections.write.store import ProjectionStore

    history = History("cred-roles-1", user_id="alice")
    lane = Partition(0)
    placed = lane.place([history.created(), history.used("10.0.0.1")])
    engine = create_engine_for(role_schema.owner)
    try:
        ProjectionStore(engine).apply(placed, lane.offsets())
        with write_transaction(engine) as connection:
            issue_token(connection, "reader-token", {Scope.READ_AUDIT_LOG}, NOW)
        AccessLogWriter(engine).append(AccessEntry(NOW, "env:1", "GET", "/v1/trail", 200))
    finally:
        engine.dispose()
    yield role_schema


def refused(url: str, statement: str) -> bool:
    """Whether PostgreSQL refuses ``statement`` for lack of privilege."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    except sa.exc.ProgrammingError as exc:
        assert isinstance(exc.orig, psycopg.errors.InsufficientPrivilege), exc
        return True
    finally:
        engine.dispose()
    return False


def test_the_reader_reads_every_table(seeded: RoleUrls) -> None:
    engine = create_engine_for(seeded.reader)
    try:
        with engine.connect() as connection:
            counts = {table: connection.execute(
                sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in TABLES}
    finally:
        engine.dispose()
    assert counts["audit_log"] == 2 and counts["credentials"] == 1
    assert counts["api_tokens"] == 1 and counts["access_log"] == 1


@pytest.mark.parametrize("table", TABLES)
def test_the_reader_writes_nothing(seeded: RoleUrls, table: str) -> None:
    assert refused(seeded.reader, f"DELETE FROM {table}")
    assert refused(seeded.reader, f"TRUNCATE {table}")
    column = next(iter(metadata.tables[table].columns)).name
    assert refused(seeded.reader, f'UPDATE {table} SET "{column}" = "{column}"')
    assert refused(seeded.reader, f"INSERT INTO {table} SELECT * FROM {table}")


def test_the_reader_creates_nothing(seeded: RoleUrls) -> None:
    assert refused(seeded.reader, "CREATE TABLE planted (x int)")
    assert refused(seeded.reader, "ALTER TABLE audit_log ADD COLUMN planted int")
    assert refused(seeded.reader, "DROP TABLE access_log")


def test_the_access_writer_appends_and_marks_use_only(seeded: RoleUrls) -> None:
    owner = create_engine_for(seeded.owner)
    writer = create_engine_for(seeded.access_writer)
    try:
        with owner.connect() as connection:
            (token,) = list_tokens(connection)
        assert AccessLogWriter(writer).append(
            AccessEntry(NOW, "reader-token", "GET", "/v1/trail", 200, {"userId": "a"}, 3), token
        ) == 2
        with owner.connect() as connection:
            (token,) = list_tokens(connection)
            verdict = verify_access_chain(connection)
    finally:
        writer.dispose()
        owner.dispose()
    assert token.last_used_at == NOW
    assert verdict.first_break is None and verdict.rows == 2


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM audit_log",
        "SELECT * FROM credentials",
        "SELECT * FROM access_log",
        "SELECT token_hash FROM api_tokens",
        "UPDATE access_log SET status = 200",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
        "UPDATE api_tokens SET revoked_at = NULL",
        "UPDATE api_tokens SET scopes = '[\"admin\"]'",
        "INSERT INTO api_tokens (name, token_hash, scopes, created_at) "
        "VALUES ('planted', 'x', '[\"admin\"]', now())",
        "DELETE FROM access_chain_head",
        "INSERT INTO audit_log SELECT * FROM audit_log",
        "DELETE FROM consumer_positions",
        "SELECT * FROM saved_searches",
        "SELECT * FROM log_verifications",
        "INSERT INTO saved_searches VALUES ('planted', 'type:USED', now(), now())",
        "DELETE FROM log_verifications",
        "CREATE TABLE planted (x int)",
    ],
)
def test_the_access_writer_can_do_nothing_else(seeded: RoleUrls, statement: str) -> None:
    assert refused(seeded.access_writer, statement)


def test_tables_the_owner_adds_later_are_readable_by_the_reader(role_schema: RoleUrls) -> None:
    engine = create_engine_for(role_schema.owner)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE later_projection (x int)"))
            connection.execute(sa.text("INSERT INTO later_projection VALUES (1)"))
    finally:
        engine.dispose()
    reader = create_engine_for(role_schema.reader)
    try:
        with reader.connect() as connection:
            assert connection.execute(sa.text("SELECT x FROM later_projection")).scalar() == 1
    finally:
        reader.dispose()
    assert refused(role_schema.reader, "INSERT INTO later_projection VALUES (2)")


def test_the_api_answers_and_records_with_the_two_roles(seeded: RoleUrls) -> None:
    owner = create_engine_for(seeded.owner)
    with write_transaction(owner) as connection:
        token = issue_token(connection, "api-user", {Scope.READ_CREDENTIALS},
                            datetime.now(UTC)).token
    reader = create_engine_for(seeded.reader)
    writer = create_engine_for(seeded.access_writer)
    try:
        app = create_app(reader, [], access_engine=writer)
        with TestClient(app, raise_server_exceptions=False) as client:
            auth = {"Authorization": f"Bearer {token}"}
            listed = client.get("/v1/credentials", headers=auth)
            forbidden = client.get("/v1/trail", headers=auth)
        with owner.connect() as connection:
            verdict = verify_access_chain(connection)
            used = {record.name: record.last_used_at for record in list_tokens(connection)}
            routes = connection.execute(sa.text(
                "SELECT route, status, token_name FROM access_log ORDER BY position"
            )).all()
    finally:
        writer.dispose()
        reader.dispose()
        owner.dispose()
    assert listed.status_code == 200 and len(listed.json()["credentials"]) == 1
    assert forbidden.status_code == 403
    assert [tuple(row) for row in routes][1:] == [
        ("/v1/credentials", 200, "api-user"), ("/v1/trail", 403, "api-user")]
    assert verdict.first_break is None
    assert used["api-user"] is not None


def test_the_console_answers_and_records_with_the_two_roles(seeded: RoleUrls) -> None:
    owner = create_engine_for(seeded.owner)
    with write_transaction(owner) as connection:
        token = issue_token(connection, "investigator",
                            {Scope.READ_AUDIT_LOG, Scope.READ_INTEGRITY}, datetime.now(UTC)).token
    save_search(owner, "alice", "user:alice", datetime.now(UTC))
    record_verification(owner, VerificationRecord(datetime.now(UTC), False, 1, 0, []))
    reader = create_engine_for(seeded.reader)
    writer = create_engine_for(seeded.access_writer)
    try:
        app = create_app(reader, [], access_engine=writer)
        install_console(app)
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
            form = client.get("/console/sign-in")
            found = re.search(r'name="form_token" value="([^"]+)"', form.text)
            assert found is not None
            signed = client.post("/console/sign-in", data={
                "token": token, "form_token": found.group(1),
            }, headers={"Sec-Fetch-Site": "same-origin"})
            search = client.get("/console/search", params={"q": "user:alice"})
            integrity = client.get("/console/integrity")
            credential = client.get("/console/credentials/cred-roles-1")
        with owner.connect() as connection:
            verdict = verify_access_chain(connection)
            used = {record.name: record.last_used_at for record in list_tokens(connection)}
            routes = connection.execute(sa.text(
                "SELECT route, status, token_name, rows_returned FROM access_log "
                "ORDER BY position"
            )).all()
    finally:
        writer.dispose()
        reader.dispose()
        owner.dispose()
    assert signed.status_code == 303
    assert search.status_code == 200 and "user:alice" in search.text
    assert integrity.status_code == 200 and "1 of 1 checks intact" in integrity.text
    assert credential.status_code == 403 and "read:credentials" in credential.text
    assert [tuple(row) for row in routes][1:] == [
        ("/console/sign-in", 200, None, None), ("/console/sign-in", 303, "investigator", None),
        ("/console/search", 200, "investigator", 2), ("/console/integrity", 200, "investigator", 3),
        ("/console/credentials/{credential_id:path}", 403, "investigator", None),
    ]
    assert verdict.first_break is None
    assert used["investigator"] is not None


def test_the_migrations_grant_the_reader_every_table_without_default_privileges(
    postgres_role_urls: RoleUrls, unique_name: str
) -> None:
    """Roles made without the default privileges devservices sets still get what they need
    from the migrations: 0006 for the tables up to it, 0007 for the console's tables, 0008
    for the alert tables. Run in one transaction that is rolled back, default privileges
    included."""
    engine = create_engine_for(postgres_role_urls.owner)
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(
                "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER "
                "REVOKE SELECT ON TABLES FROM client_audit_reader"
            ))
            connection.execute(sa.text(f'CREATE SCHEMA "{unique_name}"'))
            connection.execute(sa.text(f'SET LOCAL search_path TO "{unique_name}"'))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            privileges = {
                (role, table): connection.execute(
                    sa.text("SELECT has_table_privilege(:role, :table, 'SELECT')"),
                    {"role": role, "table": f'"{unique_name}".{table}'},
                ).scalar_one()
                for role in ("client_audit_reader", "client_audit_access") for table in TABLES
            }
            connection.rollback()
    finally:
        engine.dispose()
    assert all(privileges["client_audit_reader", table] for table in TABLES), privileges
    readable_by_writer = {table for table in TABLES if privileges["client_audit_access", table]}
    # api_tokens: only the columns (name, last_used_at), which has_table_privilege does not count
    assert readable_by_writer == {"access_chain_head"}
