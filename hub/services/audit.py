"""The disclosure audit trail's services: sequencing entries into the Merkle tree, signing
checkpoints, proofs, verification of the stored log, and exports anyone can verify offline.

Entries are written by any operation inside its own transaction (`AuditLog`, and the infra
adapter's `append(connection, entries)`), numbered by position. The *sequencer* follows them in
position order without skipping and gives each a dense leaf index (0, 1, 2 …), writing its leaf
hash and every perfect subtree the leaf completes; the *checkpointer* signs the root of the tree
every few seconds while it grows (C2SP tlog-checkpoint). Proofs and roots are built from the
stored perfect subtrees with O(log n) lookups (`hub.domain.audit.merkle`).

The *verifier* trusts nothing in the database but the signatures: it recomputes every leaf from
the stored canonical entries, every perfect subtree and the root at every checkpoint, and names
the first entry that was changed, removed, inserted or reordered, and the check that failed. An
export (JSON Lines) carries the entries and the signed checkpoints, and `verify_export` checks it
with nothing but the file and the hub's verifier key.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.domain.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_signed_checkpoint,
    sign_checkpoint,
    verifier_key,
)
from hub.domain.audit.entries import AuditEntry, format_timestamp
from hub.domain.audit.merkle import (
    HASH_SIZE,
    Frontier,
    SubtreeAccessor,
    consistency_proof_from_subtrees,
    inclusion_proof_from_subtrees,
    leaf_hash,
    root_from_subtrees,
    verify_consistency,
)
from hub.errors import InvalidInput, NotFound, StoreError

__all__ = [
    "EXPORT_FORMAT",
    "AuditCheckpointer",
    "AuditLog",
    "AuditSequencer",
    "AuditSigner",
    "AuditSnapshot",
    "AuditTrail",
    "AuditTree",
    "AuditVerifier",
    "ConsistencyProof",
    "ExportSummary",
    "InclusionProof",
    "Leaf",
    "SequencedEntry",
    "StoredCheckpoint",
    "StoredEntry",
    "SubtreeKey",
    "TreeHead",
    "VerificationFailure",
    "VerificationReport",
    "frontier_keys",
    "verify_export",
]

logger = logging.getLogger("hub.audit")

#: The first line of an export names its format; a later incompatible change is a new name.
EXPORT_FORMAT = "pph-audit-export/1"

#: Below every position and leaf index, even forged ones (the database's BIGINT minimum).
_LOWEST = -(2**63)

#: A perfect subtree's (level, index); level 0 is a leaf.
SubtreeKey = tuple[int, int]

T = TypeVar("T")


# -- what is stored ------------------------------------------------------------------------------


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


# -- ports ---------------------------------------------------------------------------------------


class AuditLog(Protocol):
    """Where operations write their audit entries."""

    async def record(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Store the entries in one transaction of their own; their positions, in order."""
        ...


class AuditSnapshot(Protocol):
    """One consistent, read-only view of the whole log (verification and export)."""

    async def entries(self, after: int, limit: int) -> list[StoredEntry]:
        """Stored entries with position > `after`, by position, sequenced or not."""
        ...

    async def count_entries(self, after: int) -> int:
        """How many stored entries have position > `after`."""
        ...

    async def leaves(self, start: int, limit: int) -> list[Leaf]:
        """Stored leaves with index >= `start`, by index."""
        ...

    async def sequenced(self, start: int, limit: int) -> list[SequencedEntry]:
        """Leaves with index >= `start` and their entries, by index."""
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


# -- reading subtrees ----------------------------------------------------------------------------


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


def _keys_used_by(compute: Callable[[SubtreeAccessor], object]) -> list[SubtreeKey]:
    """The subtrees `compute` reads. Which nodes a root or proof needs depends only on the
    sizes and indexes, never on the hashes, so a dry run with placeholders names them."""
    used: list[SubtreeKey] = []

    def record(level: int, index: int) -> bytes:
        used.append((level, index))
        return _PLACEHOLDER

    compute(record)
    return used


