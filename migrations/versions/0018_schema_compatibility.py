"""Rolling upgrades: each migration records the oldest code revision that still runs against
the schema it leaves (`compatible_from`, declared in the migration file; docs/migrations.md).

Code that is older than the database cannot read the newer migration files, so the declaration
is kept in the database: `migrations/env.py` writes the row of each revision as it is applied
(and removes it as it is undone). Readiness and `hub db check` read the row of the database's
revision: code at or after `compatible_from` keeps serving while a newer migration runs.

Expand-only: code at 0017 never reads the new table (it still insists on its own head, since
its readiness predates this rule; code from 0018 on is the first to accept a later schema).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md).
compatible_from: str = "0017"


def upgrade() -> None:
    op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.Text, primary_key=True),
        sa.Column("compatible_from", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schema_compatibility")
