"""What lets the engine remember decisions: a bounded cache of them, and the directory's
epochs (the spans of days over which no area or recipient comes into or goes out of force), so
that notifications of different days that saw the same directory share a key."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable
from datetime import date
from typing import Generic, TypeVar

from hub.domain.policy.directory import Directory

V = TypeVar("V")


class DirectoryEpochs:
    """Numbers the days so that two days with the same number see the same directory: every
    area and recipient is in force on both or on neither (`Validity` changes only on a
    `valid_from` or a `valid_to`)."""

    def __init__(self, directory: Directory) -> None:
        validities = [a.validity for a in directory.areas.values()] + [
            r.validity for r in directory.recipients.values()
        ]
        self._boundaries = sorted(
            {d for v in validities for d in (v.valid_from, v.valid_to) if d is not None}
        )

    def epoch(self, day: date) -> int:
        """How many boundaries are on or before `day`."""
        return bisect_right(self._boundaries, day)


class DecisionCache(Generic[V]):
    """A bounded map from a decision's key to what was decided; when full, the entry put first
    goes first (a router's keys recur within a burst of related notifications, so recency
    bookkeeping would buy little)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a decision cache holds at least one entry")
        self._size = size
        self._entries: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V | None:
        return self._entries.get(key)

    def put(self, key: Hashable, value: V) -> None:
        if len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)
