"""Finding the first break in one partition's audit chain (pure).

The rows of a partition are walked in offset order. Each row has already been checked on
its own (its hash recomputed from its content and stored previous hash); the walk checks
the links between rows and tells apart what broke them:

- **altered**: a row's content no longer gives its stored hash; or the row was re-hashed
  after a change, so the next row (at the very next offset) no longer links to it;
- **inserted**: a row the chain does not need: the row after it links to the row before
  it, or it links to a hash that is not the previous row's while the next row links past
  it, or it sits after the stored chain head;
- **removed**: a row links to a hash no remaining row has (rows before it are gone), or
  the chain ends before its stored head;
- **reordered**: a row's ``position`` (the order queries list entries in) is not above the
  position of the row before it in offset order, or its ``leaf_index`` is not its place in
  offset order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from projections.chain.hashing import GENESIS_HASH
from projections.chain.heads import ChainHead


class ChainProblem(StrEnum):
    ALTERED = "altered"
    REMOVED = "removed"
    INSERTED = "inserted"
    REORDERED = "reordered"


@dataclass(frozen=True, slots=True)
class ChainRow:
    """What the walk needs of one audit row; ``content_error`` says why its content fails."""

    position: int
    event_id: str
    offset: int
    previous_hash: str
    chain_hash: str
    content_error: str | None = None
    leaf_index: int | None = None
    """The row's stored place in its partition's Merkle log (None: not checked)."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row at which a partition's chain does not hold, and how."""

    problem: ChainProblem
    offset: int | None
    position: int | None
    event_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class WalkResult:
    """How many rows were walked, the hash the walk ended on, and the first break if any."""

    rows: int
    last_hash: str
    last_offset: int | None
    first_break: ChainBreak | None


def _at(row: ChainRow, problem: ChainProblem, detail: str) -> ChainBreak:
    return ChainBreak(problem, row.offset, row.position, row.event_id, detail)


def _with_next(rows: Iterable[ChainRow]) -> Iterator[tuple[ChainRow, ChainRow | None]]:
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _link_break(
    row: ChainRow,
    following: ChainRow | None,
    previous: ChainRow | None,
    previous_hash: str,
    before_previous_hash: str | None,
    place: str,
) -> ChainBreak:
    """Why ``row`` does not link to ``previous`` (whose hash is ``previous_hash``)."""
    where = "the chain's start" if previous is None else f"{place} {previous.offset}"
    if previous is not None and row.previous_hash == before_previous_hash:
        return _at(
            previous,
            ChainProblem.INSERTED,
            f"the row at {place} {row.offset} links past it to the row before it",
        )
    if previous is not None and row.offset == previous.offset:
        detail = f"duplicates {place} {row.offset} with a foreign link"
        return _at(row, ChainProblem.INSERTED, detail)
    if following is not None and following.previous_hash == previous_hash:
        return _at(
            row,
            ChainProblem.INSERTED,
            f"links to a foreign hash {row.previous_hash[:16]}..., "
            f"and the row at {place} {following.offset} links past it to {where}",
        )
    if previous is not None and row.offset == previous.offset + 1:
        return _at(
            previous,
            ChainProblem.ALTERED,
            f"re-hashed: the row at the next {place} {row.offset} links to "
            f"{row.previous_hash[:16]}..., not to this row's {previous_hash[:16]}...",
        )
    return _at(
        row,
        ChainProblem.REMOVED,
        f"links to {row.previous_hash[:16]}..., which no row before it has: rows between "
        f"{where} and {place} {row.offset} were removed",
    )


def walk_partition(
    rows: Iterable[ChainRow], head: ChainHead | None, place: str = "offset"
) -> WalkResult:
    """Walk one chain's rows (in ``place`` order: a partition's offsets, or the access
    log's positions) against its stored chain ``head``."""
    previous: ChainRow | None = None
    previous_hash, before_previous_hash = GENESIS_HASH, None
    count = 0
    head_row: ChainRow | None = None
    for row, following in _with_next(rows):
        found: ChainBreak | None = None
        if row.content_error is not None:
            found = _at(row, ChainProblem.ALTERED, row.content_error)
        elif head_row is not None:
            found = _at(
                row,
                ChainProblem.INSERTED,
                f"comes after the chain head (the row at {place} {head_row.offset})",
            )
        elif row.previous_hash != previous_hash:
            found = _link_break(
                row, following, previous, previous_hash, before_previous_hash, place
            )
        elif previous is not None and row.position <= previous.position:
            found = _at(
                row,
                ChainProblem.REORDERED,
                f"position {row.position} is not after position {previous.position} of the "
                f"row at the previous {place} {previous.offset}: queries would list it first",
            )
        elif row.leaf_index is not None and row.leaf_index != count:
            found = _at(
                row,
                ChainProblem.REORDERED,
                f"its leaf_index is {row.leaf_index}, but it is entry {count} of the "
                "partition in offset order",
            )
        if found is not None:
            last = None if previous is None else previous.offset
            return WalkResult(count, previous_hash, last, found)
        before_previous_hash, previous_hash, previous = previous_hash, row.chain_hash, row
        count += 1
        if head is not None and row.chain_hash == head.chain_hash:
            head_row = row
    last_offset = None if previous is None else previous.offset
    tail = _tail_break(head, count, previous_hash, last_offset, place)
    return WalkResult(count, previous_hash, last_offset, tail)


def _tail_break(
    head: ChainHead | None, count: int, last_hash: str, last_offset: int | None, place: str
) -> ChainBreak | None:
    """A chain that ends elsewhere than its stored head lost its last rows."""
    if head is None:
        if count == 0:
            return None
        return ChainBreak(
            ChainProblem.REMOVED, None, None, None,
            f"no chain head is stored for a chain with {count} rows",
        )
    if head.chain_hash == last_hash and head.length == count:
        return None
    return ChainBreak(
        ChainProblem.REMOVED,
        head.last_offset,
        None,
        None,
        f"the chain head says the last row is at {place} {head.last_offset} "
        f"(hash {head.chain_hash[:16]}..., {head.length} rows); the chain ends at "
        f"{place} {last_offset} after {count} rows",
    )
