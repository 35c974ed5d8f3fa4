"""Traces (issue 17, docs/tracing.md): each event keeps the W3C `traceparent` of the span that
stored it, so that the router and the delivery worker, in whatever process and however much
later, continue the push's trace. Null when tracing is off and for every event stored before.

Expand-only: a nullable column older code neither reads nor writes (its rows read as stored
with tracing off).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only,
#: a nullable column older code never touches.
compatible_from: str = "0017"


def upgrade() -> None:
    op.add_column("events", sa.Column("trace_context", sa.Text, nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ drops a column itself): a batch copy of `events` would lose its
    # append-only triggers.
    op.drop_column("events", "trace_context")
