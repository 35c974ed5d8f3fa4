"""Inclusion and consistency proofs and the signed checkpoints, as the API and CLI give them
out, built from the stored perfect subtrees with O(log n) lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.domain.audit.merkle import (
    SubtreeAccessor,
    consistency_proof_from_subtrees,
    inclusion_proof_from_subtrees,
    root_from_subtrees,
)
from hub.domain.audit.records import StoredCheckpoint
from hub.errors import InvalidInput, NotFound
from hub.services.audit_ports import AuditTree, from_stored_subtrees

__all__ = ["AuditTrail", "ConsistencyProof", "InclusionProof"]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """RFC 9162 inclusion proof of one entry in the tree of `tree_size` leaves.

    A verifier recomputes `leaf_hash(entry)`, checks it with `verify_inclusion` against
    `root_hash`, and checks `checkpoint` (the signed note of that size, when there is one)
    with the hub's verifier key."""

    leaf_index: int
    position: int
    entry: str
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "position": self.position,
            "entry": self.entry,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "proof": [node.hex() for node in self.proof],
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 consistency proof that the tree of `new_size` leaves extends that of
    `old_size`; the signed notes of those sizes, when checkpoints were signed at them."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]
    old_checkpoint: str | None
    new_checkpoint: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "proof": [node.hex() for node in self.proof],
            "old_checkpoint": self.old_checkpoint,
            "new_checkpoint": self.new_checkpoint,
        }


class AuditTrail:
    """Proofs and checkpoints, as the API and CLI give them out."""

    def __init__(self, tree: AuditTree) -> None:
        self._tree = tree

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await self._tree.latest_checkpoint()

    async def checkpoints(self, after_size: int = 0, limit: int = 1000) -> list[StoredCheckpoint]:
        return await self._tree.checkpoints(after_size, limit)

    async def inclusion_proof(
        self,
        *,
        entry_position: int | None = None,
        leaf_index: int | None = None,
        tree_size: int | None = None,
    ) -> InclusionProof:
        """The proof that an entry (by position or leaf index) is in the tree of `tree_size`
        leaves (default: the latest checkpoint's)."""
        if (entry_position is None) == (leaf_index is None):
            raise InvalidInput("name the entry by its position or by its leaf index (not both)")
        checkpoint: StoredCheckpoint | None
        if tree_size is None:
            checkpoint = await self._tree.latest_checkpoint()
            if checkpoint is None:
                raise NotFound("no audit checkpoint has been signed yet")
            tree_size = checkpoint.tree_size
        else:
            await self._check_size(tree_size, "tree_size", minimum=1)
            checkpoint = await self._tree.checkpoint(tree_size)
        found = await self._tree.sequenced_entry(
            leaf_index=leaf_index, entry_position=entry_position
        )
        if found is None:
            what = f"position {entry_position}" if leaf_index is None else f"leaf {leaf_index}"
            raise NotFound(f"no audit entry at {what} is in the tree yet")
        if found.leaf_index >= tree_size:
            raise NotFound(
                f"the audit entry at position {found.position} is leaf {found.leaf_index}, "
                f"beyond the tree of {tree_size} leaves (not yet in a checkpoint)"
            )
        size = tree_size

        def compute(get: SubtreeAccessor) -> tuple[bytes, list[bytes]]:
            return root_from_subtrees(get, size), inclusion_proof_from_subtrees(
                get, found.leaf_index, size
            )

        root, proof = await from_stored_subtrees(self._tree.subtrees, compute)
        return InclusionProof(
            leaf_index=found.leaf_index,
            position=found.position,
            entry=found.entry,
            leaf_hash=found.leaf_hash,
            tree_size=size,
            root_hash=root,
            proof=tuple(proof),
            checkpoint=checkpoint.note if checkpoint is not None else None,
        )

    async def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        """The proof that the tree of `new_size` leaves extends the tree of `old_size`."""
        if not 0 <= old_size <= new_size:
            raise InvalidInput(
                f"a consistency proof runs from a smaller tree to a larger one, not from "
                f"{old_size} to {new_size}"
            )
        await self._check_size(new_size, "new_size", minimum=0)

        def compute(get: SubtreeAccessor) -> tuple[bytes, bytes, list[bytes]]:
            return (
                root_from_subtrees(get, old_size),
                root_from_subtrees(get, new_size),
                consistency_proof_from_subtrees(get, old_size, new_size),
            )

        old_root, new_root, proof = await from_stored_subtrees(self._tree.subtrees, compute)
        old_checkpoint = await self._tree.checkpoint(old_size)
        new_checkpoint = await self._tree.checkpoint(new_size)
        return ConsistencyProof(
            old_size=old_size,
            new_size=new_size,
            old_root=old_root,
            new_root=new_root,
            proof=tuple(proof),
            old_checkpoint=old_checkpoint.note if old_checkpoint else None,
            new_checkpoint=new_checkpoint.note if new_checkpoint else None,
        )

    async def _check_size(self, size: int, name: str, *, minimum: int) -> None:
        head = await self._tree.head()
        if not minimum <= size <= head.size:
            raise InvalidInput(
                f"{name} must be between {minimum} and the tree's size {head.size}, not {size}"
            )
