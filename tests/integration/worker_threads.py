"""Waiting for the worker threads of SQLite connections that failed to open."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def aiosqlite_workers_end() -> AsyncIterator[None]:
    """aiosqlite stops the worker thread of a connection that failed to open without awaiting it:
    let the threads started inside this block finish while the test's event loop still runs, or
    one answers into a closed loop and fails the next test's setup
    (PytestUnhandledThreadExceptionWarning)."""
    before = set(threading.enumerate())
    try:
        yield
    finally:
        for _ in range(500):
            started = [
                t
                for t in threading.enumerate()
                if t not in before and t.is_alive() and "_connection_worker_thread" in t.name
            ]
            if not started:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"aiosqlite worker threads still running: {started}")
