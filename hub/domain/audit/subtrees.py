"""Which perfect subtrees a computation over the stored tree reads or completes."""

from __future__ import annotations

from collections.abc import Callable

from hub.domain.audit.merkle import HASH_SIZE, SubtreeAccessor

__all__ = [
    "SubtreeKey",
    "completed_ranges",
    "frontier_keys",
    "keys_used_by",
]

#: A perfect subtree's (level, index); level 0 is a leaf.
SubtreeKey = tuple[int, int]


def frontier_keys(size: int) -> list[SubtreeKey]:
    """The maximal perfect subtrees of a tree of `size` leaves, largest first (as
    `Frontier.hashes` holds them)."""
    keys: list[SubtreeKey] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


_PLACEHOLDER = bytes(HASH_SIZE)


def keys_used_by(compute: Callable[[SubtreeAccessor], object]) -> list[SubtreeKey]:
    """The subtrees `compute` reads. Which nodes a root or proof needs depends only on the
    sizes and indexes, never on the hashes, so a dry run with placeholders names them."""
    used: list[SubtreeKey] = []

    def record(level: int, index: int) -> bytes:
        used.append((level, index))
        return _PLACEHOLDER

    compute(record)
    return used


def completed_ranges(first: int, last: int) -> list[tuple[int, int, int]]:
    """The perfect subtrees of level 1 and up that leaves `first`..`last` complete, as
    (level, first index, last index) per level: those whose last leaf is among them (subtree
    `(level, index)` ends at leaf `(index + 1) * 2**level - 1`). Empty if `first > last` or
    `first < 0`."""
    if first < 0 or first > last:
        return []
    ranges = []
    for level in range(1, (last + 1).bit_length()):
        low = ((first + (1 << level)) >> level) - 1
        high = ((last + 1) >> level) - 1
        if low <= high:
            ranges.append((level, low, high))
    return ranges
