"""The isolation level of the hub's PostgreSQL transactions: READ COMMITTED, set once when a
connection opens (`hub.infra.db`), which the event store's appends rely on instead of asking
for it on each transaction; a transaction that asks for another level (the audit's snapshot
reads) still gets it, and the pooled connection is back at READ COMMITTED after it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hub.infra.db import create_engine
from tests.conftest import Database

_LEVEL = sa.text("SELECT current_setting('transaction_isolation')")


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_transactions_are_read_committed_unless_they_ask_for_another_level(
    database: Database,
) -> None:
    engine = create_engine(database.settings, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            assert (await connection.execute(_LEVEL)).scalar_one() == "read committed"
            first = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as connection:
            asked = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with asked.begin():
                assert (await asked.execute(_LEVEL)).scalar_one() == "repeatable read"
        async with engine.begin() as connection:
            assert (await connection.execute(_LEVEL)).scalar_one() == "read committed"
            again = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        assert again == first  # the same pooled connection throughout
    finally:
        await engine.dispose()
