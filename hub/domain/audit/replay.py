"""Recomputing the audit tree leaf by leaf and checking each claimed checkpoint as it is
reached: shared by the verifier of the stored log and the offline verifier of an export."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from hub.domain.audit.checkpoint import CheckpointError, VerifierKey, parse_signed_checkpoint
from hub.domain.audit.held import HeldCheckpoint
from hub.domain.audit.merkle import Frontier, consistency_proof_from_subtrees, verify_consistency
from hub.domain.audit.subtrees import SubtreeKey, frontier_keys, keys_used_by
from hub.domain.audit.verification import Failed, VerificationFailure, VerificationReport

__all__ = ["TreeReplay", "report"]


@dataclass(slots=True)
class _Claim:
    """A checkpoint as stored or exported, before the tree reaches its size."""

    tree_size: int
    root_hash: bytes
    problem: VerificationFailure | None


@dataclass(frozen=True, slots=True)
class _Held:
    """The checkpoint held outside the database, once its signature verified."""

    tree_size: int
    root_hash: bytes
    source: str


class TreeReplay:
    """Recomputes the tree leaf by leaf, in O(log n) memory, and checks each claimed checkpoint
    when the tree reaches its size: its root, and its consistency with the one before.

    The driver feeds the claimed checkpoints, smallest first, while `needs_claims` is true (the
    replay looks one checkpoint ahead, to keep only the nodes the next consistency proof needs),
    then calls `no_more_claims`.

    A checkpoint held outside the database (`hold`) is checked the same way when the tree
    reaches its size, and the tree must reach it: a log smaller than a checkpoint the hub
    published was rolled back.
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
        self._held: _Held | None = None
        self.checkpoints = 0
        #: The smallest tree size at which `reach` has something to check (see `due`).
        self._next_check = 0

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def latest_checkpoint(self) -> int | None:
        return self._verified.tree_size if self._verified is not None else None

    @property
    def held_checkpoint(self) -> int | None:
        return self._held.tree_size if self._held is not None else None

    @property
    def held_source(self) -> str | None:
        return self._held.source if self._held is not None else None

    def hold(self, held: HeldCheckpoint) -> int:
        """The checkpoint held outside the database: its signature is checked now (raises
        `Failed`), its root when the tree reaches its size. Its tree size."""
        try:
            signed = parse_signed_checkpoint(held.note, self._keys, expected_origin=self._origin)
        except CheckpointError as error:
            names = " or ".join(f"{k.name}+{k.key_id.hex()}" for k in self._keys)
            raise Failed(
                VerificationFailure(
                    "external_checkpoint_signature",
                    f"the checkpoint held outside the database ({held.source}) does not verify "
                    f"with {names} for origin {self._origin}: {error}",
                )
            ) from error
        self._held = _Held(signed.tree_size, signed.root_hash, held.source)
        self._plan_next_check()
        return signed.tree_size

    @property
    def due(self) -> bool:
        """Does `reach` have anything to check at the tree's current size (a claimed
        checkpoint, or the held one)? A driver may call it only then."""
        return self._frontier.size >= self._next_check

    def _plan_next_check(self) -> None:
        size = self._frontier.size
        sizes = [self._claims[0].tree_size] if self._claims else []
        if self._held is not None and self._held.tree_size >= size:
            sizes.append(self._held.tree_size)
        self._next_check = min(sizes, default=2**63)

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
        self._plan_next_check()

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
        """Check every claimed checkpoint of the tree's current size (raises `Failed`)."""
        size = self._frontier.size
        while self._claims and self._claims[0].tree_size <= size:
            claim = self._claims.popleft()
            if claim.problem is not None:
                raise Failed(claim.problem)
            previous = self._verified.tree_size if self._verified is not None else 0
            if self._frontier.root() != claim.root_hash:
                raise Failed(
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
                    raise Failed(
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
        self._reach_held()
        self._plan_next_check()

    def _reach_held(self) -> None:
        held, size = self._held, self._frontier.size
        if held is None or held.tree_size != size or self._frontier.root() == held.root_hash:
            return
        previous = self._verified.tree_size if self._verified is not None else 0
        if previous >= size:
            previous = 0
        raise Failed(
            VerificationFailure(
                "external_checkpoint_root",
                f"the entries do not have the root that the checkpoint of tree size {size} held "
                f"outside the database ({held.source}) signed: an entry among leaves "
                f"{previous}..{size - 1} was changed, removed, inserted or reordered, and the "
                "stored hashes recomputed to match",
                leaf_index=previous,
                tree_size=size,
            )
        )

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
        self._wanted = set(keys_used_by(lambda get: consistency_proof_from_subtrees(get, old, new)))
        for key, node in zip(frontier_keys(old), self._frontier.hashes, strict=True):
            if key in self._wanted:
                self._kept[key] = node

    def finish(self) -> None:
        """After the last leaf: a checkpoint still waiting covers leaves that are not there."""
        self.reach()
        if self._claims:
            claim = self._claims[0]
            if claim.problem is not None:
                raise Failed(claim.problem)
            size = self._frontier.size
            raise Failed(
                VerificationFailure(
                    "checkpoint_beyond_tree",
                    f"the checkpoint of tree size {claim.tree_size} covers {claim.tree_size} "
                    f"entries, but the tree has only {size}: entries from leaf {size} on were "
                    "removed",
                    leaf_index=size,
                    tree_size=claim.tree_size,
                )
            )
        held, size = self._held, self._frontier.size
        if held is not None and held.tree_size > size:
            raise Failed(
                VerificationFailure(
                    "external_checkpoint_beyond_tree",
                    f"the checkpoint of tree size {held.tree_size} held outside the database "
                    f"({held.source}) covers {held.tree_size} entries, but the database's tree "
                    f"has only {size}: the log was rolled back; leaves {size}.."
                    f"{held.tree_size - 1} are missing",
                    leaf_index=size,
                    tree_size=held.tree_size,
                )
            )


def report(
    replay: TreeReplay, unsequenced: int, failure: VerificationFailure | None
) -> VerificationReport:
    return VerificationReport(
        entries=replay.size,
        checkpoints=replay.checkpoints,
        latest_checkpoint=replay.latest_checkpoint,
        unsequenced=unsequenced,
        failure=failure,
        held_checkpoint=replay.held_checkpoint,
        held_source=replay.held_source,
    )
