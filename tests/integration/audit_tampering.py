"""What an attacker with the database owner's rights does to the audit log, for the tests of
what verification then finds."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.conftest import Database


async def change_an_entry(database: Database, position: int) -> None:
    """Lift the append-only protection and rewrite one entry's purpose (as the owner)."""
    async with database.owner.connect() as connection:
        if database.backend == "postgres":
            await connection.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER ALL"))
            await connection.execute(sa.text("GRANT UPDATE ON audit_entries TO CURRENT_USER"))
        else:
            await connection.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        entry = (
            await connection.execute(
                sa.text("SELECT entry FROM audit_entries WHERE position = :p"), {"p": position}
            )
        ).scalar_one()
        forged = re.sub(r'"purpose":"[^"]*"', '"purpose":"curiosity"', entry, count=1)
        assert forged != entry
        await connection.execute(
            sa.text("UPDATE audit_entries SET entry = :e WHERE position = :p"),
            {"e": forged, "p": position},
        )
        await connection.commit()
