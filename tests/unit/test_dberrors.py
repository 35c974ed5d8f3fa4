"""The one SQL error boundary (`hub.infra.dberrors`): which driver errors mean "the database is
out of reach now" (503, retried by the workers) and which are failures of the statement.

The errors are the drivers' own exception classes, built as the drivers build them: asyncpg's
carry their SQLSTATE as a class attribute; SQLAlchemy wraps both drivers' errors."""

from __future__ import annotations

import sqlite3

import asyncpg.exceptions as pg
import pytest
import sqlalchemy as sa

from hub.errors import StoreError, StoreUnavailable
from hub.infra.dberrors import is_unavailable, translate, translated


def wrapped(orig: BaseException, cls: type[sa.exc.DBAPIError] = sa.exc.DBAPIError) -> BaseException:
    return cls("SELECT 1", {}, orig)  # as SQLAlchemy raises a driver's error


UNAVAILABLE = [
    pytest.param(pg.CannotConnectNowError("the database system is starting up"), id="starting-up"),
    pytest.param(pg.CannotConnectNowError("the database system is shutting down"), id="shutting"),
    pytest.param(pg.AdminShutdownError("terminating connection"), id="admin-shutdown"),
    pytest.param(pg.CrashShutdownError("crash"), id="crash-shutdown"),
    pytest.param(pg.DiskFullError("could not extend file: No space left"), id="disk-full-53100"),
    pytest.param(pg.TooManyConnectionsError("too many clients"), id="too-many-connections"),
    pytest.param(pg.SerializationError("could not serialize"), id="serialization"),
    pytest.param(pg.DeadlockDetectedError("deadlock"), id="deadlock"),
    pytest.param(ConnectionRefusedError(111, "Connect call failed"), id="refused"),
    pytest.param(sqlite3.OperationalError("database is locked"), id="sqlite-locked"),
    pytest.param(sqlite3.OperationalError("disk I/O error"), id="sqlite-disk-io"),
    pytest.param(sqlite3.OperationalError("database or disk is full"), id="sqlite-full"),
    pytest.param(sqlite3.OperationalError("unable to open database file"), id="sqlite-open"),
]
FAILED = [
    pytest.param(pg.UndefinedTableError('relation "events" does not exist'), id="no-table"),
    pytest.param(pg.UniqueViolationError("duplicate key"), id="unique"),
    pytest.param(pg.CharacterNotInRepertoireError("invalid byte sequence"), id="encoding"),
    pytest.param(sqlite3.OperationalError("no such table: events"), id="sqlite-no-table"),
    pytest.param(sqlite3.IntegrityError("UNIQUE constraint failed"), id="sqlite-unique"),
]


@pytest.mark.parametrize("orig", UNAVAILABLE)
def test_an_unreachable_or_overloaded_database_is_unavailable(orig: BaseException) -> None:
    for error in (orig, wrapped(orig), wrapped(orig, sa.exc.OperationalError)):
        assert is_unavailable(error), repr(error)
        assert isinstance(translate(error, "the event store"), StoreUnavailable)


@pytest.mark.parametrize("orig", FAILED)
def test_a_statement_the_database_refused_is_a_store_error(orig: BaseException) -> None:
    for error in (orig, wrapped(orig), wrapped(orig, sa.exc.OperationalError)):
        assert not is_unavailable(error), repr(error)
        translated_error = translate(error, "the event store")
        assert type(translated_error) is StoreError


@pytest.mark.asyncio
async def test_translated_turns_a_drivers_own_error_into_the_hubs() -> None:
    # asyncpg raises its own error, unwrapped, when a new connection is refused at start-up.
    with pytest.raises(StoreUnavailable, match="the client register is unavailable") as caught:
        async with translated("the client register"):
            raise pg.CannotConnectNowError("the database system is starting up")
    assert isinstance(caught.value.__cause__, pg.CannotConnectNowError)
    with pytest.raises(ValueError, match="not the database's"):
        async with translated("the client register"):
            raise ValueError("not the database's")


def test_the_message_keeps_only_the_first_line_of_the_drivers() -> None:
    orig = pg.UniqueViolationError("duplicate key value\nDETAIL: Key (sps_number)=(2000417)")
    message = translate(wrapped(orig), "the event store").message
    assert "duplicate key value" in message
    assert "2000417" not in message
