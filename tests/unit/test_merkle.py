"""RFC 9162 Merkle trees: the published test vectors of transparency-dev/merkle
(testonly/constants.go, proof/verify_test.go), and every size up to 64 against a brute-force
tree built level by level."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.chain.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeId,
    inclusion_plan,
    leaf_hash,
    node_hash,
    perfect_cover,
    prove_consistency,
    prove_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)

H = bytes.fromhex
LEAVES = [H(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [H(x) for x in [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


class Store:
    """Nodes as a frontier emits them, in memory."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.frontier = Frontier()
        for leaf in leaves:
            for level, index, value in self.frontier.append(leaf):
                self.nodes[(level, index)] = value

    def fetch(self, ids: object) -> dict[NodeId, bytes]:
        return {node: self.nodes[node] for node in ids}  # type: ignore[attr-defined]


def brute_root(leaves: list[bytes]) -> bytes:
    """Level by level, an odd last node carried up unchanged."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


HASHED = [leaf_hash(leaf) for leaf in LEAVES]
STORE = Store(HASHED)


def test_roots_of_the_published_vectors() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    for size, root in enumerate(ROOTS):
        assert root_of(size, STORE.fetch) == root
        assert brute_root(HASHED[:size]) == root
    assert Frontier(8, STORE.frontier.hashes).root() == ROOTS[8]
    assert perfect_cover(0, 7) == [(2, 0), (1, 2), (0, 6)]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    expected = [H(x) for x in path]
    assert prove_inclusion(index, size, STORE.fetch) == expected
    assert verify_inclusion(index, size, HASHED[index], expected, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, proof: list[str]) -> None:
    expected = [H(x) for x in proof]
    assert prove_consistency(first, second, STORE.fetch) == expected
    assert verify_consistency(first, second, ROOTS[first], ROOTS[second], expected)


def test_every_size_to_64_against_the_brute_force_tree() -> None:
    leaves = [leaf_hash(bytes([n])) for n in range(64)]
    store = Store(leaves)
    roots = [brute_root(leaves[:size]) for size in range(65)]
    for size in range(1, 65):
        assert root_of(size, store.fetch) == roots[size]
        for index in range(size):
            path = prove_inclusion(index, size, store.fetch)
            assert verify_inclusion(index, size, leaves[index], path, roots[size])
            assert len(path) <= (size - 1).bit_length()
        for first in range(1, size + 1):
            proof = prove_consistency(first, size, store.fetch)
            assert verify_consistency(first, size, roots[first], roots[size], proof)


def test_the_rfc_example_tree_of_seven() -> None:
    a, b, c, d, e, f, j = HASHED[:7]
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l_ = node_hash(g, h), node_hash(i, j)
    assert node_hash(k, l_) == ROOTS[7]
    assert prove_inclusion(3, 7, STORE.fetch) == [c, g, l_]
    assert prove_inclusion(6, 7, STORE.fetch) == [i, k]
    assert prove_consistency(3, 7, STORE.fetch) == [c, d, g, l_]


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@settings(max_examples=300, deadline=None)
@given(size=st.integers(2, 300), data=st.data())
def test_tampered_proofs_are_refused(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    store = Store(leaves)
    root = root_of(size, store.fetch)
    index = data.draw(st.integers(0, size - 1))
    path = prove_inclusion(index, size, store.fetch)
    assert verify_inclusion(index, size, leaves[index], path, root)
    other = data.draw(st.integers(0, size - 1).filter(lambda n: n != index))
    assert not verify_inclusion(other, size, leaves[index], path, root)
    assert not verify_inclusion(index, size, _flip(leaves[index], 3), path, root)
    assert not verify_inclusion(index, size, leaves[index], path, _flip(root, 200))
    assert not verify_inclusion(index, size, leaves[index], path[:-1], root)
    assert not verify_inclusion(index, size, leaves[index], [*path, root], root)
    if path:
        spot = data.draw(st.integers(0, len(path) - 1))
        broken = [*path[:spot], _flip(path[spot], 7), *path[spot + 1:]]
        assert not verify_inclusion(index, size, leaves[index], broken, root)
    first = data.draw(st.integers(1, size - 1))
    proof = prove_consistency(first, size, store.fetch)
    old = root_of(first, store.fetch)
    assert verify_consistency(first, size, old, root, proof)
    assert not verify_consistency(first, size, _flip(old, 9), root, proof)
    assert not verify_consistency(first, size, old, _flip(root, 9), proof)
    assert not verify_consistency(first, size, old, root, proof[:-1])
    assert not verify_consistency(0, size, EMPTY_ROOT, root, proof)


def test_plans_stay_small_at_ten_million() -> None:
    rng = random.Random(3)
    for _ in range(200):
        size = rng.randint(9_000_000, 10_000_000)
        plan = inclusion_plan(rng.randrange(size), size)
        assert len(plan) <= 24
        assert sum(len(group) for group in plan) <= 48
