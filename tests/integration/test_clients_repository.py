"""Registered clients on both backends: `SqlClientRepository` and `register_client`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.secrets import hash_secret, verify_secret
from hub.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from hub.infra.audit import SqlAuditLog
from hub.infra.clients import SqlClientRepository
from hub.infra.db import create_engine
from hub.infra.tables import clients as clients_table
from hub.services.clients import RegisteredClient, register_client
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.worker_threads import aiosqlite_workers_end

CREATED = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)


def repository(engine: AsyncEngine) -> SqlClientRepository:
    return SqlClientRepository(engine, SqlAuditLog(engine))


def a_client(client_id: str = "cl_test1", **changes: object) -> RegisteredClient:
    client = RegisteredClient(
        client_id=client_id,
        name="PR2 at HMP Edinburgh",
        agency="sps",
        scopes=frozenset({"events:publish", "events:read"}),
        secret_hash="$scrypt$ln=14,r=8,p=1$c2FsdA$ZGlnZXN0",
        created_at=CREATED,
    )
    return replace(client, **changes)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_client_reads_back_as_it_was_stored(database: Database) -> None:
    repo = repository(database.engine)
    await repo.add(a_client())
    stored = await repo.get("cl_test1")
    assert stored == a_client()
    assert stored is not None
    assert stored.created_at.tzinfo is not None


@pytest.mark.asyncio
async def test_times_are_kept_as_instants_whatever_their_offset(database: Database) -> None:
    repo = repository(database.engine)
    edinburgh_summer = CREATED.astimezone(timezone(timedelta(hours=1)))
    await repo.add(a_client(created_at=edinburgh_summer))
    stored = await repo.get("cl_test1")
    assert stored is not None
    assert stored.created_at == CREATED
    assert stored.created_at.utcoffset() == timedelta(0)


@pytest.mark.asyncio
async def test_an_unknown_client_is_none(database: Database) -> None:
    assert await repository(database.engine).get("cl_nobody") is None


@pytest.mark.asyncio
async def test_a_client_id_is_used_once(database: Database) -> None:
    repo = repository(database.engine)
    await repo.add(a_client())
    with pytest.raises(Conflict, match="cl_test1"):
        await repo.add(a_client(name="another system"))
    stored = await repo.get("cl_test1")
    assert stored is not None
    assert stored.name == "PR2 at HMP Edinburgh"


@pytest.mark.asyncio
async def test_scopes_are_stored_space_separated(database: Database) -> None:
    await repository(database.engine).add(a_client())
    async with database.engine.connect() as connection:
        scopes = await connection.scalar(sa.select(clients_table.c.scopes))
    assert scopes == "events:publish events:read"


@pytest.mark.asyncio
async def test_clients_are_listed_oldest_first(database: Database) -> None:
    repo = repository(database.engine)
    assert await repo.list_all() == []
    await repo.add(a_client("cl_b", created_at=CREATED + timedelta(seconds=1)))
    await repo.add(a_client("cl_c", created_at=CREATED))
    await repo.add(a_client("cl_a", created_at=CREATED + timedelta(seconds=1)))
    assert [c.client_id for c in await repo.list_all()] == ["cl_c", "cl_a", "cl_b"]


@pytest.mark.asyncio
async def test_disabling_a_client_is_recorded_once(database: Database) -> None:
    repo = repository(database.engine)
    await repo.add(a_client())
    when = CREATED + timedelta(days=3)
    disabled = await repo.disable("cl_test1", at=when)
    assert disabled.disabled_at == when
    assert not disabled.is_enabled
    again = await repo.disable("cl_test1", at=when + timedelta(days=1))
    assert again.disabled_at == when
    assert await repo.get("cl_test1") == disabled


@pytest.mark.asyncio
async def test_disabling_defaults_to_now(database: Database) -> None:
    repo = repository(database.engine)
    await repo.add(a_client())
    before = datetime.now(UTC)
    disabled = await repo.disable("cl_test1")
    assert disabled.disabled_at is not None
    assert before <= disabled.disabled_at <= datetime.now(UTC)


@pytest.mark.asyncio
async def test_disabling_an_unknown_client_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="cl_nobody"):
        await repository(database.engine).disable("cl_nobody")


@pytest.mark.asyncio
async def test_registering_stores_only_a_hash_of_the_secret(database: Database) -> None:
    repo = repository(database.engine)
    client, secret = await register_client(
        repo,
        name="  ViSOR gateway ",
        agency="police-scotland",
        scopes=["events:read", "feed:read"],
        hash_secret=hash_secret,
    )
    assert client.client_id.startswith("cl_")
    assert len(client.client_id) >= 16
    assert len(secret) >= 43
    assert client.name == "ViSOR gateway"
    assert client.scopes == {"events:read", "feed:read"}
    assert client.is_enabled
    assert await repo.get(client.client_id) == client
    async with database.engine.connect() as connection:
        row = (await connection.execute(sa.select(clients_table))).mappings().one()
    assert secret not in str(dict(row))
    assert verify_secret(secret, row["secret_hash"])
    assert secret not in repr(client)


@pytest.mark.asyncio
async def test_each_registration_gets_its_own_id_and_secret(database: Database) -> None:
    repo = repository(database.engine)
    first = await register_client(
        repo, name="a", agency="sps", scopes="events:read", hash_secret=hash_secret
    )
    second = await register_client(
        repo, name="a", agency="sps", scopes="events:read", hash_secret=hash_secret
    )
    assert first[0].client_id != second[0].client_id
    assert first[1] != second[1]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "agency", "scopes", "message"),
    [
        ("", "sps", ["events:read"], "name must not be empty"),
        ("PR2", "   ", ["events:read"], "agency must not be empty"),
        ("PR2", "sps", ["events:read", "events:delete"], "unknown scope 'events:delete'"),
        ("PR2", "sps", "events:read superuser", "unknown scope 'superuser'"),
        ("PR2", "sps", [], "at least one scope"),
        ("PR2\n", "sps\x00", ["events:read"], "control characters"),
        ("x" * 201, "sps", ["events:read"], "at most 200"),
    ],
)
async def test_registration_refuses_bad_input_and_stores_nothing(
    database: Database, name: str, agency: str, scopes: list[str] | str, message: str
) -> None:
    repo = repository(database.engine)
    with pytest.raises(InvalidInput, match=message):
        await register_client(
            repo, name=name, agency=agency, scopes=scopes, hash_secret=hash_secret
        )
    assert await repo.list_all() == []


@pytest.mark.asyncio
async def test_an_unreachable_database_is_store_unavailable(
    database: Database, tmp_path: Path
) -> None:
    if database.backend == "sqlite":
        unreachable = Settings(environment="test", data_dir=tmp_path / "absent")
        engine = create_engine(unreachable)
        (tmp_path / "absent").rmdir()  # create_engine made the folder; without it SQLite fails
    else:
        real = sa.engine.make_url(database.settings.resolved_database_url)
        url = real.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
        engine = create_engine(Settings(environment="test", database_url=url))
    repo = repository(engine)
    async with aiosqlite_workers_end():
        try:
            with pytest.raises(StoreUnavailable) as caught:
                await repo.get("cl_test1")
            assert caught.value.__cause__ is not None
            with pytest.raises(StoreUnavailable):
                await repo.add(a_client())
        finally:
            await engine.dispose()
