"""Event store, subject index and agency clients.

The events table is append-only, enforced by the database: triggers reject UPDATE, DELETE (and,
on PostgreSQL, TRUNCATE) in both backends, and on PostgreSQL those privileges are revoked too,
from PUBLIC and from the owning role itself (only a superuser, who bypasses privileges, still
meets the trigger).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): the first schema:
#: no code before it.
compatible_from: str = "0001"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE SEQUENCE events_position_seq AS BIGINT START 1 CACHE 1")
        position = sa.Column(
            "position",
            sa.BigInteger,
            primary_key=True,
            server_default=sa.text("nextval('events_position_seq')"),
        )
    else:
        position = sa.Column("position", sa.Integer, primary_key=True, autoincrement=True)

    op.create_table(
        "events",
        position,
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("time", Timestamp, nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("specversion", sa.Text, nullable=False),
        sa.Column("datacontenttype", sa.Text, nullable=False),
        sa.Column("identifiers", Json, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("publisher_client_id", sa.Text, nullable=False),
        sa.Column("publisher_agency", sa.Text, nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_events_source_event_id"),
        sa.UniqueConstraint("person_id", "stream_version", name="uq_events_person_stream_version"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_event_id", "events", ["event_id"])
    if dialect == "postgresql":
        op.execute("ALTER SEQUENCE events_position_seq OWNED BY events.position")

    op.create_table(
        "persons",
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "person_identifiers",
        sa.Column("scheme", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("linked_at", Timestamp, nullable=False),
    )
    op.create_index("ix_person_identifiers_person_id", "person_identifiers", ["person_id"])

    op.create_table(
        "clients",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("disabled_at", Timestamp, nullable=True),
    )

    make_append_only("events", dialect)


def make_append_only(table: str, dialect: str) -> None:
    """Have the database itself refuse to change or remove a stored row of `table`."""
    if dialect == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION hub_reject_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
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
    raise NotImplementedError("the event store is kept forever: there is no downgrade")
