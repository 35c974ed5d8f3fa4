"""Least privilege on PostgreSQL: the hub runs as a role that owns nothing (`hub.infra.grants`).

An insider who holds the hub's own database credentials tries each move that the owner of the
tables could make (issue 13): switch off the append-only triggers, give itself UPDATE, change,
delete, truncate, drop or take over the tables, replace a trigger function, move a position
counter back, become the owner. Each is refused with a permission error, and nothing changes.
The migrations (run as the owner) grant the runtime role its list, and refuse to leave a table
without a decision or to grant to a role that could take the owner's rights back. Migration 0012
makes `persons` append-only on both backends: the one column the runtime role may update there
is for row locks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.infra import db
from hub.infra.audit import SqlAuditLog
from hub.infra.grants import GRANTS, DatabaseRolesUnsafe, parse_privileges
from hub.infra.store import create_event_store
from tests.conftest import POSTGRES_RUNTIME_ROLE, Database
from tests.integration.store_contract import PR2, notification, sps

pytestmark = pytest.mark.asyncio
#: Roles are PostgreSQL's: SQLite has none (whoever can write its file can do anything).
postgres_only = pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

#: The SQLSTATE of every refusal below: insufficient_privilege.
INSUFFICIENT_PRIVILEGE = "42501"
ME = POSTGRES_RUNTIME_ROLE

#: What an insider with the hub's credentials would try first: each must be refused outright.
INSIDER_MOVES = {
    "disable the events triggers": "ALTER TABLE events DISABLE TRIGGER ALL",
    "disable the audit triggers": "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
    "drop the append-only trigger": "DROP TRIGGER events_append_only ON events",
    "drop the audit trigger": "DROP TRIGGER audit_entries_append_only ON audit_entries",
    "replace the guard function": (
        "CREATE OR REPLACE FUNCTION hub_events_guard() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$"
    ),
    "change an event's type": "UPDATE events SET type = 'forged'",
    "delete an event": "DELETE FROM events",
    "truncate the events": "TRUNCATE events",
    "truncate the audit log": "TRUNCATE audit_entries",
    "change an audit entry": "UPDATE audit_entries SET entry = 'forged'",
    "delete an audit entry": "DELETE FROM audit_entries",
    "change the audit index": "UPDATE audit_index SET person_id = 'p_other'",
    "redirect a disclosure": "UPDATE disclosures SET recipient_id = 'elsewhere'",
    "remove a checkpoint": "DELETE FROM audit_checkpoints",
    "take the events table": f"ALTER TABLE events OWNER TO {ME}",
    "alter the events table": "ALTER TABLE events ADD COLUMN note text",
    "drop the events table": "DROP TABLE events",
    "move the position counter back": "SELECT setval('events_position_seq', 1)",
    "create a table": "CREATE TABLE shadow (x int)",
    "become the owner": "SET ROLE hub_owner",
    "skip every trigger": "SET session_replication_role = replica",
}


async def _one_event_and_entry(database: Database) -> None:
    audit = SqlAuditLog(database.engine)
    store = create_event_store(database.engine, audit=audit)
    await store.append([notification(sps("1"))], publisher=PR2)
    await audit.record(
        [
            AuditEntry(
                kind=AuditKind.CONSULTATION,
                occurred_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
                actor="client-cjsw-glasgow",
                agency="cjsw.glasgow",
                person_id="p_0001",
                purpose="supervision of a licence",
                outcome="read",
            )
        ]
    )


async def _snapshot(connection: AsyncConnection) -> tuple[object, ...]:
    events = (await connection.execute(sa.text("SELECT * FROM events ORDER BY 1"))).all()
    entries = (await connection.execute(sa.text("SELECT * FROM audit_entries ORDER BY 1"))).all()
    triggers = (
        await connection.execute(
            sa.text(
                "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid IN ('events'::regclass, 'audit_entries'::regclass) ORDER BY 1"
            )
        )
    ).all()
    return tuple(events), tuple(entries), tuple(triggers)


@postgres_only
async def test_the_hub_connects_as_the_runtime_role_which_owns_nothing(
    database: Database,
) -> None:
    async with database.engine.connect() as connection:
        user = (await connection.execute(sa.text("SELECT current_user"))).scalar_one()
        owned = (
            await connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                    "AND pg_has_role(current_user, c.relowner, 'MEMBER')"
                )
            )
        ).scalar_one()
    assert user == ME
    assert owned == 0
    assert not await db.runs_as_owner(database.engine)
    assert await db.runs_as_owner(database.owner)


@postgres_only
@pytest.mark.parametrize("move", sorted(INSIDER_MOVES))
async def test_an_insider_with_the_hubs_credentials_is_refused(
    database: Database, move: str
) -> None:
    await _one_event_and_entry(database)
    async with database.owner.connect() as connection:
        before = await _snapshot(connection)

    with pytest.raises(sa.exc.DBAPIError) as refused:
        async with database.engine.begin() as connection:
            await connection.execute(sa.text(INSIDER_MOVES[move]))

    assert getattr(refused.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, refused.value
    async with database.owner.connect() as connection:
        assert await _snapshot(connection) == before


@postgres_only
async def test_granting_itself_update_grants_nothing_and_the_update_is_still_refused(
    database: Database,
) -> None:
    # A GRANT without the grant option only warns ("no privileges were granted"): the proof is
    # that the role holds no more privileges afterwards and the change is still refused.
    await _one_event_and_entry(database)
    async with database.engine.connect() as connection:
        for table in ("events", "audit_entries", "disclosures"):
            await connection.execute(sa.text(f"GRANT ALL ON {table} TO {ME}"))
            await connection.execute(sa.text(f"GRANT UPDATE, DELETE ON {table} TO {ME}"))
            held = await connection.execute(
                sa.text(
                    "SELECT has_table_privilege(current_user, :table, 'UPDATE'), "
                    "has_table_privilege(current_user, :table, 'DELETE'), "
                    "has_table_privilege(current_user, :table, 'TRUNCATE')"
                ),
                {"table": table},
            )
            assert held.one() == (False, False, False), table
        await connection.commit()
    for statement in ("DELETE FROM events", "UPDATE audit_entries SET entry = 'forged'"):
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            async with database.engine.begin() as connection:
                await connection.execute(sa.text(statement))


@postgres_only
async def test_the_one_column_the_hub_may_update_is_still_guarded_by_the_trigger(
    database: Database,
) -> None:
    # UPDATE (data) on events is granted for erasure; the trigger, which the role cannot
    # disable, lets through only an emptied `data` of a recorded erasure.
    await _one_event_and_entry(database)
    with pytest.raises(sa.exc.IntegrityError, match="table events is append-only"):
        async with database.engine.begin() as connection:
            await connection.execute(sa.text("UPDATE events SET data = '{\"forged\": 1}'::jsonb"))


@postgres_only
async def test_every_table_gets_exactly_its_listed_privileges(database: Database) -> None:
    async with database.owner.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :role AND table_schema = current_schema()"
            ),
            {"role": ME},
        )
        held: dict[str, set[str]] = {}
        for table, privilege in rows:
            held.setdefault(table, set()).add(privilege)
        columns = await connection.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.column_privileges "
                "WHERE grantee = :role AND table_schema = current_schema() "
                "AND privilege_type = 'UPDATE'"
            ),
            {"role": ME},
        )
        column_updates: dict[str, set[str]] = {}
        for table, column in columns:
            column_updates.setdefault(table, set()).add(column)
    for table, listed in GRANTS.items():
        privileges = parse_privileges(listed)
        whole_table = {p for p, columns in privileges.items() if columns is None}
        assert held.get(table, set()) == whole_table, table
        # (A whole-table UPDATE shows on every column too; only column grants are compared.)
        update = privileges.get("UPDATE", frozenset())
        if update is not None:
            assert column_updates.get(table, set()) == set(update), table
    assert set(held) == set(GRANTS)


@postgres_only
async def test_the_runtime_role_alone_cannot_migrate_and_is_told_what_to_do(
    database: Database,
) -> None:
    # A schema of the owner's, the runtime role allowed to use it (as the hub's schema is), and
    # `hub db upgrade` given only the hub's own URL.
    schema = f"{database.settings.database_schema}_fresh"
    async with database.owner.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await connection.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO {ME}'))
    runtime_only = database.settings.model_copy(
        update={"database_migration_url": None, "database_schema": schema}
    )
    try:
        with pytest.raises(DatabaseRolesUnsafe, match="MIGRATION_URL naming the owner"):
            await db.migrate(runtime_only)
    finally:
        async with database.owner.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@postgres_only
async def test_an_upgrade_refuses_a_table_with_no_grant_decided(database: Database) -> None:
    async with database.owner.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE undecided (x int)"))
    with pytest.raises(DatabaseRolesUnsafe, match=r"undecided.*hub/infra/grants\.py"):
        await db.migrate(database.settings)


@postgres_only
@pytest.mark.parametrize(
    ("role", "reason"),
    [
        ("hub_owner", "is the role running the migrations"),
        ("no_such_role_here", "does not exist"),
        ("postgres", "is a superuser"),
    ],
)
async def test_an_upgrade_refuses_a_runtime_role_that_could_take_the_owners_rights(
    database: Database, role: str, reason: str
) -> None:
    settings = database.settings.model_copy(update={"database_runtime_role": role})
    with pytest.raises(DatabaseRolesUnsafe, match=reason):
        await db.migrate(settings)


async def test_a_person_row_is_never_changed_or_removed_but_can_be_locked(
    database: Database,
) -> None:
    # Migration 0012: the UPDATE (created_at) the runtime role holds is good for the lock an
    # append takes on its people (`SELECT … FOR UPDATE`), and for nothing else; on both backends.
    await _one_event_and_entry(database)
    for statement in ("UPDATE persons SET created_at = created_at", "DELETE FROM persons"):
        with pytest.raises(sa.exc.DBAPIError, match=r"persons is append-only|permission denied"):
            async with database.engine.begin() as connection:
                await connection.execute(sa.text(statement))
    async with database.owner.begin() as connection:
        with pytest.raises(sa.exc.DBAPIError, match="table persons is append-only"):
            await connection.execute(sa.text("UPDATE persons SET created_at = created_at"))
    if database.backend == "postgres":
        async with database.engine.begin() as connection:
            locked = await connection.execute(sa.text("SELECT person_id FROM persons FOR UPDATE"))
            assert len(locked.all()) == 1
