"""Driver errors, translated where they are caught (CONVENTIONS 5): `StoreUnavailable` when the
database cannot be reached or take more work right now, `StoreError` for any other failure.

One definition for every repository, so that they all agree on what "unavailable" means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from hub.errors import HubError, StoreError, StoreUnavailable

#: PostgreSQL error classes that mean the database cannot be reached or take more work now:
#: connection exceptions, insufficient resources, operator intervention (shutdown, crash).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
#: SQLite errors that mean the same: another writer held the lock too long, or no file.
SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o error")


def is_unavailable(error: sa.exc.DBAPIError) -> bool:
    """Whether the error says the database is out of reach now (worth waiting and retrying)."""
    if error.connection_invalidated or isinstance(error, sa.exc.InterfaceError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES)
    message = str(error.orig).lower()
    return isinstance(error, sa.exc.OperationalError) and any(
        words in message for words in SQLITE_UNAVAILABLE
    )


@asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Driver errors raised inside leave as `StoreUnavailable` or `StoreError` naming `what`."""
    try:
        yield
    except HubError:
        raise
    except sa.exc.DBAPIError as error:
        if is_unavailable(error):
            raise StoreUnavailable(f"{what} is unavailable: {error.orig}") from error
        raise StoreError(f"{what} failed: {error.orig}") from error
    except (OSError, TimeoutError, sa.exc.TimeoutError, sa.exc.DisconnectionError) as error:
        raise StoreUnavailable(f"{what} is unavailable: {error}") from error
