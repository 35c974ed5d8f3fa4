"""One SQL error boundary: every repository translates driver errors through
`hub.infra.dberrors`, so that they agree on what "unavailable" (503, retried) means.

A missing table is not an outage: waiting will not bring it back. The event store used to call
every SQLite `OperationalError` unavailable ("no such table" included) and the client register
let PostgreSQL's error escape untranslated (a 500 with the driver's text in the log); now each
says `StoreError`, naming itself. The outage side is `test_database_outage`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from hub import bootstrap
from hub.bootstrap import Container
from hub.errors import StoreError, StoreUnavailable
from tests.conftest import Database

READS: dict[str, tuple[str, Callable[[Container], Awaitable[Any]]]] = {
    "event store": ("events", lambda c: c.store.count()),
    "client register": ("clients", lambda c: c.clients.get("c_missing")),
    "routing store": ("consumer_checkpoints", lambda c: c.routing.checkpoint("router")),
    "delivery queue": ("deliveries", lambda c: c.delivery_queue.get("dl_missing")),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("repository", sorted(READS))
async def test_a_missing_table_is_a_store_error_not_an_outage(
    database: Database, repository: str
) -> None:
    table, read = READS[repository]
    async with bootstrap.running(database.settings) as container:
        # Only the owner can drop a table; the hub's own role cannot (test_database_roles.py).
        async with database.owner.begin() as connection:
            cascade = " CASCADE" if database.backend == "postgres" else ""
            if database.backend == "sqlite":
                await connection.execute(sa.text("PRAGMA foreign_keys=OFF"))
            await connection.execute(sa.text(f"DROP TABLE {table}{cascade}"))
        with pytest.raises(StoreError) as caught:
            await read(container)
        assert not isinstance(caught.value, StoreUnavailable), caught.value
        assert "failed" in caught.value.message
