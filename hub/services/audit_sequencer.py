"""The audit sequencer (gives every stored entry, in position order, the next leaf index) and
the checkpointer (signs the tree's root while it grows, C2SP tlog-checkpoint)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from hub.domain.audit.checkpoint import Checkpoint, CheckpointError, parse_signed_checkpoint
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
from hub.services.audit_ports import (
    AuditSigner,
    AuditTree,
    CheckpointPublisher,
    from_stored_subtrees,
)
from hub.services.worker import WorkerLoop

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

    def loop(self, wake: asyncio.Event | None = None) -> WorkerLoop:
        """The sequencer in the shared worker loop (transient faults retried forever). After a
        full batch it goes on at once (a backlog); otherwise it waits `poll_interval` (or
        `wake`), so that entries trickling in one by one are sequenced a batch at a time rather
        than one transaction each."""

        async def step() -> bool:
            return await self.run_once() >= self._batch_size

        return WorkerLoop(
            "audit-sequencer", step, idle_seconds=self._poll_interval, wakeups=(wake,)
        )

    async def run(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Keep sequencing until `stop` is set."""
        await self.loop(wake).run(stop)


# -- the checkpointer ----------------------------------------------------------------------------


class AuditCheckpointer:
    """Signs the tree's root whenever it has grown, at most every `interval` seconds.

    Before signing, it proves from the stored subtrees that the new tree extends the one the
    last checkpoint signed (RFC 9162 consistency), so it never signs over a tampered history:
    the last in the database, or a larger one published outside it (after an insider deleted
    or rolled back the database's checkpoints). Every checkpoint it signs is then published
    outside the database with its leaves' hashes (`publisher`); one signed but not published
    (a crash in between) is published on the next round.
    """

    def __init__(
        self,
        tree: AuditTree,
        signer: AuditSigner,
        *,
        publisher: CheckpointPublisher,
        interval: float = 5.0,
        page_size: int = 10_000,
    ) -> None:
        self._tree = tree
        self._signer = signer
        self._publisher = publisher
        self._interval = interval
        self._page = page_size

    async def run_once(self) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current tree if it grew since the last; the new checkpoint,
        or None (nothing new, or another checkpointer signed this size first)."""
        head = await self._tree.head()
        latest = await self._tree.latest_checkpoint()
        held = await self._publisher.latest()
        published = self._signed(held.note, held.source) if held is not None else None
        published_size = published.tree_size if published is not None else 0
        if head.size == 0 or (latest is not None and latest.tree_size >= head.size):
            if latest is not None:
                await self._publish(latest, published_size)
            return None
        base = self._signed(latest.note, "the database") if latest is not None else None
        if published is not None and (base is None or published.tree_size > base.tree_size):
            base = published
        if base is not None and base.tree_size > head.size:
            raise StoreError(
                f"the stored audit tree has {head.size} leaves, but a checkpoint of tree size "
                f"{base.tree_size} was published ({held.source if held else ''}): the log was "
                "rolled back; refusing to sign; run `hub audit verify`"
            )
        old_size = base.tree_size if base is not None else 0

        def compute(get: SubtreeAccessor) -> tuple[bytes, list[bytes]]:
            root = root_from_subtrees(get, head.size)
            return root, consistency_proof_from_subtrees(get, old_size, head.size)

        root, proof = await from_stored_subtrees(self._tree.subtrees, compute)
        if base is not None:
            self._check_extends(base, head.size, root, proof)
        checkpoint = StoredCheckpoint(
            tree_size=head.size,
            root_hash=root,
            note=self._signer.sign(head.size, root),
            signed_at=datetime.now(UTC),
        )
        if not await self._tree.add_checkpoint(checkpoint):
            return None
        await self._publish(checkpoint, published_size)
        return checkpoint

    def _signed(self, note: str, where: str) -> Checkpoint:
        try:
            return parse_signed_checkpoint(
                note, self._signer.trusted_keys, expected_origin=self._signer.origin
            )
        except CheckpointError as error:
            raise StoreError(
                f"the latest audit checkpoint in {where} does not verify ({error}): refusing "
                "to sign another; run `hub audit verify`"
            ) from error

    def _check_extends(
        self, signed: Checkpoint, size: int, root: bytes, proof: Sequence[bytes]
    ) -> None:
        if not verify_consistency(signed.tree_size, size, signed.root_hash, root, proof):
            raise StoreError(
                f"the stored audit tree of {size} leaves does not extend the one checkpoint "
                f"{signed.tree_size} signed: refusing to sign it; run `hub audit verify`"
            )

    async def _publish(self, checkpoint: StoredCheckpoint, published_size: int) -> None:
        """Publish `checkpoint` outside the database with the hashes of the leaves since the
        last one published there, unless it (or a larger one) is published already."""
        if published_size >= checkpoint.tree_size:
            return
        size = checkpoint.tree_size
        # A page at a time: the first checkpoint published for an existing log covers it all.
        start = published_size
        async with self._tree.snapshot() as snapshot:
            while start < size:
                wanted = min(self._page, size - start)
                page = await snapshot.leaves(start, wanted)
                for offset in range(wanted):
                    if offset >= len(page) or page[offset].leaf_index != start + offset:
                        raise StoreError(
                            f"audit leaf {start + offset} is missing: cannot publish the "
                            f"checkpoint of tree size {size}; run `hub audit verify`"
                        )
                await self._publisher.publish_leaves(start, [leaf.leaf_hash for leaf in page])
                start += wanted
        await self._publisher.publish(checkpoint)

    def loop(self) -> WorkerLoop:
        """The checkpointer in the shared worker loop: signs (and publishes) every `interval`
        seconds; transient faults are retried forever."""

        async def step() -> bool:
            await self.run_once()
            return False

        return WorkerLoop("audit-checkpointer", step, idle_seconds=self._interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep checkpointing every `interval` seconds until `stop` is set."""
        await self.loop().run(stop)
