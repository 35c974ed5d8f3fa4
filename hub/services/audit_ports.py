"""The audit log's ports (where entries are written, the stored tree, a consistent snapshot),
the signer of its checkpoints, and reading roots and proofs from the stored subtrees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.domain.audit.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from hub.domain.audit.entries import AuditEntry
from hub.domain.audit.held import HeldCheckpoint
from hub.domain.audit.merkle import SubtreeAccessor
from hub.domain.audit.records import (
    EntryRow,
    Leaf,
    LeafRow,
    SequencedEntry,
    StoredCheckpoint,
    StoredEntry,
    TreeHead,
)
from hub.domain.audit.subtrees import SubtreeKey, keys_used_by
from hub.errors import StoreError

__all__ = [
    "AuditLog",
    "AuditSigner",
    "AuditSnapshot",
    "AuditTree",
    "CheckpointPublisher",
    "HeldCheckpoints",
    "from_stored_subtrees",
]

T = TypeVar("T")


# -- ports ---------------------------------------------------------------------------------------


class AuditLog(Protocol):
    """Where operations write their audit entries."""

    async def record(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Store the entries in one transaction of their own; their positions, in order."""
        ...


class AuditSnapshot(Protocol):
    """One consistent, read-only view of the whole log (verification and export)."""

    async def count_entries(self, after: int) -> int:
        """How many stored entries have position > `after`."""
        ...

    async def leaves(self, start: int, limit: int) -> list[Leaf]:
        """Stored leaves with index >= `start`, by index."""
        ...

    async def sequenced(self, start: int, limit: int) -> list[SequencedEntry]:
        """Leaves with index >= `start` and their entries, by index."""
        ...

    async def entry_rows(self, after: int, limit: int) -> Sequence[EntryRow]:
        """Stored entries with position > `after`, by position, sequenced or not, as plain
        rows (verification reads the whole log through here)."""
        ...

    async def leaf_rows(self, start: int, limit: int) -> Sequence[LeafRow]:
        """`leaves` as plain rows (as above)."""
        ...

    async def completed_subtrees(self, first: int, last: int) -> dict[SubtreeKey, bytes]:
        """The stored perfect subtrees of level 1 and up that leaves `first`..`last` complete
        (those whose last leaf is among them), as far as they are stored."""
        ...

    async def leaves_with_hash(self, leaf_hash: bytes) -> list[int]:
        """The indexes of the leaves whose stored hash is `leaf_hash` (slow: a full scan)."""
        ...

    async def subtrees(self, keys: Collection[SubtreeKey]) -> dict[SubtreeKey, bytes]:
        """The stored hashes of those perfect subtrees that are stored (level 0: leaves)."""
        ...

    async def checkpoints(self, after_size: int, limit: int) -> list[StoredCheckpoint]:
        """Stored checkpoints with tree size > `after_size`, smallest first."""
        ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None: ...


class AuditTree(Protocol):
    """The stored Merkle tree: what the sequencer, checkpointer and proofs need."""

    async def head(self) -> TreeHead:
        """The tree's size and the position of its last leaf's entry (0, 0 when empty)."""
        ...

    async def unsequenced(self, after: int, limit: int) -> list[StoredEntry]:
        """Entries with position > `after`, by position, at most `limit`. Never skips: an
        entry that commits later never has a position at or below one returned already."""
        ...

    async def subtrees(self, keys: Collection[SubtreeKey]) -> dict[SubtreeKey, bytes]:
        """The stored hashes of those perfect subtrees that are stored (level 0: leaves)."""
        ...

    async def add_leaves(
        self, head: TreeHead, leaves: Sequence[Leaf], subtrees: Sequence[tuple[int, int, bytes]]
    ) -> bool:
        """In one transaction, if the tree is still at `head`: store the leaves and the perfect
        subtrees (level >= 1) they complete. False, with nothing written, if it is not (another
        sequencer got there first)."""
        ...

    async def sequenced_entry(
        self, *, leaf_index: int | None = None, entry_position: int | None = None
    ) -> SequencedEntry | None:
        """The entry at this leaf index or position, if it is in the tree."""
        ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    async def checkpoint(self, tree_size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly this size, if one was signed."""
        ...

    async def checkpoints(self, after_size: int = 0, limit: int = 1000) -> list[StoredCheckpoint]:
        """Checkpoints with tree size > `after_size`, smallest first."""
        ...

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        """Store it; False if a checkpoint of that size is already stored."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[AuditSnapshot]:
        """A consistent read-only view of everything, for as long as the context lasts."""
        ...


class CheckpointPublisher(Protocol):
    """Where signed checkpoints are published outside the database, append-only: beyond the
    reach of an insider who can rewrite the database (the checkpoint directory)."""

    async def latest(self) -> HeldCheckpoint | None:
        """The published checkpoint of the largest tree size (None: none yet)."""
        ...

    async def publish_leaves(self, first_leaf: int, leaf_hashes: Sequence[bytes]) -> None:
        """Publish the hashes of leaves `first_leaf`, `first_leaf + 1` … (before the checkpoint
        that covers them)."""
        ...

    async def publish(self, checkpoint: StoredCheckpoint) -> None:
        """Publish the signed checkpoint (after the hashes of the leaves it adds)."""
        ...


class HeldCheckpoints(Protocol):
    """What verification reads back from outside the database."""

    async def latest(self) -> HeldCheckpoint | None:
        """The published checkpoint of the largest tree size (None: none yet)."""
        ...

    async def leaf_hashes(self, start: int, limit: int) -> list[bytes]:
        """The published hashes of leaves `start`, `start + 1` … (at most `limit`), as far
        as they were published: fewer, or none, where they were not."""
        ...


# -- signing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditSigner:
    """The log's name and the Ed25519 key that signs its checkpoints."""

    origin: str
    key_name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    #: Verifier keys of earlier signing keys, so checkpoints they signed still verify.
    previous_verifier_keys: tuple[str, ...] = ()

    @property
    def verifier_key(self) -> str:
        """The public key as a C2SP note verifier key: `<name>+<key id>+<base64 key>`."""
        return verifier_key(self.key_name, self.private_key.public_key())

    @property
    def trusted_keys(self) -> tuple[str, ...]:
        """Every verifier key a checkpoint of this log may be signed by, the current first."""
        previous = tuple(k for k in self.previous_verifier_keys if k != self.verifier_key)
        return (self.verifier_key, *previous)

    def sign(self, tree_size: int, root_hash: bytes) -> str:
        return sign_checkpoint(
            Checkpoint(self.origin, tree_size, root_hash), self.private_key, self.key_name
        )


async def from_stored_subtrees(
    lookup: Callable[[Collection[SubtreeKey]], Awaitable[dict[SubtreeKey, bytes]]],
    compute: Callable[[SubtreeAccessor], T],
) -> T:
    """Run `compute` over stored subtrees, fetched in one lookup."""
    wanted = set(keys_used_by(compute))
    found = await lookup(wanted) if wanted else {}
    missing = sorted(wanted - set(found))
    if missing:
        level, index = missing[0]
        raise StoreError(
            f"the audit tree is missing the stored subtree at level {level}, index {index} "
            f"({len(missing)} missing in all): run `hub audit verify`"
        )
    return compute(lambda level, index: found[(level, index)])
