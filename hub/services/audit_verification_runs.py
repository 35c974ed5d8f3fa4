"""`hub audit verify` as a recorded run: verify the audit log against its signed checkpoints,
then (when the tree verified) check the stored rows against it, and record when it ran, where,
how much it checked and what it found, so that the console's audit status page shows the latest
run rather than verifying the log on the API's request path."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hub.domain.audit.held import HeldCheckpoint
from hub.domain.audit.verification import VerificationReport
from hub.domain.audit.verification_runs import EvidenceFinding, VerificationRun, run_of
from hub.services.audit_evidence import EvidenceChecker, EvidenceReport
from hub.services.audit_verify import AuditVerifier

__all__ = ["RecordedVerification", "VerificationOutcome", "VerificationRuns"]


class VerificationRuns(Protocol):
    """Where runs of the verification are kept (append-only)."""

    async def record(self, run: VerificationRun) -> None: ...

    async def latest(self) -> VerificationRun | None:
        """The run that started last (None: none has been recorded)."""
        ...


@dataclass(frozen=True, slots=True)
class VerificationOutcome:
    """What one run found (the reports, for the CLI to print in full) and what it recorded."""

    report: VerificationReport
    #: The check of the stored rows (None: the tree failed, so the rows were not checked).
    evidence: EvidenceReport | None
    run: VerificationRun


class RecordedVerification:
    """Runs the verification and records the run, whatever it found."""

    def __init__(
        self,
        verifier: AuditVerifier,
        evidence: EvidenceChecker,
        runs: VerificationRuns,
        *,
        ran_by: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`ran_by`: the process, as `host:pid`."""
        self._verifier = verifier
        self._evidence = evidence
        self._runs = runs
        self._ran_by = ran_by
        self._clock = clock

    async def run(self, held: HeldCheckpoint | None = None) -> VerificationOutcome:
        started_at = self._clock()
        # The rows are checked (on a connection of their own) while the tree is verified: each
        # pass waits on the database about half its time, and on 2 cores they overlap
        # (bench/RESULTS.md, 2026-12-07 session 15). What the rows check found counts only if
        # the tree verified: its entries are proved unchanged; else it is dropped, as is its
        # error.
        checking = asyncio.create_task(self._evidence.check())
        try:
            report = await self._verifier.verify(held)
        except BaseException:
            checking.cancel()
            await asyncio.wait([checking])  # its transaction closed, its error dropped
            raise
        if report.ok:
            evidence: EvidenceReport | None = await checking
        else:
            await _drop(checking)
            evidence = None
        finding = None
        if evidence is not None and evidence.failure is not None:
            mismatch = evidence.failure
            finding = EvidenceFinding(
                mismatch.table,
                mismatch.key,
                mismatch.column,
                mismatch.message,
                mismatch.entry_position,
            )
        run = run_of(
            f"vr_{uuid.uuid4().hex}",
            started_at,
            self._clock(),
            report,
            evidence_checked=evidence is not None,
            evidence_failure=finding,
            ran_by=self._ran_by,
        )
        await self._runs.record(run)
        return VerificationOutcome(report, evidence, run)


async def _drop(checking: asyncio.Task[EvidenceReport]) -> None:
    """Let the rows check end (its transaction closes with it) and drop what it found."""
    with contextlib.suppress(Exception):
        await checking
