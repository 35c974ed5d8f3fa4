"""Driver errors, translated where they are caught (CONVENTIONS 5): `StoreUnavailable` when the
database cannot be reached or take more work right now, `StoreError` for any other failure.

The one SQL error boundary: every repository translates through `translated` (or `translate`),
so that they all agree on what "unavailable" means. Unavailable is what waiting may cure; the
API answers it with 503 and `Retry-After`, and the worker loop (`hub.services.worker`) retries
it forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from hub.errors import HubError, StoreError, StoreUnavailable

__all__ = [
    "SQLITE_UNAVAILABLE",
    "UNAVAILABLE_SQLSTATES",
    "describe",
    "is_unavailable",
    "translate",
    "translated",
]

#: PostgreSQL SQLSTATEs (classes, or single codes) that mean the database cannot be reached or
#: take more work now: 08 connection exceptions; 53 insufficient resources (53100 disk full,
#: 53200 out of memory, 53300 too many connections); 57P operator intervention (57P01 admin
#: shutdown, 57P02 crash shutdown, 57P03 "the database system is starting up"); 58030 an I/O
#: error (a full or failing disk); 40001/40P01 a serialization failure or deadlock, which the
#: same work, tried again, gets past.
UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "58030", "40001", "40P01")
#: SQLite errors that mean the same: another writer held the lock too long, no file, a full or
#: failing disk.
SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open",
    "disk i/o error",
    "database or disk is full",
)
#: Errors below the driver that mean the same: the connection could not be made or was lost,
#: the pool had none to give in time.
_TRANSPORT_ERRORS = (OSError, TimeoutError, sa.exc.TimeoutError, sa.exc.DisconnectionError)


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the driver reported, if any (asyncpg: `sqlstate`; psycopg: `pgcode`), on
    the error, the driver's error it wraps, or the cause of either."""
    seen: list[BaseException] = []
    candidate: BaseException | None = error
    while candidate is not None and candidate not in seen and len(seen) < 4:
        seen.append(candidate)
        for attribute in ("sqlstate", "pgcode"):
            state = getattr(candidate, attribute, None)
            if isinstance(state, str) and state:
                return state
        orig = getattr(candidate, "orig", None)
        candidate = orig if isinstance(orig, BaseException) else candidate.__cause__
    return None


def is_unavailable(error: BaseException) -> bool:
    """Whether the error says the database is out of reach now (worth waiting and retrying)."""
    if isinstance(error, _TRANSPORT_ERRORS):
        return True
    if isinstance(error, sa.exc.DBAPIError) and (
        error.connection_invalidated or isinstance(error, sa.exc.InterfaceError)
    ):
        return True
    state = _sqlstate(error)
    if state is not None:
        return state.startswith(UNAVAILABLE_SQLSTATES)
    orig = getattr(error, "orig", None)
    if isinstance(orig, _TRANSPORT_ERRORS):
        return True  # a driver that gives no SQLSTATE for a lost or refused connection
    message = str(orig if orig is not None else error).lower()
    return any(words in message for words in SQLITE_UNAVAILABLE)


def describe(error: BaseException) -> str:
    """The driver's message, first line only (the detail lines can quote stored values)."""
    orig = getattr(error, "orig", None)
    text = f"{type(orig or error).__name__}: {orig or error}"
    return text.splitlines()[0] if text.strip() else type(error).__name__


def translate(error: BaseException, what: str) -> HubError:
    """`error` (raised by the driver while using `what`) as the hub's error."""
    if isinstance(error, HubError):
        return error
    if is_unavailable(error):
        return StoreUnavailable(f"{what} is unavailable: {describe(error)}")
    return StoreError(f"{what} failed: {describe(error)}")


#: What `translated` turns into the hub's errors: driver errors (SQLAlchemy's, and a driver's
#: own, such as asyncpg's at connect time) and the transport's.
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (sa.exc.SQLAlchemyError, *_TRANSPORT_ERRORS)


def _is_driver_error(error: BaseException) -> bool:
    if isinstance(error, _DRIVER_ERRORS):
        return True
    # asyncpg raises its own errors (not SQLAlchemy's) when a new connection is refused, say
    # "the database system is starting up": they carry a SQLSTATE.
    module = type(error).__module__
    return module.startswith(("asyncpg", "aiosqlite", "sqlite3")) or _sqlstate(error) is not None


@asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Driver errors raised inside leave as `StoreUnavailable` or `StoreError` naming `what`."""
    try:
        yield
    except HubError:
        raise
    except Exception as error:
        if not _is_driver_error(error):
            raise
        raise translate(error, what) from error
