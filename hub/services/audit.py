"""The disclosure audit trail's services, re-exported from the modules that hold them.

Kept as a thin re-export so that code written against `hub.services.audit` (other branches of
issue 13 are being written against it in parallel) still imports; new code imports from the
module that holds the name: `hub.services.audit_ports` (ports and signer),
`hub.services.audit_sequencer` (sequencer, checkpointer), `hub.services.audit_trail` (proofs),
`hub.services.audit_verify` (verification, export), `hub.domain.audit.records` (stored records),
`hub.domain.audit.verification` and `hub.domain.audit.export_file` (reports, offline export
verification).
"""

from hub.domain.audit.export_file import EXPORT_FORMAT, verify_export
from hub.domain.audit.records import (
    Leaf,
    SequencedEntry,
    StoredCheckpoint,
    StoredEntry,
    TreeHead,
)
from hub.domain.audit.subtrees import SubtreeKey, frontier_keys
from hub.domain.audit.verification import VerificationFailure, VerificationReport
from hub.services.audit_ports import AuditLog, AuditSigner, AuditSnapshot, AuditTree
from hub.services.audit_sequencer import AuditCheckpointer, AuditSequencer
from hub.services.audit_trail import AuditTrail, ConsistencyProof, InclusionProof
from hub.services.audit_verify import AuditVerifier, ExportSummary

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
