"""The SQL behind `hub.services.erasure_reapply`: destroy again, in a restored database, the
data keys an erasure ledger names, with an erasure entry for each, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.protection import CRYPTO_SHRED_RULE
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.tables import identifier_conflicts, person_keys, persons
from hub.services.erasure_reapply import ReapplyReport, ShreddedKey


class SqlKeyShredder:
    """Destroys the named person and conflict keys still live (`hub.infra.protection` holds
    the erasure itself; this re-applies its record)."""

    def __init__(self, engine: AsyncEngine, audit: SqlAuditLog) -> None:
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._audit = audit

    async def destroy_again(
        self, keys: Sequence[ShreddedKey], *, actor: str, at: datetime
    ) -> ReapplyReport:
        at = at.astimezone(UTC)
        destroyed: list[ShreddedKey] = []
        already = absent = 0
        async with translated("the key store"), self._writer.begin() as connection:
            # The lock an append to these people takes (`PostgresEventStore._lock_people`), as
            # `SqlPersonKeys.erase` does: an append seals before the keys go, or after, anew.
            people = sorted({k.person_id for k in keys})
            if people:
                await connection.execute(
                    sa.select(persons.c.person_id)
                    .where(persons.c.person_id.in_(people))
                    .with_for_update()
                )
            for key in keys:
                state = await _destroy(connection, key, at)
                if state == "destroyed":
                    destroyed.append(key)
                elif state == "already":
                    already += 1
                else:
                    absent += 1
            await self._audit.append(connection, [_entry(k, actor=actor, at=at) for k in destroyed])
        return ReapplyReport(tuple(destroyed), already, absent)


async def _destroy(connection: AsyncConnection, key: ShreddedKey, at: datetime) -> str:
    """ "destroyed" (it was live), "already" (held destroyed) or "absent" (never held)."""
    if key.holder == "person":
        table, id_column, wrapped, stamp = (
            person_keys,
            person_keys.c.key_id,
            person_keys.c.wrapped_key,
            "destroyed_at",
        )
    else:
        table, id_column, wrapped, stamp = (
            identifier_conflicts,
            identifier_conflicts.c.review_id,
            identifier_conflicts.c.wrapped_key,
            "key_destroyed_at",
        )
    held = (
        await connection.execute(
            sa.select(wrapped.is_not(None)).where(id_column == key.key_id).with_for_update()
        )
    ).first()
    if held is None:
        return "absent"
    if not held[0]:
        return "already"
    await connection.execute(
        table.update().where(id_column == key.key_id).values({wrapped.name: None, stamp: at})
    )
    return "destroyed"


def _entry(key: ShreddedKey, *, actor: str, at: datetime) -> AuditEntry:
    """The erasure entry of a key destroyed again: as the original's, saying it re-applies it."""
    name = "key_id" if key.holder == "person" else "review_id"
    return AuditEntry(
        kind=AuditKind.ERASURE,
        occurred_at=at,
        actor=actor,
        agency="hub",
        person_id=key.person_id,
        fields=key.fields or ("data key",),
        rules=(CRYPTO_SHRED_RULE,),
        outcome="erased",
        details={
            name: key.key_id,
            "reason": f"re-applied after a restore: {key.reason}",
            "reapplies": {
                "erased_at": key.erased_at.isoformat(),
                "ledger_position": key.position,
            },
        },
    )
