"""The events the router workers of a Kafka consumer group have routed.

Scaled out, routing follows the events topic instead of the store, and the topic may hand an
event over twice (a crash before the offsets were committed, a rebalance) or after later ones.
`routed_events` records each routed position in the same transaction as its decisions; a worker
skips what is already there, and of two workers recording the same event the second conflicts on
the primary key and writes nothing. The person and stream version let a worker tell a gap in a
person's stream from the next event without reading the store.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only: a new
#: table older code never reads.
compatible_from: str = "0006"

Timestamp = sa.DateTime(timezone=True)
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "routed_events",
        sa.Column("position", Position, primary_key=True, autoincrement=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("stream_version", Position, nullable=False),
        sa.Column("routed_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routed_events")
