"""Appending to the access log: the next positions, hash-chained, under the head's row lock.

Appends of concurrent transactions take turns on the chain head (``SELECT ... FOR UPDATE``
on PostgreSQL, the write transaction itself on SQLite), so positions run 1, 2, 3 ... without
gaps and every row links to the one before it. Within one process,
:class:`AccessLogWriter` gathers concurrent requests' entries into one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

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
    (position,) = append_accesses(connection, [entry])
    return position


def append_accesses(connection: Connection, entries: Sequence[AccessEntry]) -> list[int]:
    """Append ``entries`` in order in the caller's transaction, under one lock of the chain
    head; their positions."""
    head = connection.execute(
        select(access_chain_head)
        .where(access_chain_head.c.chain == ACCESS_CHAIN)
        .with_for_update()
    ).first()
    if head is None:
        raise AccessLogError(
            "the access log has no chain head (access_chain_head); migrate the database"
        )
    position, chained = int(head.last_position), str(head.chain_hash)
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for entry in entries:
        position += 1
        positions.append(position)
        previous, chained = chained, access_chain_hash(chained, position, entry)
        rows.append({
            "position": position, "at": entry.at, "token_name": entry.token_name,
            "method": entry.method, "route": entry.route, "parameters": entry.parameters,
            "rows_returned": entry.rows_returned, "status": entry.status,
            "client_address": entry.client_address, "previous_hash": previous,
            "chain_hash": chained,
        })
    if rows:
        connection.execute(access_log.insert(), rows)
        connection.execute(
            update(access_chain_head)
            .where(access_chain_head.c.chain == ACCESS_CHAIN)
            .values(last_position=position, chain_hash=chained,
                    length=int(head.length) + len(rows))
        )
    return positions


_Pending = tuple[AccessEntry, TokenRecord | None, "Future[int]"]


class AccessLogWriter:
    """Appends access entries through its own engine (the access-log writer's role), with
    the token's last use when one is due; each call returns once its entry is committed.

    Concurrent calls are committed together: while one transaction commits, the entries
    that arrive wait, and the next caller to get the turn writes all of them in one
    transaction (one lock of the chain head, one commit) and wakes their callers. So
    appends cost about one commit per batch rather than one per request, and a failed
    transaction fails every request whose entry it held.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: list[_Pending] = []
        self._queue = threading.Lock()
        self._turn = threading.Lock()

    def append(self, entry: AccessEntry, token: TokenRecord | None = None) -> int:
        """Append ``entry``; also mark the use of ``token`` (a stored token) when its last
        recorded use is over a minute old. Its position, once committed."""
        done: Future[int] = Future()
        with self._queue:
            self._pending.append((entry, token, done))
        with self._turn:
            if not done.done():
                with self._queue:
                    batch, self._pending = self._pending, []
                self._write(batch)
        return done.result()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with write_transaction(self.engine) as connection:
                positions = append_accesses(connection, [entry for entry, _, _ in batch])
                marked: set[str] = set()
                for entry, token, _ in batch:
                    due = token is not None and token.use_worth_marking(entry.at)
                    if token is not None and due and token.name not in marked:
                        mark_used(connection, token.name, entry.at)
                        marked.add(token.name)
        except BaseException as exc:
            for _, _, done in batch:
                done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, done), position in zip(batch, positions, strict=True):
            done.set_result(position)
