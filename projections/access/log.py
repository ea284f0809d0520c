"""Appending to the access log: the next position, hash-chained, under the head's row lock.

Appends of concurrent requests take turns on the chain head (``SELECT ... FOR UPDATE`` on
PostgreSQL, the write transaction itself on SQLite), so positions run 1, 2, 3 ... without
gaps and every row links to the one before it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select, update

from projections.access.errors import AccessLogError
from projections.access.tokens import TokenRecord, mark_used
from projections.chain.access_hashing import access_chain_hash
from projections.chain.access_verify import ACCESS_CHAIN
from projections.db.engine import write_transaction
from projections.db.tables import access_chain_head, access_log
from projections.model.access import AccessEntry


def append_access(connection: Connection, entry: AccessEntry) -> int:
    """Append ``entry`` in the caller's transaction; its position."""
    head = connection.execute(
        select(access_chain_head)
        .where(access_chain_head.c.chain == ACCESS_CHAIN)
        .with_for_update()
    ).first()
    if head is None:
        raise AccessLogError(
            "the access log has no chain head (access_chain_head); migrate the database"
        )
    position = int(head.last_position) + 1
    chained = access_chain_hash(head.chain_hash, position, entry)
    connection.execute(access_log.insert().values(
        position=position,
        at=entry.at,
        token_name=entry.token_name,
        method=entry.method,
        route=entry.route,
        parameters=entry.parameters,
        rows_returned=entry.rows_returned,
        status=entry.status,
        client_address=entry.client_address,
        previous_hash=head.chain_hash,
        chain_hash=chained,
    ))
    connection.execute(
        update(access_chain_head)
        .where(access_chain_head.c.chain == ACCESS_CHAIN)
        .values(last_position=position, chain_hash=chained, length=head.length + 1)
    )
    return position


class AccessLogWriter:
    """Appends access entries through its own engine (the access-log writer's role), one
    transaction per entry, together with the token's last use when one is due."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, entry: AccessEntry, token: TokenRecord | None = None) -> int:
        """Append ``entry``; also mark the use of ``token`` (a stored token) when its last
        recorded use is over a minute old. Its position."""
        with write_transaction(self.engine) as connection:
            position = append_access(connection, entry)
            if token is not None and token.use_worth_marking(entry.at):
                mark_used(connection, token.name, entry.at)
        return position
