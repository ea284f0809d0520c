"""Verifying the access log's chain: every row re-hashed from its columns, links walked.

The same walk as the audit log's partitions (:mod:`projections.chain.walk`), over one
chain in position order, against the stored head: an altered, removed or inserted row is
named by its position. Reads only; one page of rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, select

from projections.chain.access_hashing import access_chain_hash
from projections.chain.heads import ChainHead
from projections.chain.walk import ChainBreak, ChainRow, walk_partition
from projections.db.tables import access_chain_head, access_log
from projections.model.access import AccessEntry

ACCESS_CHAIN = "access"
"""The name of the access log's one chain in ``access_chain_head``."""

PAGE = 2_000
"""Access rows read per query."""


@dataclass(frozen=True, slots=True)
class AccessChainVerdict:
    """The access chain: rows walked, where it ends, and its first break (None: intact)."""

    rows: int
    last_position: int | None
    last_hash: str
    head: ChainHead | None
    first_break: ChainBreak | None


def access_head(connection: Connection) -> ChainHead | None:
    """The stored end of the access chain (None: the head row is missing)."""
    row = connection.execute(
        select(access_chain_head).where(access_chain_head.c.chain == ACCESS_CHAIN)
    ).first()
    if row is None:
        return None
    return ChainHead(row.last_position, row.chain_hash, row.length)


def verify_access_chain(connection: Connection) -> AccessChainVerdict:
    """Walk the access log in position order against its stored head."""
    head = access_head(connection)
    rows = (checked_access_row(row) for row in access_rows(connection))
    walked = walk_partition(rows, head, place="position")
    return AccessChainVerdict(
        walked.rows, walked.last_offset, walked.last_hash, head, walked.first_break
    )


def access_rows(connection: Connection) -> Iterator[RowMapping]:
    """Every access row in position order, page by page."""
    after = 0
    while True:
        query = (
            select(access_log)
            .where(access_log.c.position > after)
            .order_by(access_log.c.position)
            .limit(PAGE)
        )
        page = [row._mapping for row in connection.execute(query)]
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1]["position"]


def entry_of(row: RowMapping) -> AccessEntry:
    """The recorded request a row holds."""
    return AccessEntry(
        at=row["at"],
        token_name=row["token_name"],
        method=row["method"],
        route=row["route"],
        status=row["status"],
        parameters=row["parameters"],
        rows_returned=row["rows_returned"],
        client_address=row["client_address"],
    )


def checked_access_row(row: RowMapping) -> ChainRow:
    """A row with its hash recomputed from its columns."""
    return ChainRow(
        position=row["position"],
        event_id=f"access:{row['position']}",
        offset=row["position"],
        previous_hash=row["previous_hash"],
        chain_hash=row["chain_hash"],
        content_error=_content_error(row),
    )


def _content_error(row: RowMapping) -> str | None:
    try:
        recomputed = access_chain_hash(row["previous_hash"], row["position"], entry_of(row))
    except ValueError as exc:
        return f"previous_hash is malformed: {exc}"
    except TypeError as exc:
        return f"a column holds a value the chain cannot encode: {exc}"
    if recomputed != row["chain_hash"]:
        return (
            f"content does not match its hash: stored {row['chain_hash'][:16]}..., "
            f"recomputed {recomputed[:16]}..."
        )
    return None
