"""Opening aiosqlite's connection so that a file it cannot open leaves no thread behind.

aiosqlite (0.22) runs each connection on its own thread. When the connection cannot be opened
(a missing folder, no permission), it asks that thread to stop and raises without waiting for
it; if the caller's event loop then closes (a CLI command that reports "cannot reach the
database" and ends), the thread answers a closed loop and prints a traceback to stderr. Here the
failed open waits, off the loop, for the thread to end before the error goes on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

#: How long a failed open waits for aiosqlite's thread (it has nothing left to do but stop).
_THREAD_END_SECONDS = 5.0


async def open_aiosqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """`aiosqlite.connect(*args, **kwargs)`, awaited; on failure its thread has ended."""
    connection = aiosqlite.connect(*args, **kwargs)
    thread = connection._thread  # private, but SQLAlchemy's own aiosqlite dialect sets it too
    thread.daemon = True  # as SQLAlchemy does: an unclosed connection never holds the process
    try:
        return await connection
    except BaseException:
        await asyncio.to_thread(thread.join, _THREAD_END_SECONDS)
        raise


def open_connections_with_thread_end(engine: AsyncEngine) -> None:
    """Make `engine` open its aiosqlite connections with `open_aiosqlite` (the URL's arguments
    are SQLAlchemy's, unchanged)."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return dialect.loaded_dbapi.connect(*cargs, async_creator_fn=open_aiosqlite, **cparams)