async def _from_stored_subtrees(
    lookup: Callable[[Collection[SubtreeKey]], Awaitable[dict[SubtreeKey, bytes]]],
    compute: Callable[[SubtreeAccessor], T],
) -> T:
    """Run `compute` over stored subtrees, fetched in one lookup."""
    wanted = set(_keys_used_by(compute))
    found = await lookup(wanted) if wanted else {}
    missing = sorted(wanted - set(found))
    if missing:
        level, index = missing[0]
        raise StoreError(
            f"the audit tree is missing the stored subtree at level {level}, index {index} "
            f"({len(missing)} missing in all): run `hub audit verify`"
        )
    return compute(lambda level, index: found[(level, index)])


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
        frontier = await _from_stored_subtrees(
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

        root, proof = await _from_stored_subtrees(self._tree.subtrees, compute)
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


# -- proofs and checkpoints ----------------------------------------------------------------------


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

        root, proof = await _from_stored_subtrees(self._tree.subtrees, compute)
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

        old_root, new_root, proof = await _from_stored_subtrees(self._tree.subtrees, compute)
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


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationFailure:
    """The first thing found wrong, in log order.

    `check` names the check that failed:

    * `leaf_missing`: a leaf index has no leaf (an entry was removed with its leaf);
    * `entry_missing`: a leaf's entry is gone (the entry was removed);
    * `entry_inserted`: an entry that is not in the tree, though later entries are;
    * `leaf_order`: leaves are not in the order of their entries' positions;
    * `leaf_hash`: the stored entry does not hash to its stored leaf (the entry or the leaf
      hash was changed, or entries were reordered);
    * `entry_columns`: the stored kind or time disagrees with the canonical entry;
    * `subtree`, `subtree_missing`: a stored perfect subtree differs from the recomputed one;
    * `checkpoint_signature`: a checkpoint's signed note does not verify with the key;
    * `checkpoint_note`: a checkpoint's stored size or root differs from its signed note;
    * `checkpoint_root`: the recomputed tree does not have the root a checkpoint signed;
    * `checkpoint_consistency`: a checkpoint does not extend the one before it;
    * `checkpoint_beyond_tree`: a checkpoint covers more leaves than the tree has (entries
      were removed from the end);
    * `export_format`: an export line that is not what the format says.
    """

    check: str
    message: str
    leaf_index: int | None = None
    position: int | None = None
    tree_size: int | None = None
    entry: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "message": self.message,
            "leaf_index": self.leaf_index,
            "position": self.position,
            "tree_size": self.tree_size,
            "entry": self.entry,
        }


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What a verification found: how much was checked and the first failure, if any."""

    #: Leaves recomputed and checked.
    entries: int
    #: Checkpoints whose signature, root and consistency with the one before were checked.
    checkpoints: int
    #: The size of the latest checkpoint that verified (None: none did).
    latest_checkpoint: int | None
    #: Stored entries not yet in the tree (the sequencer has not reached them).
    unsequenced: int
    failure: VerificationFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
            "unsequenced": self.unsequenced,
            "failure": self.failure.as_json() if self.failure else None,
        }


class _Failed(Exception):
    """Stops a verification at its first failure."""

    def __init__(self, failure: VerificationFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(slots=True)
class _Claim:
    """A checkpoint as stored or exported, before the tree reaches its size."""

    tree_size: int
    root_hash: bytes
    problem: VerificationFailure | None


class _TreeReplay:
    """Recomputes the tree leaf by leaf, in O(log n) memory, and checks each claimed checkpoint
    when the tree reaches its size: its root, and its consistency with the one before.

    The driver feeds the claimed checkpoints, smallest first, while `needs_claims` is true (the
    replay looks one checkpoint ahead, to keep only the nodes the next consistency proof needs),
    then calls `no_more_claims`.
    """

    def __init__(self, keys: Sequence[VerifierKey], origin: str) -> None:
        self._keys = tuple(keys)
        self._origin = origin
        self._frontier = Frontier()
        self._claims: deque[_Claim] = deque()
        self._claims_done = False
        self._last_claimed = -1
        self._verified: _Claim | None = None
        self._planned = True
        #: The nodes the consistency proof to the next checkpoint needs, as they appear.
        self._wanted: set[SubtreeKey] = set()
        self._kept: dict[SubtreeKey, bytes] = {}
        self.checkpoints = 0

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def latest_checkpoint(self) -> int | None:
        return self._verified.tree_size if self._verified is not None else None

    @property
    def needs_claims(self) -> bool:
        return not self._claims_done and len(self._claims) < 2

    def claim(self, tree_size: int, note: str, stored_root: bytes | None = None) -> None:
        """A checkpoint the log claims: its signature and note are checked now; its root when
        the tree reaches its size (a problem is reported then, in log order)."""
        problem: VerificationFailure | None = None
        root = b""
        if tree_size <= self._last_claimed:
            problem = VerificationFailure(
                "export_format",
                f"checkpoint of tree size {tree_size} comes after one of size "
                f"{self._last_claimed}: checkpoints are listed smallest first, once each",
                tree_size=tree_size,
            )
        else:
            try:
                signed = parse_signed_checkpoint(note, self._keys, expected_origin=self._origin)
            except CheckpointError as error:
                names = " or ".join(f"{k.name}+{k.key_id.hex()}" for k in self._keys)
                problem = VerificationFailure(
                    "checkpoint_signature",
                    f"the checkpoint of tree size {tree_size} does not verify with "
                    f"{names}: {error}",
                    tree_size=tree_size,
                )
            else:
                root = signed.root_hash
                if signed.tree_size != tree_size:
                    problem = VerificationFailure(
                        "checkpoint_note",
                        f"the checkpoint stored as tree size {tree_size} signs tree size "
                        f"{signed.tree_size}",
                        tree_size=tree_size,
                    )
                elif stored_root is not None and stored_root != signed.root_hash:
                    problem = VerificationFailure(
                        "checkpoint_note",
                        f"the checkpoint of tree size {tree_size} is stored with root "
                        f"{stored_root.hex()}, but its signed note says {signed.root_hash.hex()}",
                        tree_size=tree_size,
                    )
            self._last_claimed = tree_size
        self._claims.append(_Claim(tree_size, root, problem))

    def no_more_claims(self) -> None:
        self._claims_done = True

    def append(self, hashed: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf; the perfect subtrees it completes (level 0 first)."""
        if not self._planned:
            self._plan_consistency()
        completed = self._frontier.append(hashed)
        if self._wanted:
            for level, index, node in completed:
                if (level, index) in self._wanted:
                    self._kept[(level, index)] = node
        return completed

    def reach(self) -> None:
        """Check every claimed checkpoint of the tree's current size (raises `_Failed`)."""
        size = self._frontier.size
        while self._claims and self._claims[0].tree_size <= size:
            claim = self._claims.popleft()
            if claim.problem is not None:
                raise _Failed(claim.problem)
            previous = self._verified.tree_size if self._verified is not None else 0
            if self._frontier.root() != claim.root_hash:
                raise _Failed(
                    VerificationFailure(
                        "checkpoint_root",
                        f"the entries do not have the root that the checkpoint of tree size "
                        f"{size} signed: an entry among leaves {previous}..{size - 1} was "
                        "changed, removed, inserted or reordered",
                        leaf_index=previous,
                        tree_size=size,
                    )
                )
            if self._verified is not None and previous > 0:
                proof = consistency_proof_from_subtrees(
                    lambda level, index: self._kept[(level, index)], previous, size
                )
                old_root = self._verified.root_hash
                if not verify_consistency(previous, size, old_root, claim.root_hash, proof):
                    raise _Failed(
                        VerificationFailure(
                            "checkpoint_consistency",
                            f"the checkpoint of tree size {size} does not extend the checkpoint "
                            f"of tree size {previous}",
                            leaf_index=previous,
                            tree_size=size,
                        )
                    )
            self._verified = claim
            self.checkpoints += 1
            self._planned = False

    def _plan_consistency(self) -> None:
        """At a verified checkpoint: which nodes will the proof to the next one need?"""
        self._planned = True
        self._wanted, self._kept = set(), {}
        old = self._frontier.size
        if not self._claims or old == 0:
            return
        new = self._claims[0].tree_size
        if new <= old:
            return
        self._wanted = set(
            _keys_used_by(lambda get: consistency_proof_from_subtrees(get, old, new))
        )
        for key, node in zip(frontier_keys(old), self._frontier.hashes, strict=True):
            if key in self._wanted:
                self._kept[key] = node

    def finish(self) -> None:
        """After the last leaf: a checkpoint still waiting covers leaves that are not there."""
        self.reach()
        if self._claims:
            claim = self._claims[0]
            if claim.problem is not None:
                raise _Failed(claim.problem)
            size = self._frontier.size
            raise _Failed(
                VerificationFailure(
                    "checkpoint_beyond_tree",
                    f"the checkpoint of tree size {claim.tree_size} covers {claim.tree_size} "
                    f"entries, but the tree has only {size}: entries from leaf {size} on were "
                    "removed",
                    leaf_index=size,
                    tree_size=claim.tree_size,
                )
            )


