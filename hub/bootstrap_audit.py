"""The composition root's light half for `hub audit verify` (and its hourly CronJob): the
database, the audit log, its signing keys and the checkpoints published outside the database —
built without the policy bundle, the event schemas, Kafka, the webhook sender, field protection,
OpenTelemetry's SDK or the web stack, which `hub.bootstrap.running` loads and a verification
never uses (it reads the stored rows as they are, sealed fields still sealed:
`hub.domain.audit.evidence`)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import StoreUnavailable
from hub.infra import db
from hub.infra.audit import SqlAuditLog, load_audit_signer
from hub.infra.audit_evidence import SqlEvidence
from hub.infra.audit_verification_runs import SqlVerificationRuns
from hub.infra.checkpoint_dir import CheckpointDirectory
from hub.infra.schema_compatibility import schema_verdict
from hub.services.audit_evidence import EvidenceChecker
from hub.services.audit_ports import AuditSigner
from hub.services.audit_verification_runs import RecordedVerification
from hub.services.audit_verify import AuditVerifier
from hub.settings import Settings

__all__ = ["recorded_audit_verification", "verifying"]


def recorded_audit_verification(
    engine: AsyncEngine,
    audit_log: SqlAuditLog,
    signer: AuditSigner,
    checkpoints: CheckpointDirectory,
) -> RecordedVerification:
    """`hub audit verify`: the log against its checkpoints (every key it trusts, and the
    checkpoints published outside the database), then the rows against the log, recorded as a
    run of this process."""
    return RecordedVerification(
        AuditVerifier(audit_log, signer.trusted_keys, signer.origin, held=checkpoints),
        EvidenceChecker(SqlEvidence(engine)),
        SqlVerificationRuns(engine),
        ran_by=f"{socket.gethostname()}:{os.getpid()}",
    )


@asynccontextmanager
async def verifying(settings: Settings) -> AsyncIterator[RecordedVerification]:
    """The recorded verification on its own engine; disposed of on exit.

    As `hub.bootstrap.running` does: the embedded database (SQLite) is brought up to date when
    it is behind; a schema this code does not run on is refused."""
    engine = db.create_engine(settings)
    try:
        verdict = await schema_verdict(engine, settings)
        if settings.is_embedded and verdict.state == "behind":
            await db.migrate(settings)
        elif not verdict.runnable:
            raise StoreUnavailable(f"the database schema does not fit this code: {verdict.reason}")
        yield recorded_audit_verification(
            engine,
            SqlAuditLog(engine),
            load_audit_signer(settings),
            CheckpointDirectory(settings.resolved_audit_checkpoint_dir),
        )
    finally:
        await engine.dispose()
