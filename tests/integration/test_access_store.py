"""API tokens and the access log on real SQLite and PostgreSQL: tokens stored as hashes,
issued once, revoked for good; access rows appended in one chain that verifies, and every
kind of tampering found at its position."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from projections.access.errors import TokenRequestError, UnknownTokenError
from projections.access.log import append_access
from projections.access.tokens import (
    TOKEN_PREFIX,
    TokenState,
    find_token,
    issue_token,
    list_tokens,
    mark_used,
    revoke_token,
)
from projections.chain.access_hashing import access_chain_hash
from projections.chain.access_verify import verify_access_chain
from projections.chain.hashing import GENESIS_HASH
from projections.chain.walk import ChainProblem
from projections.db import migrate
from projections.db.engine import create_engine_for, write_transaction
from projections.db.tables import access_chain_head, access_log, api_tokens
from projections.model.access import AccessEntry, Scope
from projections.queries import AccessFilter, AccessPageRequest, access_entries, walk

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    migrate.upgrade(database_url)
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


def entry(n: int, **changes: object) -> AccessEntry:
    values: dict[str, object] = {
        "at": NOW + timedelta(seconds=n, microseconds=n),
        "token_name": "ci-reader" if n % 2 else "env:1",
        "method": "GET",
        "route": "/v1/trail" if n % 3 else "/v1/credentials/{credentialId:path}",
        "status": 200 if n % 4 else 403,
        "parameters": {"credentialId": f"cred-{n}", "eventType": ["CREATED", "USED"],
                       "note": "ユーザー ✓"},
        "rows_returned": n if n % 4 else None,
        "client_address": "2001:db8::1" if n % 2 else "127.0.0.1",
    }
    values.update(changes)
    return AccessEntry(**values)  # type: ignore[arg-type]


def append(engine: sa.Engine, count: int) -> list[int]:
    positions = []
    for n in range(1, count + 1):
        with write_transaction(engine) as connection:
            positions.append(append_access(connection, entry(n)))
    return positions


# ------------------------------------------------------------------------------- tokens


def test_a_token_is_issued_once_and_only_its_hash_is_stored(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        issued = issue_token(connection, "ci-reader", {Scope.READ_AUDIT_LOG}, NOW)
    assert issued.token.startswith(TOKEN_PREFIX) and len(issued.token) == 47
    assert issued.token not in repr(issued)
    with engine.connect() as connection:
        row = connection.execute(sa.select(api_tokens)).mappings().one()
        assert issued.token not in str(dict(row))
        assert row["token_hash"] == hashlib.sha256(issued.token.encode()).hexdigest()
        assert row["scopes"] == ["read:audit-log"]
        found = find_token(connection, issued.token)
        assert found is not None and found.name == "ci-reader"
        assert found.scopes == {Scope.READ_AUDIT_LOG}
        assert found.created_at == NOW and found.state(NOW) is TokenState.ACTIVE
        assert find_token(connection, issued.token[:-1]) is None
        assert find_token(connection, issued.token + "x") is None


def test_two_tokens_never_share_a_secret(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        first = issue_token(connection, "first", {Scope.ADMIN}, NOW)
        second = issue_token(connection, "second", {Scope.ADMIN}, NOW)
    assert first.token != second.token


@pytest.mark.parametrize(
    ("name", "scopes", "expires", "message"),
    [
        ("", {Scope.ADMIN}, None, "is not a token name"),
        ("env:1", {Scope.ADMIN}, None, "is not a token name"),
        ("-leading", {Scope.ADMIN}, None, "is not a token name"),
        ("x" * 65, {Scope.ADMIN}, None, "is not a token name"),
        ("with space", {Scope.ADMIN}, None, "is not a token name"),
        ("esc\x1b[2J", {Scope.ADMIN}, None, "is not a token name"),
        ("ok", set(), None, "at least one scope"),
        ("ok", {Scope.ADMIN}, NOW, "not in the future"),
        ("ok", {Scope.ADMIN}, NOW - timedelta(days=1), "not in the future"),
    ],
)
def test_bad_token_requests_are_refused_and_store_nothing(
    engine: sa.Engine, name: str, scopes: set[Scope], expires: datetime | None, message: str
) -> None:
    with pytest.raises(TokenRequestError, match=message), write_transaction(engine) as conn:
        issue_token(conn, name, scopes, NOW, expires)
    with engine.connect() as connection:
        assert list_tokens(connection) == []


def test_names_are_never_reused_not_even_after_revocation(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        issue_token(connection, "ci-reader", {Scope.READ_AUDIT_LOG}, NOW)
        revoke_token(connection, "ci-reader", NOW)
    with pytest.raises(TokenRequestError, match="exists already"), \
            write_transaction(engine) as connection:
        issue_token(connection, "ci-reader", {Scope.READ_AUDIT_LOG}, NOW)


def test_revoked_and_expired_tokens_keep_their_records(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        kept = issue_token(connection, "kept", {Scope.READ_CREDENTIALS}, NOW)
        issue_token(connection, "short", {Scope.READ_CREDENTIALS}, NOW, NOW + timedelta(hours=1))
        revoked = revoke_token(connection, "kept", NOW + timedelta(minutes=5))
        again = revoke_token(connection, "kept", NOW + timedelta(minutes=9))
    assert revoked.revoked_at == again.revoked_at == NOW + timedelta(minutes=5)
    later = NOW + timedelta(hours=2)
    with engine.connect() as connection:
        states = {record.name: record.state(later) for record in list_tokens(connection)}
        found = find_token(connection, kept.token)
    assert states == {"kept": TokenState.REVOKED, "short": TokenState.EXPIRED}
    assert found is not None and found.state(NOW) is TokenState.REVOKED
    with pytest.raises(UnknownTokenError), write_transaction(engine) as connection:
        revoke_token(connection, "nobody", NOW)


def test_last_use_is_written_at_most_once_a_minute(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        issue_token(connection, "busy", {Scope.ADMIN}, NOW)
    for seconds in (0, 10, 59, 61, 62):
        with write_transaction(engine) as connection:
            mark_used(connection, "busy", NOW + timedelta(seconds=seconds))
    with engine.connect() as connection:
        (record,) = list_tokens(connection)
    assert record.last_used_at == NOW + timedelta(seconds=61)
    assert not record.use_worth_marking(NOW + timedelta(seconds=100))
    assert record.use_worth_marking(NOW + timedelta(seconds=121))


# -------------------------------------------------------------------------- access log


def test_appended_entries_form_one_chain_that_verifies(engine: sa.Engine) -> None:
    assert append(engine, 7) == [1, 2, 3, 4, 5, 6, 7]
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(access_log).order_by(access_log.c.position)
        ).mappings().all()
        verdict = verify_access_chain(connection)
        head = connection.execute(sa.select(access_chain_head)).mappings().one()
    previous = GENESIS_HASH
    for n, row in enumerate(rows, start=1):
        assert row["previous_hash"] == previous
        assert row["chain_hash"] == access_chain_hash(previous, n, entry(n))
        assert row["parameters"] == entry(n).parameters
        previous = row["chain_hash"]
    assert verdict.first_break is None and verdict.rows == 7 and verdict.last_position == 7
    assert dict(head) == {"chain": "access", "last_position": 7, "chain_hash": previous,
                          "length": 7}


def test_an_empty_access_log_verifies(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        verdict = verify_access_chain(connection)
    assert verdict.rows == 0 and verdict.first_break is None


def tamper(engine: sa.Engine, statement: sa.Executable) -> tuple[ChainProblem, int | None]:
    with engine.begin() as connection:
        connection.execute(statement)
    with engine.connect() as connection:
        found = verify_access_chain(connection).first_break
    assert found is not None
    return found.problem, found.offset


def test_an_altered_row_is_found_at_its_position(engine: sa.Engine) -> None:
    append(engine, 5)
    changed = sa.update(access_log).where(access_log.c.position == 3).values(rows_returned=999)
    assert tamper(engine, changed) == (ChainProblem.ALTERED, 3)


def test_a_rewritten_token_name_is_found(engine: sa.Engine) -> None:
    append(engine, 5)
    changed = sa.update(access_log).where(access_log.c.position == 2).values(token_name="x")
    assert tamper(engine, changed) == (ChainProblem.ALTERED, 2)


def test_a_removed_row_is_found(engine: sa.Engine) -> None:
    append(engine, 5)
    removed = sa.delete(access_log).where(access_log.c.position == 3)
    assert tamper(engine, removed) == (ChainProblem.REMOVED, 4)


def test_removed_last_rows_are_found_through_the_head(engine: sa.Engine) -> None:
    append(engine, 5)
    problem, _ = tamper(engine, sa.delete(access_log).where(access_log.c.position >= 4))
    assert problem is ChainProblem.REMOVED


def test_a_forged_row_after_the_head_is_found(engine: sa.Engine) -> None:
    append(engine, 3)
    with engine.connect() as connection:
        last = connection.execute(sa.select(access_chain_head.c.chain_hash)).scalar_one()
    forged = entry(4, token_name="intruder")
    row = {
        "position": 4, "at": forged.at, "token_name": forged.token_name, "method": "GET",
        "route": forged.route, "parameters": forged.parameters, "rows_returned": 1,
        "status": 200, "client_address": None, "previous_hash": last,
        "chain_hash": access_chain_hash(last, 4, AccessEntry(
            forged.at, "intruder", "GET", forged.route, 200, forged.parameters, 1, None)),
    }
    assert tamper(engine, sa.insert(access_log).values(**row)) == (ChainProblem.INSERTED, 4)


# ------------------------------------------------------------------------------ queries


def test_access_entries_by_token_route_status_and_window(engine: sa.Engine) -> None:
    append(engine, 12)

    def positions(**given: object) -> list[int]:
        query = AccessFilter.model_validate(given)
        with engine.connect() as connection:
            fetch = lambda page: access_entries(connection, query, page)  # noqa: E731
            return [row.position for row in walk(fetch, AccessPageRequest(limit=2))]

    assert positions() == list(range(1, 13))
    assert positions(token="ci-reader") == [1, 3, 5, 7, 9, 11]
    assert positions(route="/v1/credentials/{credentialId:path}") == [3, 6, 9, 12]
    assert positions(status=[403]) == [4, 8, 12]
    assert positions(status=[403, 200], token="env:1") == [2, 4, 6, 8, 10, 12]
    start, end = (NOW + timedelta(seconds=5)).isoformat(), (NOW + timedelta(seconds=8))
    assert positions(**{"from": start, "to": end.isoformat()}) == [5, 6, 7]


def test_a_walk_does_not_see_entries_appended_after_it_began(engine: sa.Engine) -> None:
    append(engine, 3)
    with engine.connect() as connection:
        first = access_entries(connection, AccessFilter(), AccessPageRequest(limit=2))
    with write_transaction(engine) as connection:
        append_access(connection, entry(4))
    assert first.next_cursor is not None
    with engine.connect() as connection:
        rest = access_entries(
            connection, AccessFilter(),
            AccessPageRequest.model_validate({"limit": 2, "cursor": first.next_cursor}),
        )
    assert [row.position for row in rest.rows] == [3] and rest.next_cursor is None


def test_concurrent_appends_are_committed_together_and_chain_once(engine: sa.Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from projections.access.log import AccessLogWriter

    writer = AccessLogWriter(engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        positions = list(pool.map(lambda n: writer.append(entry(n)), range(1, 81)))
    assert sorted(positions) == list(range(1, 81))
    with engine.connect() as connection:
        verdict = verify_access_chain(connection)
        by_position = dict(connection.execute(
            sa.select(access_log.c.position, access_log.c.parameters)).all())
    assert verdict.first_break is None and verdict.rows == 80
    for n, position in enumerate(positions, start=1):
        assert by_position[position]["credentialId"] == f"cred-{n}"


def test_a_failed_append_fails_its_caller_and_the_next_one_succeeds(engine: sa.Engine) -> None:
    from projections.access.errors import AccessLogError
    from projections.access.log import AccessLogWriter

    writer = AccessLogWriter(engine)
    with engine.begin() as connection:
        saved = connection.execute(sa.select(access_chain_head)).mappings().one()
        connection.execute(sa.delete(access_chain_head))
    with pytest.raises(AccessLogError, match="no chain head"):
        writer.append(entry(1))
    with engine.begin() as connection:
        connection.execute(sa.insert(access_chain_head).values(**saved))
    assert writer.append(entry(2)) == 1
