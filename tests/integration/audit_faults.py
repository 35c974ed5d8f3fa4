"""Make the audit write of one kind of change fail, to prove the change and its entry commit
together or not at all."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import Database


async def refuse_audit_entries_mentioning(database: Database, outcome: str) -> None:
    """A trigger that fails the audit write of one kind of change: it stands in for whatever
    can fail between a change and its entry (a full disk, a lost connection, a crash)."""
    async with database.owner.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                sa.text(
                    "CREATE FUNCTION refuse_audit_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.entry LIKE '%{outcome}%' THEN "
                    "RAISE EXCEPTION 'audit write failed (test)'; END IF; RETURN NEW; END $$"
                )
            )
            await connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse_audit_write BEFORE INSERT ON audit_entries "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_audit_write()"
                )
            )
        else:
            await connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse_audit_write BEFORE INSERT ON audit_entries "
                    f"WHEN NEW.entry LIKE '%{outcome}%' "
                    "BEGIN SELECT RAISE(ABORT, 'audit write failed (test)'); END"
                )
            )
