"""The MAPPA dashboard's period reads (`hub/infra/latency_periods.py`, issue 19): an index on
`disclosures (recipient_id, decided_at)`, so that a period's statement reads each of the
region's recipients' disclosures decided in the period, not their whole history (the index on
`(recipient_id, trigger_position)` narrowed by recipient only, then filtered every row by time).

Expand-only: an index older code never names. Built in the migration's transaction (a plain
`CREATE INDEX`: writes to `disclosures` wait while it builds, 1.4 s at a million rows: see
bench/RESULTS.md), as every migration here runs in one transaction with its revision record.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only,
#: an index older code never names.
compatible_from: str = "0017"


def upgrade() -> None:
    op.create_index(
        "ix_disclosures_recipient_decided_at", "disclosures", ["recipient_id", "decided_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_disclosures_recipient_decided_at", "disclosures")
