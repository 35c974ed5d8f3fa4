"""The disclosure audit trail: its entries, the Merkle tree over them, and signed checkpoints.

`audit_entries` holds each entry's canonical JSON exactly as it is hashed, numbered by its own
sequence on PostgreSQL (followed without skipping, as `events` is) and AUTOINCREMENT on SQLite.
The sequencer gives each entry, in position order, a dense leaf index in `audit_leaves` and writes
every perfect subtree the leaf completes (levels 1 and up) to `audit_subtrees`; the checkpointer
signs the tree's root into `audit_checkpoints`. All four are append-only, enforced as for the event
store (0001): triggers reject UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) in both backends, and on
PostgreSQL those privileges are revoked from PUBLIC and from the owning role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): baseline (built in
#: lockstep with its code); not declared expand-only.
compatible_from: str = "0005"

Timestamp = sa.DateTime(timezone=True)
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # CACHE 1: the never-skip follower protocol needs the sequence's high-water mark to be
        # the highest position any session holds (`hub.infra.visibility.PostgresHorizon`).
        op.execute("CREATE SEQUENCE audit_entries_position_seq AS BIGINT START 1 CACHE 1")
        position = sa.Column(
            "position",
            sa.BigInteger,
            primary_key=True,
            server_default=sa.text("nextval('audit_entries_position_seq')"),
        )
    else:
        position = sa.Column("position", sa.Integer, primary_key=True, autoincrement=True)

    op.create_table(
        "audit_entries",
        position,
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sqlite_autoincrement=True,
    )
    if dialect == "postgresql":
        op.execute("ALTER SEQUENCE audit_entries_position_seq OWNED BY audit_entries.position")

    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", Position, primary_key=True, autoincrement=False),
        sa.Column("entry_position", Position, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("entry_position", name="uq_audit_leaves_entry_position"),
    )
    op.create_table(
        "audit_subtrees",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("index", Position, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", Position, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_at", Timestamp, nullable=False),
    )

    for table in ("audit_entries", "audit_leaves", "audit_subtrees", "audit_checkpoints"):
        make_append_only(table, dialect)


def make_append_only(table: str, dialect: str) -> None:
    """As 0001 to 0004 do: the database refuses UPDATE, DELETE (and TRUNCATE) on `table`."""
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
    raise NotImplementedError("the audit trail is kept forever: there is no downgrade")
