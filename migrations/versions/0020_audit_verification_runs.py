"""Recorded audit verification runs (issue 17): each run of `hub audit verify` (a scheduled job
in production) is kept with when it ran, which process ran it, how far into the log it checked
and the first failure it found, so that the console's audit status page shows the latest run
instead of verifying the whole log on the API's event loop for each view.

Append-only, as the audit log's own tables are (for the runtime role: hub/infra/grants.py; and in
the database itself: triggers on migration 0001's `hub_reject_change()`).

Expand-only: a new table older code never reads.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only, a
#: new table older code never touches.
compatible_from: str = "0017"

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
TABLE = "audit_verification_runs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("entries", Position, nullable=False),
        sa.Column("last_position", Position, nullable=True),
        sa.Column("checkpoints", Position, nullable=False),
        sa.Column("latest_checkpoint", Position, nullable=True),
        sa.Column("held_checkpoint", Position, nullable=True),
        sa.Column("evidence_checked", sa.Boolean, nullable=False),
        sa.Column("failed_check", sa.Text, nullable=True),
        sa.Column("failed_position", Position, nullable=True),
        sa.Column("failed_leaf", Position, nullable=True),
        sa.Column("failed_tree_size", Position, nullable=True),
        sa.Column("failure_message", sa.Text, nullable=True),
        sa.Column("ran_by", sa.Text, nullable=False),
        sa.CheckConstraint("result IN ('ok', 'failed')", name="ck_audit_verification_runs_result"),
    )
    op.create_index("ix_audit_verification_runs_started_at", TABLE, ["started_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION hub_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_reject_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'table {TABLE} is append-only: "
            f"{operation} is not allowed'); END"
        )


def downgrade() -> None:
    op.drop_index("ix_audit_verification_runs_started_at", TABLE)
    op.drop_table(TABLE)
