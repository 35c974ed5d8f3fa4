"""The disclosure audit trail: what each entry records (`entries`), the RFC 9162 Merkle tree
that makes the log tamper-evident (`merkle`), and the C2SP signed checkpoints that let anyone
holding the hub's public key check it (`checkpoint`)."""

from hub.domain.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    InvalidSignature,
    MalformedCheckpoint,
    UnknownKey,
    VerifierKey,
    load_or_create_signing_key,
    parse_signed_checkpoint,
    sign_checkpoint,
    verifier_key,
)
from hub.domain.audit.entries import AuditEntry, AuditEntryInvalid, AuditKind
from hub.domain.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_from_subtrees,
    first_divergence,
    inclusion_proof,
    inclusion_proof_from_subtrees,
    leaf_hash,
    node_hash,
    perfect_subtrees_completed_by,
    root_from_leaves,
    root_from_subtrees,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "AuditEntry",
    "AuditEntryInvalid",
    "AuditKind",
    "Checkpoint",
    "CheckpointError",
    "Frontier",
    "InvalidSignature",
    "MalformedCheckpoint",
    "UnknownKey",
    "VerifierKey",
    "consistency_proof",
    "consistency_proof_from_subtrees",
    "first_divergence",
    "inclusion_proof",
    "inclusion_proof_from_subtrees",
    "leaf_hash",
    "load_or_create_signing_key",
    "node_hash",
    "parse_signed_checkpoint",
    "perfect_subtrees_completed_by",
    "root_from_leaves",
    "root_from_subtrees",
    "sign_checkpoint",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
]
