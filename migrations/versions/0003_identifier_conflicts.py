"""Identifier-conflict review list: refused notifications whose identifiers belong to two people.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): baseline (built in
#: lockstep with its code); not declared expand-only.
compatible_from: str = "0003"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identifier_conflicts",
        sa.Column("review_id", sa.Text, primary_key=True),
        sa.Column("raised_at", Timestamp, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("publisher_client_id", sa.Text, nullable=False),
        sa.Column("publisher_agency", sa.Text, nullable=False),
        sa.Column("claims", Json, nullable=False),
        sa.Column("notification", Json, nullable=False),
        sa.Column("resolved_at", Timestamp, nullable=True),
        sa.Column("resolved_by", sa.Text, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("identifier_conflicts")
