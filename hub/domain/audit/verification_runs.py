"""A recorded run of `hub audit verify`: when it ran, where, how much of the log it checked and
what it found. The console's audit status page shows the latest one instead of verifying the
log itself; a scheduled job (deploy/kubernetes's CronJob) keeps it fresh.

A run holds no personal data: counts, positions, sizes and a failure's check and message (the
tree's messages name positions and leaves only; the evidence check's is its table, key and
column, never the values it compared, which `hub audit verify` prints)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub.domain.audit.verification import VerificationReport

__all__ = ["EvidenceFinding", "RunResult", "VerificationRun", "run_of"]

RunResult = Literal["ok", "failed"]


@dataclass(frozen=True, slots=True)
class VerificationRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    result: RunResult
    #: Leaves recomputed and checked, and the position of the last entry checked.
    entries: int
    last_position: int | None
    #: Signed checkpoints checked, the size of the latest that verified, and the size of the
    #: checkpoint held outside the database that the log was checked against (None: none).
    checkpoints: int
    latest_checkpoint: int | None
    held_checkpoint: int | None
    #: Whether the stored rows (events, disclosures, …) were checked against the log too (only
    #: after the tree verified).
    evidence_checked: bool
    #: The first failure (result "failed"): the check that failed, where, and what it says.
    failed_check: str | None
    failed_position: int | None
    failed_leaf: int | None
    failed_tree_size: int | None
    failure_message: str | None
    #: Which process ran it: `host:pid`.
    ran_by: str

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def older_than(self, age: timedelta, now: datetime) -> bool:
        return now - self.finished_at > age


@dataclass(frozen=True, slots=True)
class EvidenceFinding:
    """The first stored row that disagreed with the log (from the evidence check), as a run
    records it: where, not the values compared."""

    table: str
    key: str
    column: str | None
    message: str
    entry_position: int | None


def run_of(
    run_id: str,
    started_at: datetime,
    finished_at: datetime,
    report: VerificationReport,
    *,
    evidence_checked: bool,
    evidence_failure: EvidenceFinding | None,
    ran_by: str,
) -> VerificationRun:
    """The record of a run whose tree verification gave `report`, then (when it verified) the
    evidence check found `evidence_failure` (None: nothing, or it did not run)."""
    check = message = None
    position = leaf = tree_size = None
    if report.failure is not None:
        failure = report.failure
        check, message = failure.check, failure.message
        position, leaf, tree_size = failure.position, failure.leaf_index, failure.tree_size
    elif evidence_failure is not None:
        where = f"{evidence_failure.table} {evidence_failure.key}"
        if evidence_failure.column is not None:
            where += f", column {evidence_failure.column}"
        check = f"evidence:{evidence_failure.table}"
        message = f"{where}: {evidence_failure.message}"
        position = evidence_failure.entry_position
    return VerificationRun(
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        result="ok" if check is None else "failed",
        entries=report.entries,
        last_position=report.last_position,
        checkpoints=report.checkpoints,
        latest_checkpoint=report.latest_checkpoint,
        held_checkpoint=report.held_checkpoint,
        evidence_checked=evidence_checked,
        failed_check=check,
        failed_position=position,
        failed_leaf=leaf,
        failed_tree_size=tree_size,
        failure_message=message,
        ran_by=ran_by,
    )
