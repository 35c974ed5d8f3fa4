"""The hub's PostgreSQL connections as the server sees them (`pg_stat_ssl`): no TLS to the
loopback database by default (it would only cost CPU on every round trip), TLS when the setting
asks for it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hub.infra.db import create_engine
from tests.conftest import Database

_USES_TLS = sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")


async def uses_tls(database: Database, sslmode: str | None) -> bool:
    settings = database.settings.model_copy(update={"database_sslmode": sslmode})
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return bool((await connection.execute(_USES_TLS)).scalar_one())
    finally:
        await engine.dispose()


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_the_loopback_database_is_reached_without_tls(database: Database) -> None:
    assert await uses_tls(database, None) is False


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_tls_when_the_setting_asks_for_it(database: Database) -> None:
    assert await uses_tls(database, "require") is True
