"""Running a parsed `hub` command: read the settings, run it, and turn what stops it into one
line on stderr and an exit status (`hub.cli.exits`) — never a traceback for a fault the
operator can fix (a setting, an unreachable database or broker). A bug still shows its
traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from hub.cli import exits, logs, settings_errors, unreachable
from hub.cli.common import Command
from hub.errors import BusUnavailable, HubError, StoreUnavailable
from hub.settings import DatabaseSettings, Settings


def run_command(args: argparse.Namespace) -> int:
    """Run `args.run` with the settings from the environment."""
    if not getattr(args, "needs_settings", True):
        # A command that documents the settings runs where they are wrong.
        documents: Callable[[argparse.Namespace, None], Coroutine[Any, Any, int]] = args.run
        return asyncio.run(documents(args, None))
    try:
        # `hub db upgrade|current|check` need only the database (a migration Job has no keys).
        loads = DatabaseSettings if getattr(args, "database_only", False) else Settings
        settings = loads()
    except (ValidationError, SettingsError) as error:
        _error("invalid settings (see `hub settings doc`):")
        for line in settings_errors.describe(error):
            print(f"  {line}", file=sys.stderr)
        return exits.USAGE
    logs.configure(settings)
    secrets = settings_errors.secret_values_of(settings)
    run: Command = args.run
    migration = bool(getattr(args, "migration_database", False))
    try:
        return asyncio.run(run(args, settings))
    except BusUnavailable as error:
        _error(settings_errors.redact(unreachable.broker_line(settings, error.message), secrets))
        return exits.UNAVAILABLE
    except StoreUnavailable as error:
        line = error.message
        if connection_failure(error) is not None:
            # Not "the schema is not at the latest migration", which reached the database.
            line = unreachable.database_line(settings, migration=migration, cause=line)
        _error(settings_errors.redact(line, secrets))
        return exits.UNAVAILABLE
    except HubError as error:
        _error(settings_errors.redact(error.message, secrets))
        return exits.for_error(error)
    except BrokenPipeError:
        raise  # the reader went away (`hub … | head`): `hub.cli.main` ends quietly
    except Exception as error:
        # A driver's own error at connect time (refused, no such host, bad password) reaches
        # here untranslated: told in one line; anything else is a bug, with its traceback.
        cause = connection_failure(error)
        if cause is None:
            raise
        line = unreachable.database_line(settings, migration=migration, cause=cause)
        _error(settings_errors.redact(line, secrets))
        return exits.UNAVAILABLE


#: SQLSTATE classes a server answers a connection with that it refuses or cannot serve: the
#: connection (08), the role or its password (28), the database name (3D), shutting down (57P).
_REFUSED_CONNECTION = ("08", "28", "3D", "57P")


def connection_failure(error: BaseException) -> str | None:
    """Why the database could not be reached, in one line, if `error` (or what it wraps) says
    so: a transport error, a refused connection, SQLite unable to open its file."""
    for candidate in _chain(error):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        refused = isinstance(state, str) and state.startswith(_REFUSED_CONNECTION)
        cannot_open = type(candidate).__module__.startswith("sqlite3") and (
            "unable to open" in str(candidate)
        )
        transport = isinstance(candidate, OSError | TimeoutError) and _raised_in_driver(candidate)
        if transport or refused or cannot_open:
            text = f"{type(candidate).__name__}: {candidate}".splitlines()[0]
            return text if str(candidate).strip() else type(candidate).__name__
    return None


#: The database drivers: a transport error (refused, reset, no such host) raised through them
#: is the database's; one raised elsewhere (writing an export, a closed pipe) is not.
_DRIVERS = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy")


def _raised_in_driver(error: BaseException) -> bool:
    if isinstance(error, BrokenPipeError):
        return False
    frame = error.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        frame = frame.tb_next
    return False


def _chain(error: BaseException) -> list[BaseException]:
    """`error`, the driver error it wraps (`orig`) and its causes, without repeats."""
    found: list[BaseException] = []
    pending: list[object] = [error]
    while pending and len(found) < 10:
        candidate = pending.pop(0)
        if not isinstance(candidate, BaseException) or candidate in found:
            continue
        found.append(candidate)
        pending += [getattr(candidate, "orig", None), candidate.__cause__, candidate.__context__]
    return found


def _error(line: str) -> None:
    print(f"error: {line}", file=sys.stderr)
