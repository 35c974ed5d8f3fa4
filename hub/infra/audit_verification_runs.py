"""`hub.services.audit_verification_runs.VerificationRuns` on one SQLAlchemy engine: the table
`audit_verification_runs` (migration 0020), append-only."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.audit.verification_runs import VerificationRun
from hub.infra.dberrors import translated
from hub.infra.sqltools import utc
from hub.infra.tables import audit_verification_runs as runs

__all__ = ["SqlVerificationRuns"]


class SqlVerificationRuns:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def record(self, run: VerificationRun) -> None:
        async with translated("the audit verification runs"), self._writer.begin() as connection:
            await connection.execute(
                runs.insert().values(
                    run_id=run.run_id,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    result=run.result,
                    entries=run.entries,
                    last_position=run.last_position,
                    checkpoints=run.checkpoints,
                    latest_checkpoint=run.latest_checkpoint,
                    held_checkpoint=run.held_checkpoint,
                    evidence_checked=run.evidence_checked,
                    failed_check=run.failed_check,
                    failed_position=run.failed_position,
                    failed_leaf=run.failed_leaf,
                    failed_tree_size=run.failed_tree_size,
                    failure_message=run.failure_message,
                    ran_by=run.ran_by,
                )
            )

    async def latest(self) -> VerificationRun | None:
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(1)
        async with translated("the audit verification runs"), self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None:
            return None
        return VerificationRun(
            run_id=row["run_id"],
            started_at=utc(row["started_at"]),
            finished_at=utc(row["finished_at"]),
            result="ok" if row["result"] == "ok" else "failed",
            entries=row["entries"],
            last_position=row["last_position"],
            checkpoints=row["checkpoints"],
            latest_checkpoint=row["latest_checkpoint"],
            held_checkpoint=row["held_checkpoint"],
            evidence_checked=bool(row["evidence_checked"]),
            failed_check=row["failed_check"],
            failed_position=row["failed_position"],
            failed_leaf=row["failed_leaf"],
            failed_tree_size=row["failed_tree_size"],
            failure_message=row["failure_message"],
            ran_by=row["ran_by"],
        )
