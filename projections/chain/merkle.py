"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0) over leaf hashes (pure).

- leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``; the tree
  of ``n`` leaves splits at ``k``, the largest power of two below ``n`` (RFC 9162 2.1.1);
- node ``(level, index)`` is the root of the perfect subtree over leaves
  ``[index * 2**level, (index + 1) * 2**level)``; it is complete, and never changes again,
  once the tree holds ``(index + 1) * 2**level`` leaves, so each is stored once;
- the *frontier* of a tree of size ``n`` is the list of perfect subtrees of the binary
  decomposition of ``n`` (one per set bit, largest first): appending a leaf only merges the
  frontier's last entries; the root of any size is the fold of its frontier;
- a proof is planned as groups of node ids (every group folds into one proof element; at
  most one group per proof is the imperfect right edge), so a store fetches every node a
  proof needs in one query (:mod:`projections.chain.nodes`);
- inclusion and consistency proofs are verified with the iterative algorithms of RFC 9162
  2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing."""

NodeId = tuple[int, int]
"""(level, index) of a perfect subtree."""

Plan = list[list[NodeId]]
"""Groups of node ids, one group per proof element (folded left to right)."""


class ProofError(ValueError):
    """A proof that is malformed or does not verify."""


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size >= 2``)."""
    if size < 2:
        raise ValueError("a tree splits only with two leaves or more")
    return 1 << ((size - 1).bit_length() - 1)


def perfect_cover(low: int, high: int) -> list[NodeId]:
    """The perfect subtrees covering leaves ``[low, high)``, left to right (largest first).

    ``low`` must be a multiple of the largest power of two in ``high - low``, which every
    range of the RFC's recursion and every ``[0, n)`` is.
    """
    ids: list[NodeId] = []
    at, size = low, high - low
    for level in range(size.bit_length() - 1, -1, -1):
        if (size >> level) & 1:
            if at % (1 << level):
                raise ValueError(f"leaves [{low}, {high}) are not an aligned range")
            ids.append((level, at >> level))
            at += 1 << level
    return ids


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from the hashes of its perfect cover (left to right)."""
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


class Frontier:
    """The perfect subtrees of a tree of ``size`` leaves: appending emits completed nodes."""

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.levels = [level for level, _index in perfect_cover(0, size)]
        self.hashes = list(hashes)
        if len(self.hashes) != len(self.levels):
            raise ValueError(
                f"a tree of {size} leaves has a frontier of {len(self.levels)} hashes, "
                f"not {len(self.hashes)}"
            )

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; the nodes it completes as (level, index, hash), the leaf first."""
        index = self.size
        completed = [(0, index, leaf)]
        folded, level = leaf, 0
        while self.levels and self.levels[-1] == level:
            self.levels.pop()
            folded = node_hash(self.hashes.pop(), folded)
            level += 1
            completed.append((level, index >> level, folded))
        self.levels.append(level)
        self.hashes.append(folded)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.hashes)


def inclusion_plan(index: int, size: int) -> Plan:
    """The node ids of the audit path of leaf ``index`` in a tree of ``size`` leaves,
    leaf-level sibling first (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    plan: Plan = []
    low, high = 0, size
    while high - low > 1:
        split = split_point(high - low)
        if index < low + split:
            plan.append(perfect_cover(low + split, high))
            high = low + split
        else:
            plan.append(perfect_cover(low, low + split))
            low += split
    plan.reverse()
    return plan


def consistency_plan(first: int, size: int) -> Plan:
    """The node ids of the proof that a tree of ``first`` leaves is a prefix of one of
    ``size`` (RFC 9162 2.1.4.1), ``0 < first <= size``."""
    if not 0 < first <= size:
        raise ProofError(f"no consistency proof from {first} to {size} leaves")
    plan: Plan = []
    low, high, remaining, whole = 0, size, first, True
    while remaining != high - low:
        split = split_point(high - low)
        if remaining <= split:
            plan.append(perfect_cover(low + split, high))
            high = low + split
        else:
            plan.append(perfect_cover(low, low + split))
            low, remaining, whole = low + split, remaining - split, False
    if not whole:
        plan.append(perfect_cover(low, high))
    plan.reverse()
    return plan


def assemble(plan: Plan, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """The proof elements of a plan from the hashes of its nodes."""
    return [fold([nodes[node] for node in group]) for group in plan]


def _checked(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` proves ``leaf`` (a leaf hash) at ``index`` under; ProofError
    when the path has the wrong length for the position (RFC 9162 2.1.3.2 steps 1-4)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    _checked(leaf, "the leaf hash")
    first, last = index, size - 1
    folded = leaf
    for element in path:
        _checked(element, "a proof element")
        if last == 0:
            raise ProofError("the audit path is too long")
        if first & 1 or first == last:
            folded = node_hash(element, folded)
            while not first & 1 and first != 0:
                first >>= 1
                last >>= 1
        else:
            folded = node_hash(folded, element)
        first >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("the audit path is too short")
    return folded


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves leaf hash ``leaf`` at ``index`` in the tree (``size``, ``root``)."""
    try:
        _checked(root, "the root")
        return hmac.compare_digest(root_from_inclusion(index, size, leaf, path), root)
    except ProofError:
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``first``, ``first_root``) is a prefix of
    (``second``, ``second_root``) (RFC 9162 2.1.4.2; equal sizes need an empty proof and
    equal roots; a proof from the empty tree is refused)."""
    try:
        _checked(first_root, "the first root")
        _checked(second_root, "the second root")
        for element in proof:
            _checked(element, "a proof element")
    except ProofError:
        return False
    if first <= 0 or second < first:
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    low, high = first - 1, second - 1
    while low & 1:
        low >>= 1
        high >>= 1
    first_folded = second_folded = path[0]
    for element in path[1:]:
        if high == 0:
            return False
        if low & 1 or low == high:
            first_folded = node_hash(element, first_folded)
            second_folded = node_hash(element, second_folded)
            while not low & 1 and low != 0:
                low >>= 1
                high >>= 1
        else:
            second_folded = node_hash(second_folded, element)
        low >>= 1
        high >>= 1
    return (
        high == 0
        and hmac.compare_digest(first_folded, first_root)
        and hmac.compare_digest(second_folded, second_root)
    )


NodeFetcher = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]
"""Fetches stored node hashes by id (KeyError for one not stored)."""


def root_of(size: int, fetch: NodeFetcher) -> bytes:
    """The root of the first ``size`` leaves, from stored nodes."""
    if size == 0:
        return EMPTY_ROOT
    cover = perfect_cover(0, size)
    found = fetch(cover)
    return fold([found[node] for node in cover])


def prove_inclusion(index: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    plan = inclusion_plan(index, size)
    return assemble(plan, fetch(sorted({node for group in plan for node in group})))


def prove_consistency(first: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    if first == size:
        return []
    plan = consistency_plan(first, size)
    return assemble(plan, fetch(sorted({node for group in plan for node in group})))
