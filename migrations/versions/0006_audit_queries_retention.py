"""What data protection officers query the audit trail by, restrictions on subject access
reports, and erasure at the end of retention.

`audit_index` and `audit_index_rules` hold, for each audit entry, the columns DPO queries select on
(person, recipient, event, purpose, time, rules). They are written with the entry in the same
transaction and are append-only like it; they are derived (the entry's canonical JSON is the
record), so a verifier never trusts them.

`person_restrictions` records what a subject access report must withhold and on which ground;
restrictions are lifted, not deleted.

`event_erasures` records each event whose personal data was erased at the end of its retention.
The event store stays append-only except for exactly that: the database lets `events.data` be set
to `{}` — nothing else changed, and only once an erasure is recorded for the event — and refuses
every other UPDATE, DELETE and TRUNCATE as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): baseline
#: (built in lockstep with its code); not declared expand-only.
compatible_from: str = "0006"

Timestamp = sa.DateTime(timezone=True)
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

#: Every column of `events` but `data`, which an erasure may empty.
_EVENT_COLUMNS = (
    "position",
    "source",
    "event_id",
    "type",
    "version",
    "time",
    "subject",
    "specversion",
    "datacontenttype",
    "identifiers",
    "content_hash",
    "person_id",
    "stream_version",
    "publisher_client_id",
    "publisher_agency",
    "recorded_at",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "audit_index",
        sa.Column(
            "position",
            Position,
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=True),
        sa.Column("recipient_id", sa.Text, nullable=True),
        sa.Column("event_id", sa.Text, nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_index_person", "audit_index", ["person_id", "position"])
    op.create_index("ix_audit_index_recipient", "audit_index", ["recipient_id", "position"])
    op.create_index("ix_audit_index_occurred_at", "audit_index", ["occurred_at"])
    op.create_index("ix_audit_index_purpose", "audit_index", ["purpose", "position"])
    op.create_index("ix_audit_index_event", "audit_index", ["event_id"])
    op.create_table(
        "audit_index_rules",
        sa.Column("rule", sa.Text, primary_key=True),
        sa.Column(
            "position",
            Position,
            primary_key=True,
            autoincrement=False,
        ),
    )
    op.create_table(
        "person_restrictions",
        sa.Column("restriction_id", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("ground", sa.Text, nullable=False),
        #: {"recipients": [...], "event_types": [...]}: what to withhold; null: all of it.
        sa.Column("withhold", Json, nullable=True),
        sa.Column("reference", sa.Text, nullable=True),
        sa.Column("placed_at", Timestamp, nullable=False),
        sa.Column("placed_by", sa.Text, nullable=False),
        sa.Column("lifted_at", Timestamp, nullable=True),
        sa.Column("lifted_by", sa.Text, nullable=True),
    )
    op.create_index("ix_person_restrictions_person", "person_restrictions", ["person_id"])
    op.create_table(
        "event_erasures",
        sa.Column(
            "position",
            Position,
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("erased_at", Timestamp, nullable=False),
        sa.Column("erased_by", sa.Text, nullable=False),
        #: Why: `retention:<event type>` or, later, a person's erasure.
        sa.Column("reason", sa.Text, nullable=False),
        #: The names of the fields erased (never their values).
        sa.Column("fields", Json, nullable=False),
    )
    for table in ("audit_index", "audit_index_rules", "event_erasures"):
        _make_append_only(table, dialect)
    _allow_erasure(dialect)


def _make_append_only(table: str, dialect: str) -> None:
    """As 0001 to 0005 do: the database refuses UPDATE, DELETE (and TRUNCATE) on `table`."""
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


def _allow_erasure(dialect: str) -> None:
    """Replace the events UPDATE guard by one that lets exactly a recorded erasure through."""
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION hub_events_guard() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE'
                   AND NEW.data = '{}'::jsonb
                   AND OLD.data <> '{}'::jsonb
                   AND (to_jsonb(NEW) - 'data') = (to_jsonb(OLD) - 'data')
                   AND EXISTS (SELECT 1 FROM event_erasures e WHERE e.position = OLD.position)
                THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        op.execute("DROP TRIGGER events_append_only ON events")
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION hub_events_guard()"
        )
        # Only the one column, and only to the hub's own role (never PUBLIC).
        op.execute("GRANT UPDATE (data) ON events TO CURRENT_USER")
    else:
        unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _EVENT_COLUMNS)
        op.execute("DROP TRIGGER events_no_update")
        op.execute(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            f"WHEN NOT (json(NEW.data) = '{{}}' AND json(OLD.data) <> '{{}}' AND {unchanged} "
            "AND EXISTS (SELECT 1 FROM event_erasures e WHERE e.position = OLD.position)) "
            "BEGIN SELECT RAISE(ABORT, 'table events is append-only: UPDATE is not allowed'); END"
        )


def downgrade() -> None:
    raise NotImplementedError("the audit trail is kept forever: there is no downgrade")
