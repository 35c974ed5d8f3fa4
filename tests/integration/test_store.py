"""The event store contract on each backend, and what only PostgreSQL has to prove: that its
followers never skip an event whose position was handed out before a later one committed, and
that its append-only triggers hold even for a role that has the privileges."""

from __future__ import annotations

import asyncio
import random
import re
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.infra.audit import SqlAuditLog
from hub.infra.store import PostgresEventStore, SqliteEventStore, create_event_store
from hub.infra.tables import events, person_identifiers, persons
from hub.services.ports import EventStore
from tests.conftest import Database
from tests.integration.store_contract import PR2, EventStoreContract, notification, sps


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
class TestSqliteEventStore(EventStoreContract):
    def create_store(self, database: Database) -> EventStore:
        store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
        assert isinstance(store, SqliteEventStore)
        return store

    def create_unreachable_store(self, database: Database) -> tuple[EventStore, AsyncEngine]:
        missing = Path(database.settings.data_dir) / "no-such-folder" / "hub.sqlite3"
        engine = create_async_engine(f"sqlite+aiosqlite:///{missing}")
        return SqliteEventStore(engine, audit=SqlAuditLog(engine)), engine

    refusal = re.compile("table events is append-only: (UPDATE|DELETE) is not allowed")


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
class TestPostgresEventStore(EventStoreContract):
    def create_store(self, database: Database) -> EventStore:
        store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
        assert isinstance(store, PostgresEventStore)
        return store

    def create_unreachable_store(self, database: Database) -> tuple[EventStore, AsyncEngine]:
        url = database.settings.resolved_database_url
        engine = create_async_engine(re.sub(r"@[^/]+/", "@127.0.0.1:9/", url))
        return PostgresEventStore(engine, audit=SqlAuditLog(engine)), engine

    #: The application role has no UPDATE, DELETE or TRUNCATE privilege on events, except
    #: UPDATE of `data` alone (for erasure at the end of retention, migration 0006), which the
    #: trigger refuses unless an erasure is recorded and the data is emptied.
    refusal = re.compile(
        "permission denied for table events|table events is append-only: UPDATE is not allowed"
    )

    async def concurrent_extra_writers(self, database: Database) -> list[int]:
        # Writers that hold their position open (sleeping inside the transaction after nextval)
        # while the store's writers commit later positions; some roll back and leave a gap.
        found = await asyncio.gather(*(slow_writer(database.engine, n) for n in range(2)))
        return [p for positions in found for p in positions]

    async def concurrent_observer(self, database: Database, writing_done: asyncio.Event) -> None:
        # A naive follower beside the real one, to show the race the protocol exists for.
        seen: list[int] = []
        async with database.engine.connect() as connection:
            while not writing_done.is_set():
                seen += await naive_read(connection, after=seen[-1] if seen else 0)
                await asyncio.sleep(0.002)
            seen += await naive_read(connection, after=seen[-1] if seen else 0)
            everything = await naive_read(connection, after=0)
        skipped = sorted(set(everything) - set(seen))
        print(
            f"\nnaive follower skipped {len(skipped)} of {len(everything)} events: {skipped[:10]}"
        )

    @pytest.mark.asyncio
    async def test_a_naive_follower_skips_a_late_commit_that_read_all_waits_for(
        self, store: EventStore, database: Database
    ) -> None:
        [early] = await store.append([notification(sps("early"))], publisher=PR2)
        assert [e.position for e in await store.read_all()] == [early.position]
        async with database.engine.connect() as slow:
            transaction = await slow.begin()
            held = await insert_raw_event(slow, f"p_{uuid4().hex}", 1)
            [late] = await store.append([notification(sps("late"))], publisher=PR2)
            assert late.position > held > early.position

            async with database.engine.connect() as naive:
                naive_seen = await naive_read(naive, after=early.position)
            assert naive_seen == [late.position]  # the naive follower moves its cursor past held

            reading = asyncio.create_task(store.read_all(after=early.position))
            await asyncio.sleep(0.3)
            assert not reading.done()  # read_all waits for the transaction holding `held`
            await transaction.commit()
        assert [e.position for e in await reading] == [held, late.position]
        async with database.engine.connect() as naive:
            assert await naive_read(naive, after=naive_seen[-1]) == []  # held is lost to it
        assert await store.last_position() == late.position

    @pytest.mark.asyncio
    async def test_a_writer_newer_than_every_finished_transaction_is_waited_for(
        self, store: EventStore, database: Database
    ) -> None:
        # A takes its xid before B; B gets the lower position; A commits. On a quiet server
        # the snapshot now reads `xid(B):xid(B):`, nothing listed in progress, though B still
        # holds its position: a follower trusting the snapshot's in-progress list would skip
        # it. (Not asserted: other sessions on the same server can move the snapshot's xmax.)
        async with database.engine.connect() as a, database.engine.connect() as b:
            a_transaction, b_transaction = await a.begin(), await b.begin()
            await a.execute(sa.text("SELECT pg_current_xact_id()"))
            held = await insert_raw_event(b, f"p_{uuid4().hex}", 1)
            committed = await insert_raw_event(a, f"p_{uuid4().hex}", 1)
            await a_transaction.commit()
            assert held < committed
            reading = asyncio.create_task(store.read_all())
            await asyncio.sleep(0.3)
            assert not reading.done()
            await b_transaction.commit()
        assert [e.position for e in await reading] == [held, committed]

    @pytest.mark.asyncio
    async def test_a_rolled_back_append_leaves_a_gap_that_read_all_passes(
        self, store: EventStore, database: Database
    ) -> None:
        async with database.engine.connect() as slow:
            transaction = await slow.begin()
            gap = await insert_raw_event(slow, f"p_{uuid4().hex}", 1)
            [after_gap] = await store.append([notification(sps("1"))], publisher=PR2)
            await transaction.rollback()
        started = time.monotonic()
        assert [e.position for e in await store.read_all()] == [after_gap.position]
        assert time.monotonic() - started < 1
        assert after_gap.position > gap

    @pytest.mark.asyncio
    async def test_read_all_returns_nothing_unsafe_when_a_writer_outlasts_the_wait(
        self, database: Database
    ) -> None:
        store = PostgresEventStore(
            database.engine, audit=SqlAuditLog(database.engine), visibility_timeout=0.2
        )
        [first] = await store.append([notification(sps("1"))], publisher=PR2)
        assert [e.position for e in await store.read_all()] == [first.position]
        async with database.engine.connect() as slow:
            transaction = await slow.begin()
            held = await insert_raw_event(slow, f"p_{uuid4().hex}", 1)
            [third] = await store.append([notification(sps("3"))], publisher=PR2)
            assert await store.read_all(after=first.position) == []
            assert [e.position for e in await store.read_all()] == [first.position]
            assert await store.last_position() == first.position
            await transaction.commit()
        assert [e.position for e in await store.read_all(after=first.position)] == [
            held,
            third.position,
        ]

    @pytest.mark.asyncio
    async def test_an_unrelated_long_transaction_does_not_stall_followers(
        self, store: EventStore, database: Database
    ) -> None:
        async with database.engine.connect() as other:
            transaction = await other.begin()
            await other.execute(
                sa.text(
                    "INSERT INTO clients (client_id, name, agency, scopes, secret_hash, "
                    "created_at) VALUES ('c1', 'n', 'sps', 'events:read', 'x', now())"
                )
            )
            [appended] = await store.append([notification(sps("1"))], publisher=PR2)
            started = time.monotonic()
            assert [e.position for e in await store.read_all()] == [appended.position]
            assert time.monotonic() - started < 1
            await transaction.rollback()

    @pytest.mark.asyncio
    async def test_the_trigger_refuses_changes_even_with_the_privileges(
        self, store: EventStore, database: Database
    ) -> None:
        # The owner grants itself the privileges the migration revoked, inside a transaction
        # that is rolled back: the triggers must still refuse, as they would a superuser. (The
        # hub's own role cannot even grant: tests/integration/test_database_roles.py.)
        await store.append([notification(sps("1"))], publisher=PR2)
        async with database.owner.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                sa.text("GRANT UPDATE, DELETE, TRUNCATE ON events TO CURRENT_USER")
            )
            for statement, operation in (
                ("UPDATE events SET data = '{}'", "UPDATE"),
                ("DELETE FROM events", "DELETE"),
                ("TRUNCATE events", "TRUNCATE"),
            ):
                savepoint = await connection.begin_nested()
                with pytest.raises(
                    sa.exc.IntegrityError,
                    match=f"table events is append-only: {operation} is not allowed",
                ):
                    await connection.execute(sa.text(statement))
                await savepoint.rollback()
            await transaction.rollback()
        with pytest.raises(sa.exc.DBAPIError, match=self.refusal):
            async with database.engine.begin() as connection:
                await connection.execute(sa.text("TRUNCATE events"))
        assert await store.count() == 1