class _Peekable:
    """The stored entries in position order, fetched a page at a time, with one of lookahead."""

    def __init__(self, snapshot: AuditSnapshot, page: int) -> None:
        self._snapshot = snapshot
        self._page = page
        self._buffer: deque[StoredEntry] = deque()
        self._after = _LOWEST
        self._exhausted = False

    async def peek(self) -> StoredEntry | None:
        if not self._buffer and not self._exhausted:
            found = await self._snapshot.entries(self._after, self._page)
            if len(found) < self._page:
                self._exhausted = True
            if found:
                self._after = found[-1].position
            self._buffer.extend(found)
        return self._buffer[0] if self._buffer else None

    def take(self) -> StoredEntry:
        return self._buffer.popleft()


class AuditVerifier:
    """Verifies the stored log against its signed checkpoints, and exports it."""

    def __init__(
        self,
        tree: AuditTree,
        verifier_keys: str | Sequence[str],
        origin: str,
        *,
        page_size: int = 5000,
    ) -> None:
        """`verifier_keys`: the key checkpoints are signed with now, first, then any earlier
        keys whose checkpoints must still verify."""
        self._tree = tree
        self._verifier_keys = _key_texts(verifier_keys)
        self._keys = [_parse_key(k) for k in self._verifier_keys]
        self._origin = origin
        self._page = page_size

    async def verify(self) -> VerificationReport:
        """Recompute every leaf from the stored canonical entries, every stored perfect subtree,
        and the root at every checkpoint; check each checkpoint's signature and its consistency
        with the one before. Stops at the first failure, in log order."""
        replay = _TreeReplay(self._keys, self._origin)
        last_position = 0
        unsequenced = 0
        async with self._tree.snapshot() as snapshot:
            try:
                claims = _StoredClaims(snapshot, replay, self._page)
                await claims.feed()
                replay.reach()
                last_position = await self._replay_leaves(snapshot, replay, claims)
                replay.finish()
            except _Failed as failed:
                return _report(replay, 0, failed.failure)
            unsequenced = await snapshot.count_entries(last_position)
        return _report(replay, unsequenced, None)

    async def _replay_leaves(
        self, snapshot: AuditSnapshot, replay: _TreeReplay, claims: _StoredClaims
    ) -> int:
        """Every leaf in index order against the entries in position order; the position of
        the last leaf's entry."""
        entries = _Peekable(snapshot, self._page)
        expected, last_position, cursor = 0, 0, _LOWEST
        while True:
            page = await snapshot.leaves(cursor, self._page)
            if not page:
                return last_position
            cursor = page[-1].leaf_index + 1
            stored_subtrees = await snapshot.subtrees(_completed_above_leaves(page))
            for leaf in page:
                where = f"leaf {leaf.leaf_index} (position {leaf.entry_position})"
                if leaf.leaf_index != expected:
                    raise _Failed(
                        VerificationFailure(
                            "leaf_missing",
                            f"leaf {expected} is missing (the next stored leaf is "
                            f"{leaf.leaf_index}): the entry after position {last_position} was "
                            "removed with its leaf",
                            leaf_index=expected,
                        )
                    )
                if leaf.entry_position <= last_position:
                    raise _Failed(
                        VerificationFailure(
                            "leaf_order",
                            f"{where} comes after the leaf of position {last_position}: "
                            "leaves are out of position order (entries were reordered)",
                            leaf_index=leaf.leaf_index,
                            position=leaf.entry_position,
                        )
                    )
                entry = await entries.peek()
                if entry is not None and entry.position < leaf.entry_position:
                    raise _Failed(
                        VerificationFailure(
                            "entry_inserted",
                            f"the entry at position {entry.position} is not in the tree, yet "
                            f"{where} after it is: the entry was inserted",
                            leaf_index=leaf.leaf_index,
                            position=entry.position,
                            entry=entry.entry,
                        )
                    )
                if entry is None or entry.position != leaf.entry_position:
                    raise _Failed(
                        VerificationFailure(
                            "entry_missing",
                            f"the entry of {where} is missing: it was removed",
                            leaf_index=leaf.leaf_index,
                            position=leaf.entry_position,
                        )
                    )
                entries.take()
                hashed = leaf_hash(entry.entry.encode("utf-8"))
                if hashed != leaf.leaf_hash:
                    raise _Failed(await _leaf_hash_failure(snapshot, leaf, entry, hashed))
                _check_columns(leaf, entry)
                await claims.feed()
                for level, index, node in replay.append(hashed)[1:]:
                    _check_subtree(stored_subtrees.get((level, index)), level, index, node)
                replay.reach()
                expected, last_position = leaf.leaf_index + 1, leaf.entry_position

    async def export(self, path: Path) -> ExportSummary:
        """Write the log as JSON Lines: a header (origin, verifier key, tree size), every signed
        checkpoint, and every entry of the tree as of the latest checkpoint, with its leaf index
        and canonical text. Everything exported is covered by a signed checkpoint."""
        async with self._tree.snapshot() as snapshot:
            latest = await snapshot.latest_checkpoint()
            size = latest.tree_size if latest is not None else 0
            header = {
                "type": "header",
                "format": EXPORT_FORMAT,
                "origin": self._origin,
                "verifier_key": self._verifier_keys[0],
                "previous_verifier_keys": list(self._verifier_keys[1:]),
                "tree_size": size,
                "exported_at": format_timestamp(datetime.now(UTC)),
            }
            out = await asyncio.to_thread(path.open, "w", encoding="utf-8", newline="\n")
            try:
                await _write(out, [_line(header)])
                checkpoints, after = 0, -1
                while checkpoint_page := await snapshot.checkpoints(after, self._page):
                    await _write(
                        out,
                        [
                            _line({"type": "checkpoint", "tree_size": c.tree_size, "note": c.note})
                            for c in checkpoint_page
                        ],
                    )
                    checkpoints += len(checkpoint_page)
                    after = checkpoint_page[-1].tree_size
                start = 0
                while start < size:
                    page = await snapshot.sequenced(start, min(self._page, size - start))
                    if not page:
                        break
                    await _write(out, [_entry_line(e) for e in page])
                    start = page[-1].leaf_index + 1
            finally:
                await asyncio.to_thread(out.close)
        return ExportSummary(path=path, tree_size=size, checkpoints=checkpoints)


