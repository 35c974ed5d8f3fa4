"""A SQLite file the hub cannot open leaves no aiosqlite thread behind it: the thread would
otherwise answer an event loop the CLI has already closed, printing a traceback under the
one-line "cannot reach the database" (`test_cli_behaviour`, seen failing 1 run in 40)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.infra.db import create_engine
from hub.settings import Settings


def _threads() -> set[threading.Thread]:
    """aiosqlite's connection threads alive (Python names a thread after its target)."""
    return {
        thread
        for thread in threading.enumerate()
        if thread.is_alive() and "_connection_worker_thread" in thread.name
    }


@pytest.mark.parametrize("attempt", range(5))
def test_a_file_that_cannot_be_opened_ends_its_thread_before_the_error_arrives(
    tmp_path: Path, attempt: int
) -> None:
    missing = tmp_path / "no-such-folder" / "hub.sqlite3"
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{missing}",
    )

    async def opens() -> set[threading.Thread]:
        engine = create_engine(settings)
        before = _threads()
        try:
            with pytest.raises(sa.exc.OperationalError, match="unable to open database file"):
                async with engine.connect():
                    pass
            return _threads() - before  # looked at before the loop runs anything else
        finally:
            await engine.dispose()

    assert asyncio.run(opens()) == set()
