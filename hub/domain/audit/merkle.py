"""The audit log's Merkle tree: RFC 9162 (Certificate Transparency v2) §2.1 with SHA-256.

Two ways in. The list-based functions (`root_from_leaves`, `inclusion_proof`,
`consistency_proof`) take every leaf hash and suit exports and tests. The storage-facing ones
never need the whole log: a `Frontier` keeps the right edge of the tree so each append costs
O(log n) hashes, `perfect_subtrees_completed_by` says which nodes an append completes (the
storage layer writes them beside the entry), and the `*_from_subtrees` functions build roots
and proofs from O(log n) lookups of those stored nodes.

A *perfect subtree* `(level, index)` is the tree over leaves
`[index * 2**level, (index + 1) * 2**level)`; level 0 is a single leaf hash. Every node the
RFC's MTH computes for a tree of any size is either a perfect subtree or a fold of a run of
them, which is why storing the perfect ones is enough.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

HASH_SIZE = 32

#: MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: `get(level, index)` returns the hash of perfect subtree `(level, index)`.
SubtreeAccessor = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one log entry as a leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (RFC 9162's split point); n must be at least 2."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# --- the right edge of the tree --------------------------------------------------------------


class Frontier:
    """The right edge of a tree: the hashes of its maximal perfect subtrees, largest first.

    A tree of size n has one such subtree per set bit of n, so the frontier holds at most
    64 hashes for any realistic log; it is all the state an appender needs to compute the next
    root, and it serialises to a small JSON document for the database.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The maximal perfect subtrees' hashes, left (largest) to right (smallest)."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return each perfect subtree it completed as (level, index, hash).

        The first item is the leaf itself (level 0); the order is bottom-up, the same as
        `perfect_subtrees_completed_by`.
        """
        _check_hash(leaf, "leaf hash")
        index = self._size
        completed = [(0, index, leaf)]
        current = leaf
        level = 0
        # Each trailing 1-bit of the old size is a perfect subtree this leaf now pairs with.
        while (index >> level) & 1:
            current = node_hash(self._hashes.pop(), current)
            level += 1
            completed.append((level, index >> level, current))
        self._hashes.append(current)
        self._size = index + 1
        return completed

    def root(self) -> bytes:
        """MTH of the whole tree: the frontier folded from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root

    def to_json(self) -> str:
        return json.dumps(
            {"size": self._size, "hashes": [h.hex() for h in self._hashes]},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Frontier:
        try:
            document = json.loads(text)
            size = document["size"]
            hashes = [bytes.fromhex(h) for h in document["hashes"]]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"not a frontier document: {e}") from e
        if type(size) is not int or size < 0:
            raise ValueError("frontier size must be a non-negative integer")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier hashes")
        for h in hashes:
            _check_hash(h, "frontier hash")
        frontier = cls()
        frontier._size = size
        frontier._hashes = hashes
        return frontier

    @classmethod
    def from_subtrees(cls, get: SubtreeAccessor, tree_size: int) -> Frontier:
        """Rebuild the frontier of a stored tree from its perfect subtrees: O(log n) lookups."""
        if tree_size < 0:
            raise ValueError("tree size must be non-negative")
        frontier = cls()
        frontier._size = tree_size
        frontier._hashes = [get(level, index) for level, index in _maximal_subtrees(0, tree_size)]
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def perfect_subtrees_completed_by(leaf_index: int) -> list[tuple[int, int]]:
    """The (level, index) of every perfect subtree that appending leaf `leaf_index` completes.

    Bottom-up, starting with the leaf itself at level 0: a subtree at level l is complete once
    its last leaf arrives, i.e. when the low l bits of `leaf_index` are all ones.
    """
    if leaf_index < 0:
        raise ValueError("leaf index must be non-negative")
    completed = [(0, leaf_index)]
    level = 0
    while (leaf_index >> level) & 1:
        level += 1
        completed.append((level, leaf_index >> level))
    return completed


def _maximal_subtrees(start: int, size: int) -> list[tuple[int, int]]:
    """The perfect subtrees that make up leaves [start, start + size), largest first.

    `start` must be a multiple of the largest piece (true for every range RFC 9162's recursion
    produces), so each piece is aligned.
    """
    pieces = []
    position = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            pieces.append((level, position >> level))
            position += 1 << level
    return pieces


def _range_hash(get: SubtreeAccessor, start: int, size: int) -> bytes:
    """MTH(D[start:start + size]) for an aligned range: its perfect subtrees folded right."""
    pieces = _maximal_subtrees(start, size)
    if not pieces:
        return EMPTY_ROOT
    level, index = pieces[-1]
    result = get(level, index)
    for level, index in reversed(pieces[:-1]):
        result = node_hash(get(level, index), result)
    return result


# --- proofs from stored perfect subtrees -----------------------------------------------------


def root_from_subtrees(get: SubtreeAccessor, tree_size: int) -> bytes:
    """MTH of the first `tree_size` leaves, from at most log2(n) + 1 lookups."""
    if tree_size < 0:
        raise ValueError("tree size must be non-negative")
    return _range_hash(get, 0, tree_size)