def _entry_line(entry: SequencedEntry) -> str:
    return _line(
        {
            "type": "entry",
            "leaf_index": entry.leaf_index,
            "position": entry.position,
            "entry": entry.entry,
        }
    )


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    tree_size: int
    checkpoints: int


class _StoredClaims:
    """Feeds the stored checkpoints to a replay, a page at a time, as it needs them."""

    def __init__(self, snapshot: AuditSnapshot, replay: _TreeReplay, page: int) -> None:
        self._snapshot = snapshot
        self._replay = replay
        self._page = page
        self._buffer: deque[StoredCheckpoint] = deque()
        self._after = -1
        self._exhausted = False

    async def feed(self) -> None:
        while self._replay.needs_claims:
            if not self._buffer:
                if self._exhausted:
                    self._replay.no_more_claims()
                    return
                found = await self._snapshot.checkpoints(self._after, self._page)
                self._exhausted = len(found) < self._page
                if found:
                    self._after = found[-1].tree_size
                self._buffer.extend(found)
                continue
            stored = self._buffer.popleft()
            self._replay.claim(stored.tree_size, stored.note, stored.root_hash)


def _completed_above_leaves(page: Sequence[Leaf]) -> set[SubtreeKey]:
    """The perfect subtrees of level 1 and up that the leaves of `page` complete."""
    keys: set[SubtreeKey] = set()
    for leaf in page:
        index = leaf.leaf_index
        level = 0
        while (index >> level) & 1:
            level += 1
            keys.add((level, index >> level))
    return keys


