"""Least privilege on PostgreSQL: the API's read-only role reads every table and writes
none; the access-log writer appends access rows, moves the chain head and sets a token's
last use, and can do nothing else; the API works with exactly these two roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from client_audit.api import create_app
from projections.access.log import AccessLogWriter
from projections.access.tokens import issue_token, list_tokens
from projections.chain.access_verify import verify_access_chain
from projections.db.engine import create_engine_for, write_transaction
from projections.db.tables import metadata
from projections.model.access import AccessEntry, Scope
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
