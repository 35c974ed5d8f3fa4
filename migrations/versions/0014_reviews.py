"""Case-by-case review: proposed disclosures, reviewers' decisions and escalations.

`disclosure_proposals` holds each permitted decision under a rule with `review` (the disclosure
it would be, as JSON, and who may decide it); `review_decisions` one approval or decline per
proposal, with the reviewer's reason; `review_escalations` the proposals escalated undecided.
All three are append-only, for the hub's runtime role (hub/infra/grants.py) and, as `events` and
`persons` are, in the database itself (triggers; migration 0001's `hub_reject_change()`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only: new
#: tables older code never reads.
compatible_from: str = "0013"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disclosure_proposals",
        sa.Column("proposal_id", sa.Text, primary_key=True),
        sa.Column("disclosure_id", sa.Text, nullable=False),
        sa.Column("event_position", Position, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("rules", Json, nullable=False),
        sa.Column("reviewers", Json, nullable=False),
        sa.Column("disclosure", Json, nullable=False),
        sa.Column("proposed_at", Timestamp, nullable=False),
        sa.Column("escalate_at", Timestamp, nullable=True),
        sa.UniqueConstraint("disclosure_id", name="uq_disclosure_proposals_disclosure_id"),
    )
    op.create_index("ix_disclosure_proposals_escalate_at", "disclosure_proposals", ["escalate_at"])
    op.create_table(
        "proposal_reviewers",
        sa.Column("reviewer", sa.Text, primary_key=True),
        sa.Column("proposed_at", Timestamp, primary_key=True),
        sa.Column("proposal_id", sa.Text, primary_key=True),
    )
    op.create_table(
        "review_decisions",
        sa.Column("proposal_id", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("decided_at", Timestamp, nullable=False),
    )
    op.create_table(
        "review_escalations",
        sa.Column("proposal_id", sa.Text, primary_key=True),
        sa.Column("escalated_at", Timestamp, nullable=False),
    )
    for table in TABLES:
        _append_only(table)


#: The tables of this migration, each append-only.
TABLES = ("disclosure_proposals", "proposal_reviewers", "review_decisions", "review_escalations")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hub_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_reject_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: "
            f"{operation} is not allowed'); END"
        )


def downgrade() -> None:
    op.drop_table("review_escalations")
    op.drop_table("review_decisions")
    op.drop_table("proposal_reviewers")
    op.drop_index("ix_disclosure_proposals_escalate_at", "disclosure_proposals")
    op.drop_table("disclosure_proposals")