def _check_subtree(stored: bytes | None, level: int, index: int, node: bytes) -> None:
    first, last = index << level, ((index + 1) << level) - 1
    if stored is None:
        raise _Failed(
            VerificationFailure(
                "subtree_missing",
                f"the stored subtree at level {level}, index {index} (leaves {first}..{last}) "
                "is missing",
                leaf_index=first,
            )
        )
    if stored != node:
        raise _Failed(
            VerificationFailure(
                "subtree",
                f"the stored subtree at level {level}, index {index} differs from the one "
                f"recomputed from the entries: an entry among leaves {first}..{last} and its "
                "leaf hash were changed together, or the subtree was",
                leaf_index=first,
            )
        )


async def _leaf_hash_failure(
    snapshot: AuditSnapshot, leaf: Leaf, entry: StoredEntry, hashed: bytes
) -> VerificationFailure:
    where = f"leaf {leaf.leaf_index} (position {leaf.entry_position})"
    others = [i for i in await snapshot.leaves_with_hash(hashed) if i != leaf.leaf_index]
    if others:
        message = (
            f"the entry at position {entry.position} is what leaf {others[0]} recorded, not "
            f"{where}: entries were reordered"
        )
    else:
        message = (
            f"the entry at position {entry.position} does not hash to the stored hash of "
            f"{where}: the entry or its leaf hash was changed"
        )
    return VerificationFailure(
        "leaf_hash",
        message,
        leaf_index=leaf.leaf_index,
        position=entry.position,
        entry=entry.entry,
    )


