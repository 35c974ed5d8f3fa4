"""Checkpoints held outside the database: what `hub audit verify` checks the stored log against.

Every checkpoint the hub signs is also published where an insider with the database cannot
rewrite it (the checkpoint directory) and handed to every recipient (the `Pph-Audit-Checkpoint`
header of each feed response and webhook delivery). A recipient or an operator can give one
back to `hub audit verify --checkpoint FILE`, as the signed note or as the header's value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from hub.domain.audit.checkpoint import MalformedCheckpoint

__all__ = ["CHECKPOINT_HEADER", "HeldCheckpoint", "decode_held", "encode_header"]

#: The header that carries the latest signed checkpoint on feed responses and webhooks.
CHECKPOINT_HEADER = "Pph-Audit-Checkpoint"


@dataclass(frozen=True, slots=True)
class HeldCheckpoint:
    """A signed checkpoint note held outside the database, and where it was found (a path, or
    what the operator named), for the messages that name it."""

    note: str
    source: str


def encode_header(note: str) -> str:
    """The note as a header value: base64url without padding (a note has newlines)."""
    return base64.urlsafe_b64encode(note.encode("utf-8")).decode("ascii").rstrip("=")


def decode_held(text: str) -> str:
    """A held checkpoint as given: the signed note itself, or a header value (base64url, with
    or without padding). Raises `MalformedCheckpoint` for anything else."""
    if "\n" in text.strip():
        return text
    compact = text.strip()
    try:
        raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError) as error:
        raise MalformedCheckpoint(
            "neither a signed checkpoint note nor a Pph-Audit-Checkpoint header value"
        ) from error