def inclusion_proof_from_subtrees(get: SubtreeAccessor, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[0:tree_size]) (RFC 9162 §2.1.3.1), bottom-up, from O(log n) lookups."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is not in a tree of size {tree_size}")
    # Walk down from the root as the RFC's recursion does, collecting siblings top-down.
    siblings: list[bytes] = []
    start, size, m = 0, tree_size, index
    while size > 1:
        k = _largest_power_of_two_below(size)
        if m < k:
            siblings.append(_range_hash(get, start + k, size - k))
            size = k
        else:
            siblings.append(get(k.bit_length() - 1, start // k))
            start, size, m = start + k, size - k, m - k
    siblings.reverse()
    return siblings


def consistency_proof_from_subtrees(
    get: SubtreeAccessor, old_size: int, new_size: int
) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1), from O(log n) lookups.

    Empty when there is nothing to prove (old_size 0, or old_size equal to new_size).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    # SUBPROOF(m, D[start:start+size], complete) unrolled; `complete` is the RFC's b flag.
    nodes: list[bytes] = []
    start, size, m, complete = 0, new_size, old_size, True
    while m != size:
        k = _largest_power_of_two_below(size)
        if m <= k:
            nodes.append(_range_hash(get, start + k, size - k))
            size = k
        else:
            nodes.append(get(k.bit_length() - 1, start // k))
            start, size, m, complete = start + k, size - k, m - k, False
    if not complete:
        nodes.append(_range_hash(get, start, size))
    nodes.reverse()
    return nodes


# --- list-based ------------------------------------------------------------------------------


class _LeafListSubtrees:
    """A subtree accessor over an in-memory list of leaf hashes.

    A proof touches disjoint subtrees, so computing each on demand costs O(n) in all.
    """

    def __init__(self, leaf_hashes: Sequence[bytes], tree_size: int) -> None:
        if not 0 <= tree_size <= len(leaf_hashes):
            raise ValueError(f"tree size {tree_size} exceeds the {len(leaf_hashes)} leaves given")
        self._leaves = leaf_hashes

    def __call__(self, level: int, index: int) -> bytes:
        first = index << level
        return _perfect_hash(self._leaves[first : first + (1 << level)])


def _perfect_hash(leaves: Sequence[bytes]) -> bytes:
    row = list(leaves)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over every leaf hash given."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree of the first `tree_size` leaves."""
    get = _LeafListSubtrees(leaf_hashes, tree_size)
    return inclusion_proof_from_subtrees(get, index, tree_size)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of `new_size` leaves extends the tree of `old_size` leaves."""
    return consistency_proof_from_subtrees(
        _LeafListSubtrees(leaf_hashes, new_size), old_size, new_size
    )


# --- verification ----------------------------------------------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show leaf `index` of a `tree_size` tree is `leaf_hash`?"""
    if not 0 <= index < tree_size:
        return False
    if len(leaf_hash) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the `new_size` tree extends the `old_size` tree?

    The cases the RFC leaves out are decided strictly: equal sizes need equal roots and an
    empty proof; an empty old tree needs the empty root and an empty proof.
    """
    if not 0 <= old_size <= new_size:
        return False
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(c) != HASH_SIZE for c in proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if _is_power_of_two(old_size):
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- locating tampering ----------------------------------------------------------------------


def first_divergence(
    stored_leaf_hashes: Sequence[bytes], get_subtree: SubtreeAccessor, tree_size: int
) -> int | None:
    """The first leaf index at which the stored entries disagree with the trusted tree.

    `get_subtree` gives the trusted perfect-subtree hashes (check them first, e.g. that
    `root_from_subtrees(get_subtree, tree_size)` equals a signed checkpoint's root);
    `stored_leaf_hashes` are the hashes of the entries as they are stored now. A changed,
    removed, inserted or reordered entry shows as the first position whose leaf differs; a
    missing position (fewer stored leaves than `tree_size`) counts as differing. Leaves beyond
    `tree_size` are later entries and are not judged. Returns None when all agree.

    The trusted subtrees must be consistent with each other, as they are when they reproduce
    a signed root. If they do not (the subtree store was rewritten too), this cannot pin down
    the entry; the first signed checkpoint whose root the stored entries fail to reproduce
    still bounds it to that checkpoint's interval.

    Each maximal subtree is compared whole, then the first differing one is halved down to the
    leaf: about 2n hashes and O(log n) lookups in all.
    """
    if tree_size < 0:
        raise ValueError("tree size must be non-negative")
    stored = len(stored_leaf_hashes)

    def stored_hash(level: int, index: int) -> bytes | None:
        first = index << level
        last = first + (1 << level)
        if last > stored:
            return None
        return _perfect_hash(stored_leaf_hashes[first:last])

    for level, index in _maximal_subtrees(0, tree_size):
        if stored_hash(level, index) == get_subtree(level, index):
            continue
        while level > 0:
            level, index = level - 1, index * 2
            if stored_hash(level, index) == get_subtree(level, index):
                index += 1
        return index
    return None


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, not {len(value)}")
