"""The audit log as stored: entries, leaves, the tree's head and signed checkpoints.

Plain records shared by the storage ports (`hub.services.audit_ports`), the services that
sequence, prove and verify, and the offline replay (`hub.domain.audit.replay`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "EntryRow",
    "Leaf",
    "LeafRow",
    "SequencedEntry",
    "StoredCheckpoint",
    "StoredEntry",
    "TreeHead",
]

#: A stored leaf as verification reads a million of them: (leaf index, entry position, leaf
#: hash), the fields of `Leaf` without building one per row.
LeafRow = tuple[int, int, bytes]
#: A stored entry likewise: (position, kind, occurred_at in UTC, canonical JSON), `StoredEntry`'s.
EntryRow = tuple[int, str, datetime, str]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An audit entry as stored: `entry` is its canonical JSON, exactly as it is hashed."""

    position: int
    kind: str
    occurred_at: datetime
    entry: str


@dataclass(frozen=True, slots=True)
class Leaf:
    """Leaf `leaf_index` of the tree is the entry at `entry_position`."""

    leaf_index: int
    entry_position: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class SequencedEntry:
    """An entry with its place in the tree."""

    leaf_index: int
    position: int
    leaf_hash: bytes
    entry: str


@dataclass(frozen=True, slots=True)
class TreeHead:
    """How far the sequencer got: `size` leaves, the last for the entry at `last_position`."""

    size: int
    last_position: int


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint of the tree's first `tree_size` leaves; `note` is the signed note."""

    tree_size: int
    root_hash: bytes
    note: str
    signed_at: datetime