def _check_columns(leaf: Leaf, entry: StoredEntry) -> None:
    """The kind and time columns (for queries) must say what the hashed entry says."""
    try:
        document = json.loads(entry.entry)
        kind, occurred_at = document["kind"], document["occurred_at"]
    except (ValueError, TypeError, KeyError):
        kind = occurred_at = None
    if kind != entry.kind or occurred_at != format_timestamp(entry.occurred_at):
        raise _Failed(
            VerificationFailure(
                "entry_columns",
                f"the kind or time stored beside the entry at position {entry.position} "
                f"(leaf {leaf.leaf_index}) differs from the entry itself: a column was changed",
                leaf_index=leaf.leaf_index,
                position=entry.position,
                entry=entry.entry,
            )
        )


def _report(
    replay: _TreeReplay, unsequenced: int, failure: VerificationFailure | None
) -> VerificationReport:
    return VerificationReport(
        entries=replay.size,
        checkpoints=replay.checkpoints,
        latest_checkpoint=replay.latest_checkpoint,
        unsequenced=unsequenced,
        failure=failure,
    )


def _key_texts(keys: str | Sequence[str]) -> tuple[str, ...]:
    texts = (keys,) if isinstance(keys, str) else tuple(keys)
    if not texts:
        raise InvalidInput("give at least one verifier key")
    return texts


def _parse_key(text: str) -> VerifierKey:
    try:
        return VerifierKey.parse(text)
    except CheckpointError as error:
        raise InvalidInput(f"not a verifier key ({error})") from error


