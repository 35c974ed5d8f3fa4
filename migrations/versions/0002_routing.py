"""Routing: person profiles, disclosure decisions and consumer checkpoints.

`disclosures` and `disclosure_denials` are the record of every sharing decision, so they are
append-only like `events`, enforced the same way as in 0001: triggers reject UPDATE, DELETE (and,
on PostgreSQL, TRUNCATE) in both backends, and on PostgreSQL those privileges are revoked from
PUBLIC and from the owning role. `person_profiles` is a projection (rebuilt by replay) and
`consumer_checkpoints` moves forward, so both may change.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): baseline (built in
#: lockstep with its code); not declared expand-only.
compatible_from: str = "0002"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

#: The columns that say which decision a disclosure or denial row is, in both tables.
_DECISION_KEYS = ("event_position", "recipient_id", "trigger_position")


def _decision_columns() -> list[sa.Column[object]]:
    """The columns disclosures and denials share: the event, the person, the recipient.

    No foreign key to `events`: PostgreSQL checks one with `SELECT … FOR KEY SHARE` on the
    referenced row, which needs the UPDATE privilege that 0001 revoked on `events`."""
    return [
        sa.Column("event_position", Position, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("recipient_id", sa.Text, nullable=False),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "person_profiles",
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("position", Position, nullable=False),
        sa.Column("profile", Json, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )

    op.create_table(
        "disclosures",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        *_decision_columns(),
        sa.Column("fields", Json, nullable=False),
        sa.Column("rules", Json, nullable=False),
        sa.Column("purposes", Json, nullable=False),
        sa.Column("legal_bases", Json, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("profile_position", Position, nullable=False),
        sa.Column("trigger_position", Position, nullable=False),
        sa.Column("acknowledge_within_seconds", sa.Integer, nullable=True),
        sa.Column("decided_at", Timestamp, nullable=False),
        sa.UniqueConstraint(*_DECISION_KEYS, name="uq_disclosures_event_recipient_trigger"),
    )
    op.create_index(
        "ix_disclosures_recipient_id", "disclosures", ["recipient_id", "trigger_position"]
    )
    op.create_index("ix_disclosures_person_id", "disclosures", ["person_id", "event_position"])

    op.create_table(
        "disclosure_denials",
        sa.Column("denial_id", sa.Text, primary_key=True),
        *_decision_columns(),
        sa.Column("rules", Json, nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("profile_position", Position, nullable=False),
        sa.Column("trigger_position", Position, nullable=False),
        sa.Column("decided_at", Timestamp, nullable=False),
        sa.UniqueConstraint(*_DECISION_KEYS, name="uq_disclosure_denials_event_recipient_trigger"),
    )
    op.create_index(
        "ix_disclosure_denials_recipient_id",
        "disclosure_denials",
        ["recipient_id", "trigger_position"],
    )
    op.create_index(
        "ix_disclosure_denials_person_id", "disclosure_denials", ["person_id", "event_position"]
    )

    op.create_table(
        "consumer_checkpoints",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("position", Position, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )

    make_append_only("disclosures", dialect)
    make_append_only("disclosure_denials", dialect)


def make_append_only(table: str, dialect: str) -> None:
    """Have the database itself refuse to change or remove a stored row of `table` (as 0001
    does for `events`; on PostgreSQL with the `hub_reject_change()` function 0001 created)."""
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
    raise NotImplementedError("disclosure decisions are kept forever: there is no downgrade")
