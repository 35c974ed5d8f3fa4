"""The shapes of the audit API's answers that the routes build as plain JSON (restrictions,
proofs), declared so that `/openapi.json` types them and FastAPI checks each answer against its
declaration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_HEX_HASH = r"^[0-9a-f]{64}$"


def _timestamp(description: str) -> Any:
    return Field(description=description, json_schema_extra={"format": "date-time"})


class RestrictionModel(BaseModel):
    """A restriction on a person's subject access reports (DPA 2018 s45(4)), lifted or not."""

    restriction_id: str
    person_id: str = Field(description="The hub's id of the person")
    ground: str = Field(description="The s45(4) ground's name")
    ground_text: str = Field(description="The ground in words")
    recipients: list[str] = Field(description="Withhold only what went to these (empty: all)")
    event_types: list[str] = Field(description="Withhold only what was about these (empty: all)")
    reference: str | None = Field(description="A case reference, e.g. SAR-0117")
    placed_at: str = _timestamp("When it was placed")
    placed_by: str
    lifted_at: str | None = _timestamp("When it was lifted; null while in force")
    lifted_by: str | None


class InclusionProofModel(BaseModel):
    """RFC 9162 inclusion proof of one audit entry."""

    leaf_index: int
    position: int = Field(description="The entry's position in the log")
    entry: str = Field(description="The entry as hashed: its canonical JSON text")
    leaf_hash: str = Field(pattern=_HEX_HASH)
    tree_size: int
    root_hash: str = Field(pattern=_HEX_HASH)
    proof: list[str] = Field(description="Hex hashes, from the leaf up")
    checkpoint: str | None = Field(description="The signed note at `tree_size`, if one was signed")


class ConsistencyProofModel(BaseModel):
    """RFC 9162 consistency proof between two tree sizes."""

    old_size: int
    new_size: int
    old_root: str = Field(pattern=_HEX_HASH)
    new_root: str = Field(pattern=_HEX_HASH)
    proof: list[str] = Field(description="Hex hashes")
    old_checkpoint: str | None = Field(description="The signed note at `old_size`, if any")
    new_checkpoint: str | None = Field(description="The signed note at `new_size`, if any")
