"""No erasure without its audit entry.

Migration 0006 let `events.data` be emptied once an erasure is recorded in `event_erasures`; but
nothing tied that record to the audit log, so the hub's own role could insert an `event_erasures`
row and empty an event's data with no erasure entry anywhere (issue 13). From here the database
accepts an `event_erasures` row only when the log already holds, in the same transaction or
before, an erasure entry naming that event's position (`details.position`, written by
`hub.services.audit_records.erasure`): the only path that erases is the one that logs it first
(`hub.infra.retention`). An erasure entry an insider forges to get past this is itself in the
log, covered by the Merkle tree and checked against the row by `hub audit verify`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): not expand-only: a
#: new constraint (an erasure needs its audit entry) older code was not written against.
compatible_from: str = "0011"

#: An erasure entry for the event at NEW.position: found through the query index by the event's
#: id, then confirmed on the entry itself (the index is derived, the entry is the record).
_ENTRY_EXISTS = """
    EXISTS (
        SELECT 1 FROM events e
        JOIN audit_index i ON i.event_id = e.event_id AND i.kind = 'erasure'
        JOIN audit_entries a ON a.position = i.position
        WHERE e.position = NEW.position
          AND a.kind = 'erasure'
          AND {entry_position} = NEW.position
    )
"""
_MESSAGE = "an erasure of an event needs its erasure audit entry in the log first"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        exists = _ENTRY_EXISTS.format(
            entry_position="CAST(a.entry::jsonb -> 'details' ->> 'position' AS bigint)"
        )
        op.execute(
            f"""
            CREATE FUNCTION hub_erasure_needs_entry() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF {exists} THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{_MESSAGE} (event position %)', NEW.position
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER event_erasures_need_entry BEFORE INSERT ON event_erasures "
            "FOR EACH ROW EXECUTE FUNCTION hub_erasure_needs_entry()"
        )
    else:
        exists = _ENTRY_EXISTS.format(entry_position="json_extract(a.entry, '$.details.position')")
        op.execute(
            "CREATE TRIGGER event_erasures_need_entry BEFORE INSERT ON event_erasures "
            f"WHEN NOT {exists} BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER event_erasures_need_entry ON event_erasures"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER event_erasures_need_entry"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION hub_erasure_needs_entry()")
