"""The audit Merkle tree against RFC 9162: published test vectors, an independent recursive
implementation of the RFC's definitions (`reference_merkle`), and tampering of every kind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_from_subtrees,
    first_divergence,
    inclusion_proof,
    inclusion_proof_from_subtrees,
    leaf_hash,
    node_hash,
    perfect_subtrees_completed_by,
    root_from_leaves,
    root_from_subtrees,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.audit import reference_merkle as ref

# --- known answers ---------------------------------------------------------------------------
# The 8-entry tree used throughout Certificate Transparency's test suites, with its roots and
# node hashes, as published in github.com/transparency-dev/merkle (testonly/constants.go) and
# its proof vectors (proof/verify_test.go; leaf numbers there are 1-based, converted here).

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
CT_NODES = {
    (level, index): bytes.fromhex(h)
    for level, row in enumerate(
        (
            (
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
            ),
            (
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ),
            (
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ),
            ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",),
        )
    )
    for index, h in enumerate(row)
}
# (leaf index, tree size, proof)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
# (old size, new size, proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]


def _node(prefix: str) -> bytes:
    """The published node hash starting with these hex digits (prefixes are unique)."""
    (match,) = [h for h in CT_NODES.values() if h.hex().startswith(prefix)]
    return match


CT_LEAF_HASHES = [leaf_hash(d) for d in CT_LEAVES]


def test_hash_primitives_follow_rfc_9162() -> None:
    assert CT_ROOTS[0] == EMPTY_ROOT
    assert leaf_hash(b"") == CT_NODES[(0, 0)]
    assert node_hash(CT_NODES[(0, 0)], CT_NODES[(0, 1)]) == CT_NODES[(1, 0)]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_ct_test_tree(size: int) -> None:
    assert root_from_leaves(CT_LEAF_HASHES[:size]) == CT_ROOTS[size]
    assert ref.MTH(CT_LEAVES[:size]) == CT_ROOTS[size]


def test_stored_subtrees_of_the_ct_test_tree() -> None:
    store = _stored_tree(CT_LEAF_HASHES)
    assert store == CT_NODES
    assert Frontier.from_subtrees(_lookup(store), 7).hashes == (
        CT_NODES[(2, 0)],
        CT_NODES[(1, 2)],
        CT_NODES[(0, 6)],
    )


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    expected = [_node(p) for p in proof]
    assert inclusion_proof(CT_LEAF_HASHES, index, size) == expected
    assert ref.PATH(index, CT_LEAVES[:size]) == expected
    root = CT_ROOTS[size]
    assert verify_inclusion(CT_LEAF_HASHES[index], index, size, expected, root)
    # The probes of transparency-dev/merkle's verifier tests.
    for wrong_index in (index - 1, index + 1, index ^ 2):
        assert not verify_inclusion(CT_LEAF_HASHES[index], wrong_index, size, expected, root)
    for wrong_size in (size * 2, size // 2):
        assert not verify_inclusion(CT_LEAF_HASHES[index], index, wrong_size, expected, root)
    assert not verify_inclusion(leaf_hash(b"WrongLeaf"), index, size, expected, root)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, expected, EMPTY_ROOT)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, [*expected, root], root)
    assert not verify_inclusion(CT_LEAF_HASHES[index], index, size, [root, *expected], root)


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    expected = [_node(p) for p in proof]
    assert consistency_proof(CT_LEAF_HASHES, old, new) == expected
    if old < new:
        assert ref.PROOF(old, CT_LEAVES[:new]) == expected
    old_root, new_root = CT_ROOTS[old], CT_ROOTS[new]
    assert verify_consistency(old, new, old_root, new_root, expected)
    if not expected:
        return
    probes = [
        (old - 1, new, old_root, new_root, expected),
        (old + 1, new, old_root, new_root, expected),
        (old ^ 2, new, old_root, new_root, expected),
        (old, new * 2, old_root, new_root, expected),
        (old, new // 2, old_root, new_root, expected),
        (old, new, new_root, old_root, expected),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*expected, old_root]),
        (old, new, old_root, new_root, [expected[0], *expected]),
        (old, new, old_root, new_root, expected[:-1]),
    ]
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_degenerate_consistency() -> None:
    some = CT_ROOTS[5]
    assert consistency_proof(CT_LEAF_HASHES, 0, 5) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, some, [])
    assert not verify_consistency(0, 5, some, some, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert verify_consistency(5, 5, some, some, [])
    assert not verify_consistency(5, 5, some, CT_ROOTS[4], [])
    assert not verify_consistency(5, 5, some, some, [some])
    assert not verify_consistency(5, 4, some, CT_ROOTS[4], [some])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(CT_LEAF_HASHES, 8, 8)
    with pytest.raises(ValueError, match="exceeds"):
        inclusion_proof(CT_LEAF_HASHES, 0, 9)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(CT_LEAF_HASHES, 5, 4)
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"short")
    assert not verify_inclusion(CT_LEAF_HASHES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(b"", 0, 1, [], b"")


# --- against the reference implementation ----------------------------------------------------


def _entries(seed: int, n: int) -> list[bytes]:
    return [f"entry {seed}/{i}".encode() for i in range(n)]


def _stored_tree(leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """What the storage layer keeps: every perfect subtree, written as each append completes it."""
    store: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    for i, h in enumerate(leaf_hashes):
        completed = frontier.append(h)
        assert [(level, index) for level, index, _ in completed] == perfect_subtrees_completed_by(i)
        for level, index, node in completed:
            assert (level, index) not in store
            store[(level, index)] = node
    return store


def _lookup(store: dict[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    return lambda level, index: store[(level, index)]


def _accessor(
    store: dict[tuple[int, int], bytes], tree_size: int, lookups: list[tuple[int, int]]
) -> Callable[[int, int], bytes]:
    """A subtree accessor that refuses any node outside the first `tree_size` leaves."""

    def get(level: int, index: int) -> bytes:
        assert (index + 1) << level <= tree_size, (level, index, tree_size)
        lookups.append((level, index))
        return store[(level, index)]

    return get


def test_every_proof_of_small_trees_matches_the_reference() -> None:
    for n in range(1, 65):
        data = _entries(0, n)
        leaves = [leaf_hash(d) for d in data]
        root = ref.MTH(data)
        assert root_from_leaves(leaves) == root
        for m in range(n):
            proof = inclusion_proof(leaves, m, n)
            assert proof == ref.PATH(m, data)
            assert verify_inclusion(leaves[m], m, n, proof, root)
        for m in range(1, n):
            proof = consistency_proof(leaves, m, n)
            assert proof == ref.PROOF(m, data)
            assert verify_consistency(m, n, ref.MTH(data[:m]), root, proof)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_every_proof_matches_the_reference_and_verifies(n: int, seed: int) -> None:
    data = _entries(seed, n)
    leaves = [leaf_hash(d) for d in data]
    root = ref.MTH(data)
    assert root_from_leaves(leaves) == root
    store = _stored_tree(leaves)
    for m in range(n):
        proof = inclusion_proof(leaves, m, n)
        assert proof == ref.PATH(m, data)
        assert ref.root_from_path(leaves[m], m, n, proof) == root
        assert verify_inclusion(leaves[m], m, n, proof, root)
    for m in range(1, n):
        proof = consistency_proof(leaves, m, n)
        assert proof == ref.PROOF(m, data)
        assert verify_consistency(m, n, root_from_subtrees(_lookup(store), m), root, proof)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_subtree_proofs_equal_list_proofs_with_logarithmic_lookups(
    data: st.DataObject, n: int, seed: int
) -> None:
    leaves = [leaf_hash(d) for d in _entries(seed, n)]
    store = _stored_tree(leaves)  # the log may have grown past the sizes asked about
    size = data.draw(st.integers(1, n), label="tree size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old size")
    bound = 2 * size.bit_length() + 2

    lookups: list[tuple[int, int]] = []
    get = _accessor(store, size, lookups)
    assert root_from_subtrees(get, size) == root_from_leaves(leaves[:size])
    assert len(lookups) <= bound
    lookups.clear()
    assert inclusion_proof_from_subtrees(get, index, size) == inclusion_proof(leaves, index, size)
    assert len(lookups) <= bound
    lookups.clear()
    assert consistency_proof_from_subtrees(get, old, size) == consistency_proof(leaves, old, size)
    assert len(lookups) <= bound

    frontier = Frontier()
    for h in leaves[:size]:
        frontier.append(h)
    assert Frontier.from_subtrees(get, size) == frontier
    assert Frontier.from_json(frontier.to_json()) == frontier
    assert frontier.root() == root_from_leaves(leaves[:size])


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x10]) + h[1:]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, 300), seed=st.integers(0, 2**32))
def test_tampered_inclusion_proofs_fail(data: st.DataObject, n: int, seed: int) -> None:
    leaves = [leaf_hash(d) for d in _entries(seed, n)]
    root = root_from_leaves(leaves)
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(leaves, m, n)
    assert verify_inclusion(leaves[m], m, n, proof, root)
    for i in range(len(proof)):
        tampered = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
        assert not verify_inclusion(leaves[m], m, n, tampered, root)
    other = data.draw(st.integers(0, n - 1).filter(lambda i: i != m), label="other index")
    assert not verify_inclusion(leaves[m], other, n, proof, root)
    assert not verify_inclusion(leaves[other], m, n, proof, root)
    assert not verify_inclusion(leaves[m], m, n, proof, _flip(root))
    assert not verify_inclusion(leaves[m], m, n, proof[:-1], root)
    assert not verify_inclusion(leaves[m], m, n, [*proof, proof[-1]], root)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, 300), seed=st.integers(0, 2**32))
def test_tampered_consistency_proofs_fail(data: st.DataObject, n: int, seed: int) -> None:
    leaves = [leaf_hash(d) for d in _entries(seed, n)]
    m = data.draw(st.integers(1, n - 1), label="old size")
    old_root, new_root = root_from_leaves(leaves[:m]), root_from_leaves(leaves)
    proof = consistency_proof(leaves, m, n)
    assert verify_consistency(m, n, old_root, new_root, proof)
    for i in range(len(proof)):
        tampered = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
        assert not verify_consistency(m, n, old_root, new_root, tampered)
    assert not verify_consistency(m, n, _flip(old_root), new_root, proof)
    assert not verify_consistency(m, n, old_root, _flip(new_root), proof)
    assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
    assert not verify_consistency(m, n, old_root, new_root, [*proof, proof[-1]])
    # The same proof and roots claimed for another old size. (A proof does not bind the new
    # size on its own: the trees of sizes 3 and 4 share a shape. The signed checkpoint binds
    # each root to its size.)
    assert not verify_consistency(m - 1, n, old_root, new_root, proof)
    assert not verify_consistency(m + 1, n, old_root, new_root, proof)
    # A forked log: the new tree rewrote an old entry.
    forked = [*leaves[: m - 1], leaf_hash(b"rewritten"), *leaves[m:]]
    forked_root = root_from_leaves(forked)
    assert not verify_consistency(m, n, old_root, forked_root, consistency_proof(forked, m, n))


# --- locating tampering ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(["changed", "removed", "inserted", "reordered"]),
)
def test_first_divergence_finds_the_first_tampered_entry(
    data: st.DataObject, n: int, seed: int, kind: str
) -> None:
    leaves = [leaf_hash(d) for d in _entries(seed, n)]
    trusted = _lookup(_stored_tree(leaves))
    assert first_divergence(leaves, trusted, n) is None
    i = data.draw(st.integers(0, n - 1), label="position")
    stored = list(leaves)
    if kind == "changed":
        stored[i] = leaf_hash(b"altered")
    elif kind == "removed":
        del stored[i]
    elif kind == "inserted":
        stored.insert(i, leaf_hash(b"forged"))
    else:
        if n < 2:
            return
        i = data.draw(st.integers(0, n - 2), label="first of the pair")
        j = data.draw(st.integers(i + 1, n - 1), label="second of the pair")
        stored[i], stored[j] = stored[j], stored[i]
    assert first_divergence(stored, trusted, n) == i


def test_first_divergence_ignores_later_entries_and_reports_missing_ones() -> None:
    leaves = [leaf_hash(d) for d in _entries(7, 100)]
    trusted = _lookup(_stored_tree(leaves))
    assert first_divergence([*leaves, leaf_hash(b"newer")], trusted, 100) is None
    assert first_divergence(leaves[:60], trusted, 100) == 60
    assert first_divergence(leaves, trusted, 37) is None
    assert first_divergence([], trusted, 0) is None


def test_perfect_subtrees_completed_by() -> None:
    assert perfect_subtrees_completed_by(0) == [(0, 0)]
    assert perfect_subtrees_completed_by(1) == [(0, 1), (1, 0)]
    assert perfect_subtrees_completed_by(6) == [(0, 6)]
    assert perfect_subtrees_completed_by(7) == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert perfect_subtrees_completed_by(11) == [(0, 11), (1, 5), (2, 2)]


def test_frontier_json_rejects_inconsistent_documents() -> None:
    frontier = Frontier()
    for h in CT_LEAF_HASHES[:5]:
        frontier.append(h)
    text = frontier.to_json()
    assert Frontier.from_json(text).root() == CT_ROOTS[5]
    for bad in (
        '{"size": 5, "hashes": []}',
        '{"size": -1, "hashes": []}',
        '{"size": 1, "hashes": ["00"]}',
        '{"size": true, "hashes": ["' + "00" * 32 + '"]}',
        "[]",
        "not json",
    ):
        with pytest.raises(ValueError, match="frontier"):
            Frontier.from_json(bad)
