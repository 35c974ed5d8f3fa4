"""Webhook jobs wake the delivery workers: a statement-level trigger on `deliveries` inserts
calls `pg_notify` on the channel `hub_deliveries`, with the table's schema as the payload (so
that a worker listening in one schema ignores another's jobs sharing the database). PostgreSQL
delivers the notification when the inserting transaction commits, and never if it rolls back:
a woken worker always finds the jobs committed. One notification per statement (and PostgreSQL
folds identical ones in a transaction), not one per job. SQLite has no notifications: there the
hub runs in one process and the routing store wakes the worker in memory.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only: a
#: notify trigger; older code polls and never listens.
compatible_from: str = "0013"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION hub_deliveries_queued() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_notify('hub_deliveries', TG_TABLE_SCHEMA); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER deliveries_queued AFTER INSERT ON deliveries "
        "FOR EACH STATEMENT EXECUTE FUNCTION hub_deliveries_queued()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER deliveries_queued ON deliveries")
    op.execute("DROP FUNCTION hub_deliveries_queued()")