async def naive_read(connection: AsyncConnection, after: int) -> list[int]:
    """What a follower that trusts `position > cursor` would read (autocommit: a fresh view)."""
    result = await connection.execute(
        sa.text("SELECT position FROM events WHERE position > :after ORDER BY position"),
        {"after": after},
    )
    positions = list(result.scalars())
    await connection.rollback()
    return positions


async def insert_raw_event(connection: AsyncConnection, person_id: str, version: int) -> int:
    """An append as the store's writers make it (xid first), in the caller's open transaction."""
    await connection.execute(sa.text("SELECT pg_current_xact_id()"))
    now = sa.func.now()
    if version == 1:
        await connection.execute(persons.insert().values(person_id=person_id, created_at=now))
        await connection.execute(
            person_identifiers.insert().values(
                scheme="sps_number", value=person_id, person_id=person_id, linked_at=now
            )
        )
    row: dict[str, Any] = {
        "source": "urn:pph:test:slow",
        "event_id": uuid4().hex,
        "type": "custody.transfer",
        "version": 1,
        "time": now,
        "subject": None,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "identifiers": [{"scheme": "sps_number", "value": person_id}],
        "data": {"slow": True},
        "content_hash": uuid4().hex,
        "person_id": person_id,
        "stream_version": version,
        "publisher_client_id": "slow",
        "publisher_agency": "test",
        "recorded_at": now,
    }
    result = await connection.execute(events.insert().values(row).returning(events.c.position))
    return int(result.scalar_one())


async def slow_writer(engine: AsyncEngine, number: int) -> list[int]:
    rng = random.Random(1000 + number)
    person_id = f"p_slow{number}_{uuid4().hex}"
    committed: list[int] = []
    for attempt in range(15):
        async with engine.connect() as connection:
            transaction = await connection.begin()
            position = await insert_raw_event(connection, person_id, len(committed) + 1)
            await asyncio.sleep(rng.uniform(0.01, 0.08))
            if committed and attempt % 5 == 4:
                await transaction.rollback()
            else:
                await transaction.commit()
                committed.append(position)
    return committed
