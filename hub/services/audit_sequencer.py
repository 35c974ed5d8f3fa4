"""The audit sequencer (gives every stored entry, in position order, the next leaf index) and
the checkpointer (signs the tree's root while it grows, C2SP tlog-checkpoint)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from hub.domain.audit.checkpoint import CheckpointError, parse_signed_checkpoint
from hub.domain.audit.merkle import (
    Frontier,
    SubtreeAccessor,
    consistency_proof_from_subtrees,
    leaf_hash,
    root_from_subtrees,
    verify_consistency,
)
from hub.domain.audit.records import Leaf, StoredCheckpoint
from hub.errors import InvalidInput, StoreError
from hub.services.audit_ports import AuditSigner, AuditTree, from_stored_subtrees

__all__ = ["AuditCheckpointer", "AuditSequencer"]

logger = logging.getLogger("hub.audit")


# -- the sequencer -------------------------------------------------------------------------------


class AuditSequencer:
    """Gives every stored entry, in position order, the next leaf index.

    Idempotent and crash-safe (CONVENTIONS 4): the leaves table is its own checkpoint (the
    highest leaf says how far it got), and a batch's leaves and subtrees are written in one
    transaction only if the tree is still where the batch began, so two sequencers never both
    write a batch, and a crash leaves all of a batch or none of it.
    """

    def __init__(
        self, tree: AuditTree, *, batch_size: int = 1000, poll_interval: float = 0.2
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        self._tree = tree
        self._batch_size = batch_size
        self._poll_interval = poll_interval

    async def run_once(self) -> int:
        """Sequence one batch of waiting entries; how many leaves were added (0: none waiting,
        or another sequencer added them first)."""
        added, _ = await self._step()
        return added

    async def run_until_idle(self) -> int:
        """Sequence everything waiting now (while other sequencers may run too); how many leaves
        this one added."""
        total = 0
        while True:
            added, raced = await self._step()
            if not added and not raced:
                return total
            total += added

    async def _step(self) -> tuple[int, bool]:
        """(leaves added, whether another sequencer extended the tree first)."""
        head = await self._tree.head()
        waiting = await self._tree.unsequenced(head.last_position, self._batch_size)
        if not waiting:
            return 0, False
        frontier = await from_stored_subtrees(
            self._tree.subtrees, lambda get: Frontier.from_subtrees(get, head.size)
        )
        leaves: list[Leaf] = []
        subtrees: list[tuple[int, int, bytes]] = []
        for offset, stored in enumerate(waiting):
            hashed = leaf_hash(stored.entry.encode("utf-8"))
            leaves.append(Leaf(head.size + offset, stored.position, hashed))
            subtrees.extend(node for node in frontier.append(hashed) if node[0] > 0)
        if not await self._tree.add_leaves(head, leaves, subtrees):
            logger.debug("another sequencer extended the audit tree first; reading again")
            return 0, True
        return len(leaves), False

    async def run(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Keep sequencing until `stop` is set. After a full batch it goes on at once (a
        backlog); otherwise it waits `poll_interval` (or `wake`), so that entries trickling in
        one by one are sequenced a batch at a time rather than one transaction each."""
        while not stop.is_set():
            if await self.run_once() >= self._batch_size:
                continue
            await _wait_any(stop, wake, self._poll_interval)


# -- the checkpointer ----------------------------------------------------------------------------


class AuditCheckpointer:
    """Signs the tree's root whenever it has grown, at most every `interval` seconds.

    Before signing, it proves from the stored subtrees that the new tree extends the one the
    last checkpoint signed (RFC 9162 consistency), so it never signs over a tampered history.
    """

    def __init__(self, tree: AuditTree, signer: AuditSigner, *, interval: float = 5.0) -> None:
        self._tree = tree
        self._signer = signer
        self._interval = interval

    async def run_once(self) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current tree if it grew since the last; the new checkpoint,
        or None (nothing new, or another checkpointer signed this size first)."""
        head = await self._tree.head()
        latest = await self._tree.latest_checkpoint()
        if head.size == 0 or (latest is not None and latest.tree_size >= head.size):
            return None
        old_size = latest.tree_size if latest is not None else 0

        def compute(get: SubtreeAccessor) -> tuple[bytes, list[bytes]]:
            root = root_from_subtrees(get, head.size)
            return root, consistency_proof_from_subtrees(get, old_size, head.size)

        root, proof = await from_stored_subtrees(self._tree.subtrees, compute)
        if latest is not None:
            self._check_extends(latest, head.size, root, proof)
        checkpoint = StoredCheckpoint(
            tree_size=head.size,
            root_hash=root,
            note=self._signer.sign(head.size, root),
            signed_at=datetime.now(UTC),
        )
        if not await self._tree.add_checkpoint(checkpoint):
            return None
        return checkpoint

    def _check_extends(
        self, latest: StoredCheckpoint, size: int, root: bytes, proof: Sequence[bytes]
    ) -> None:
        try:
            signed = parse_signed_checkpoint(
                latest.note, self._signer.trusted_keys, expected_origin=self._signer.origin
            )
        except CheckpointError as error:
            raise StoreError(
                f"the latest audit checkpoint (tree size {latest.tree_size}) does not verify "
                f"({error}): refusing to sign another; run `hub audit verify`"
            ) from error
        if not verify_consistency(latest.tree_size, size, signed.root_hash, root, proof):
            raise StoreError(
                f"the stored audit tree of {size} leaves does not extend the one checkpoint "
                f"{latest.tree_size} signed: refusing to sign it; run `hub audit verify`"
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Keep checkpointing every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            await self.run_once()
            await _wait_any(stop, None, self._interval)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    events = [stop] if wake is None else [stop, wake]
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if wake is not None:
        wake.clear()
