"""An independent Merkle tree, written straight from RFC 9162 §2.1's recursive definitions.

It shares no code with `hub.domain.audit.merkle` and optimises nothing: every function is the
RFC's equation over the raw entries D[0:n], so the tests can hold the fast, storage-friendly
implementation to the text of the standard. Slow (each call rehashes whole subtrees); keep the
trees small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def HASH(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (RFC: k < n <= 2k), for n > 1."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def MTH(D: Sequence[bytes]) -> bytes:
    """§2.1.1: MTH({}) = HASH(); MTH({d0}) = HASH(0x00 || d0);
    MTH(D_n) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    n = len(D)
    if n == 0:
        return HASH(b"")
    if n == 1:
        return HASH(b"\x00" + D[0])
    k = split_point(n)
    return HASH(b"\x01" + MTH(D[0:k]) + MTH(D[k:n]))


def PATH(m: int, D: Sequence[bytes]) -> list[bytes]:
    """§2.1.3.1: PATH(0, {d0}) = {}; for m < k: PATH(m, D[0:k]) : MTH(D[k:n]);
    for m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])."""
    n = len(D)
    assert 0 <= m < n
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*PATH(m, D[0:k]), MTH(D[k:n])]
    return [*PATH(m - k, D[k:n]), MTH(D[0:k])]


def PROOF(m: int, D: Sequence[bytes]) -> list[bytes]:
    """§2.1.4.1: PROOF(m, D_n) = SUBPROOF(m, D_n, true), for 0 < m < n."""
    return SUBPROOF(m, D, True)


def SUBPROOF(m: int, D: Sequence[bytes], b: bool) -> list[bytes]:
    """§2.1.4.1: SUBPROOF(m, D_m, true) = {}; SUBPROOF(m, D_m, false) = {MTH(D_m)};
    for m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
    for m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])."""
    n = len(D)
    if m == n:
        return [] if b else [MTH(D)]
    k = split_point(n)
    if m <= k:
        return [*SUBPROOF(m, D[0:k], b), MTH(D[k:n])]
    return [*SUBPROOF(m - k, D[k:n], False), MTH(D[0:k])]


def root_from_path(leaf_hash: bytes, m: int, n: int, path: Sequence[bytes]) -> bytes | None:
    """Recompute MTH(D_n) from the leaf hash at m and PATH(m, D_n) by walking the same
    recursion (independent of the RFC's bit-twiddling verifier); None if the path's length is
    wrong for the position."""
    if n == 1:
        return leaf_hash if not path else None
    if not path:
        return None
    k = split_point(n)
    *inner, sibling = path
    if m < k:
        left = root_from_path(leaf_hash, m, k, inner)
        return None if left is None else HASH(b"\x01" + left + sibling)
    right = root_from_path(leaf_hash, m - k, n - k, inner)
    return None if right is None else HASH(b"\x01" + sibling + right)
