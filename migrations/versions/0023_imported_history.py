"""Bulk import for onboarding (issue 19, `hub import`): each event says whether it is an
agency's history, imported to build its people's profiles but never routed to anyone
(`history` true), or a notification to route like any other (false: every event before, and
every event pushed or imported with `--route`).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): its own. The
#: DDL is expand-only (a column with a server default), but the rows `hub import` writes change
#: what an event means: a router of older code would not know the flag and would disclose an
#: agency's whole imported history to everyone its rules name.
compatible_from: str = "0023"


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("history", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # In place (SQLite 3.35+ drops a column itself): a batch copy of `events` would lose its
    # append-only triggers.
    op.drop_column("events", "history")
