"""Delivery: each recipient's numbered feed, webhook subscriptions, the delivery outbox and its
attempts, acknowledgements, receipts and overdue escalations.

`recipient_feed` numbers each recipient's disclosures 1, 2, 3 … in the order they were decided
(written in the router's transaction, so a recipient can detect a gap); `deliveries` is the
transactional outbox of webhook jobs, also written in the router's transaction. Feed entries,
attempts, acknowledgements and receipts are append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): baseline (built in
#: lockstep with its code); not declared expand-only.
compatible_from: str = "0004"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "recipient_feed",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("seq", Position, primary_key=True),
        sa.Column("disclosure_id", sa.Text, nullable=False),
        sa.Column("added_at", Timestamp, nullable=False),
        sa.UniqueConstraint("disclosure_id", name="uq_recipient_feed_disclosure"),
    )
    op.create_table(
        "recipient_counters",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("last_seq", Position, nullable=False),
    )

    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.Text, primary_key=True),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_types", Json, nullable=True),
        sa.Column("format", sa.Text, nullable=False, server_default="json"),
        sa.Column("secrets", Json, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_subscriptions_recipient_id", "subscriptions", ["recipient_id"])

    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.Text, primary_key=True),
        sa.Column("disclosure_id", sa.Text, nullable=False),
        sa.Column("subscription_id", sa.Text, nullable=False),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("claimed_by", sa.Text, nullable=True),
        sa.Column("claimed_until", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("delivered_at", Timestamp, nullable=True),
        sa.UniqueConstraint("disclosure_id", "subscription_id", name="uq_deliveries_job"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient_id", "status"])

    op.create_table(
        "delivery_attempts",
        sa.Column("attempt_id", sa.Text, primary_key=True),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("attempted_at", Timestamp, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])

    op.create_table(
        "disclosure_receipts",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("first_delivered_at", Timestamp, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
    )
    op.create_table(
        "disclosure_acks",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("acknowledged_at", Timestamp, nullable=False),
    )
    op.create_table(
        "overdue_escalations",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("escalated_at", Timestamp, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
    )

    for table in (
        "recipient_feed",
        "delivery_attempts",
        "disclosure_receipts",
        "disclosure_acks",
        "overdue_escalations",
    ):
        make_append_only(table, dialect)


def make_append_only(table: str, dialect: str) -> None:
    """As 0001 and 0002 do: the database refuses UPDATE, DELETE (and TRUNCATE) on `table`."""
    if dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hub_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_reject_change()"
        )
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC")
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM CURRENT_USER")
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: "
                f"{operation} is not allowed'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("delivery records are kept: there is no downgrade")
