"""Keyset pages read one ahead: the next page is asked for as soon as one is handed out, so
that the database finds it while the caller works through the one it has (`hub audit verify`
reads and hashes the whole log: bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["PagesAhead"]

Row = TypeVar("Row")


class PagesAhead(Generic[Row]):
    """The pages of `read(after, limit)` in order, from `after` on, each asked for (by
    `read_ahead`) while the caller works through the page before; `key(row)` is the `after` of
    the page that follows a row. A page shorter than `limit` is the last.

    The pages are read on the caller's connection, which runs one statement at a time: the
    caller awaits `settle()` before any other statement on it, and `close()` before leaving
    its transaction."""

    def __init__(
        self,
        read: Callable[[int, int], Coroutine[Any, Any, Sequence[Row]]],
        key: Callable[[Row], int],
        *,
        after: int,
        limit: int,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._read = read
        self._key = key
        self._after = after
        self._limit = limit
        self._ahead: asyncio.Task[Sequence[Row]] | None = None
        self._exhausted = False

    async def next(self) -> Sequence[Row]:
        """The next page (the one read ahead, if any); empty once the last page was handed
        out."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            page = await ahead
        elif self._exhausted:
            return []
        else:
            page = await self._read(self._after, self._limit)
        if len(page) < self._limit:
            self._exhausted = True
        else:
            self._after = self._key(page[-1])
        return page

    async def read_ahead(self) -> None:
        """Start reading the page after the one handed out last (if it was full), for the next
        `next`; the caller's statements for this page come first."""
        if self._ahead is not None or self._exhausted:
            return
        self._ahead = asyncio.create_task(self._read(self._after, self._limit))
        # Let it send its statement before the caller works on its page.
        await asyncio.sleep(0)

    async def settle(self) -> None:
        """Wait until the page being read ahead has arrived (it is kept for `next`)."""
        if self._ahead is not None:
            await asyncio.wait([self._ahead])

    async def close(self) -> None:
        """Wait for the page being read ahead and drop it (its error too: the caller is
        leaving, on its own error or with every page it wanted)."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            with contextlib.suppress(Exception):
                await ahead
