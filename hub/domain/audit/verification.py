"""What a verification of the audit log reports: the first failure, in log order, and how
much was checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain.audit.checkpoint import CheckpointError, VerifierKey
from hub.errors import InvalidInput

__all__ = [
    "Failed",
    "VerificationFailure",
    "VerificationReport",
    "key_texts",
    "parse_key",
]


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
    * `leaf_published`: an entry does not hash to the leaf hash published outside the
      database when its leaf was checkpointed (the entry was changed and the stored hashes
      recomputed to match);
    * `external_checkpoint_signature`: the checkpoint held outside the database does not verify
      with the key (or is not a checkpoint);
    * `external_checkpoint_root`: the recomputed tree does not have the root the checkpoint held
      outside the database signed;
    * `external_checkpoint_beyond_tree`: that checkpoint covers more leaves than the tree has
      (the log was rolled back);
    * `external_checkpoint_missing`: the database holds no checkpoint of that size (checkpoints
      were deleted from it);
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
    #: The size of the checkpoint held outside the database that the log was checked against
    #: (None: none was held), and where it was held.
    held_checkpoint: int | None = None
    held_source: str | None = None
    #: The position of the last entry checked (None: no entry was).
    last_position: int | None = None

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
            "held_checkpoint": self.held_checkpoint,
            "held_source": self.held_source,
            "last_position": self.last_position,
            "failure": self.failure.as_json() if self.failure else None,
        }


class Failed(Exception):
    """Stops a verification at its first failure."""

    def __init__(self, failure: VerificationFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def key_texts(keys: str | Sequence[str]) -> tuple[str, ...]:
    texts = (keys,) if isinstance(keys, str) else tuple(keys)
    if not texts:
        raise InvalidInput("give at least one verifier key")
    return texts


def parse_key(text: str) -> VerifierKey:
    try:
        return VerifierKey.parse(text)
    except CheckpointError as error:
        raise InvalidInput(f"not a verifier key ({error})") from error