def _line(record: Mapping[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


async def _write(out: IO[str], lines: Sequence[str]) -> None:
    await asyncio.to_thread(out.write, "".join(lines))


# -- verifying an export (no database) -----------------------------------------------------------


def verify_export(path: Path, verifier_keys: str | Sequence[str]) -> VerificationReport:
    """Verify an export with nothing but the file and the hub's verifier key(s) — the current
    one and any earlier ones after a rotation: recompute the tree from the entries, check every
    checkpoint's signature with one of the keys, its root, and its consistency with the one
    before. Stops at the first failure, in log order."""
    keys = [_parse_key(k) for k in _key_texts(verifier_keys)]
    with path.open(encoding="utf-8") as lines, path.open(encoding="utf-8") as claim_lines:
        records = _records(lines)
        try:
            header = _header(next(records, None), keys)
        except _Failed as failed:
            return VerificationReport(0, 0, None, 0, failed.failure)
        replay = _TreeReplay(keys, header["origin"])
        claims = _file_claims(claim_lines)
        try:
            _feed_file_claims(replay, claims)
            replay.reach()
            expected, last_position = 0, 0
            for number, record in records:
                if record.get("type") != "entry":
                    continue
                leaf_index, position, entry = _entry_fields(number, record)
                if leaf_index != expected:
                    raise _Failed(
                        VerificationFailure(
                            "leaf_missing",
                            f"line {number}: leaf {leaf_index} follows leaf {expected - 1}; leaf "
                            f"{expected} is missing (removed), or the lines were reordered",
                            leaf_index=expected,
                            position=position,
                        )
                    )
                if position <= last_position:
                    raise _Failed(
                        VerificationFailure(
                            "leaf_order",
                            f"line {number}: leaf {leaf_index} has position {position}, not after "
                            f"the position {last_position} of the leaf before it",
                            leaf_index=leaf_index,
                            position=position,
                        )
                    )
                _feed_file_claims(replay, claims)
                replay.append(leaf_hash(entry.encode("utf-8")))
                replay.reach()
                expected, last_position = leaf_index + 1, position
            replay.finish()
            if replay.size != header["tree_size"]:
                raise _Failed(
                    VerificationFailure(
                        "export_format",
                        f"the header says {header['tree_size']} entries, the file holds "
                        f"{replay.size}",
                        leaf_index=replay.size,
                    )
                )
        except _Failed as failed:
            return _report(replay, 0, failed.failure)
    return _report(replay, 0, None)


def _records(lines: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line; a line that is not a JSON object fails."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise _Failed(
                VerificationFailure("export_format", f"line {number} is not JSON: {error}")
            ) from error
        if not isinstance(record, dict):
            raise _Failed(VerificationFailure("export_format", f"line {number} is not an object"))
        yield number, record


def _header(
    first: tuple[int, dict[str, Any]] | None, keys: Sequence[VerifierKey]
) -> dict[str, Any]:
    if first is None:
        raise _Failed(VerificationFailure("export_format", "the file is empty"))
    _, header = first
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise _Failed(
            VerificationFailure(
                "export_format", f"line 1 is not a {EXPORT_FORMAT} header: not an audit export"
            )
        )
    if not isinstance(header.get("origin"), str) or type(header.get("tree_size")) is not int:
        raise _Failed(VerificationFailure("export_format", "the header has no origin or size"))
    named = header.get("verifier_key")
    given = [[key.name, key.key_id.hex()] for key in keys]
    if isinstance(named, str) and named.split("+", 2)[:2] not in given:
        logger.warning("the export names verifier key %s; checking with the keys given", named)
    return header


def _file_claims(lines: IO[str]) -> Iterator[tuple[int, str]]:
    for number, record in _records(lines):
        if record.get("type") != "checkpoint":
            continue
        tree_size, note = record.get("tree_size"), record.get("note")
        if type(tree_size) is not int or not isinstance(note, str):
            raise _Failed(
                VerificationFailure(
                    "export_format", f"line {number}: a checkpoint has a tree_size and a note"
                )
            )
        yield tree_size, note


def _feed_file_claims(replay: _TreeReplay, claims: Iterator[tuple[int, str]]) -> None:
    while replay.needs_claims:
        claim = next(claims, None)
        if claim is None:
            replay.no_more_claims()
            return
        replay.claim(*claim)


def _entry_fields(number: int, record: Mapping[str, Any]) -> tuple[int, int, str]:
    leaf_index, position, entry = (
        record.get("leaf_index"),
        record.get("position"),
        record.get("entry"),
    )
    if type(leaf_index) is not int or type(position) is not int or not isinstance(entry, str):
        raise _Failed(
            VerificationFailure(
                "export_format",
                f"line {number}: an entry has a leaf_index, a position and its canonical text",
            )
        )
    return leaf_index, position, entry
