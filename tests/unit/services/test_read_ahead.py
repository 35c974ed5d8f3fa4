"""`PagesAhead`: keyset pages in order, the next one read while the caller works on the one it
has, and nothing left running when the caller leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hub.services.read_ahead import PagesAhead

pytestmark = pytest.mark.asyncio


class Table:
    """Rows 1..n read as a database would page them (`after`, `limit`), one statement at a
    time: a second statement while one is running is an error, as on one connection."""

    def __init__(self, n: int, *, fail_after: int | None = None) -> None:
        self.rows = list(range(1, n + 1))
        self.reads: list[tuple[int, int]] = []
        self.running = False
        self.fail_after = fail_after

    async def read(self, after: int, limit: int) -> Sequence[int]:
        assert not self.running, "two statements at once on one connection"
        self.running = True
        try:
            self.reads.append((after, limit))
            await asyncio.sleep(0.001)
            if self.fail_after is not None and after >= self.fail_after:
                raise ConnectionError("the connection dropped")
            return [row for row in self.rows if row > after][:limit]
        finally:
            self.running = False

    async def other_statement(self) -> None:
        assert not self.running, "two statements at once on one connection"


def identity(row: int) -> int:
    return row


async def read_all(table: Table, pages: PagesAhead[int]) -> list[Sequence[int]]:
    found = []
    while page := await pages.next():
        await table.other_statement()  # the caller's own statement for this page comes first
        await pages.read_ahead()
        found.append(page)
        await pages.settle()
        await table.other_statement()
    return found


@pytest.mark.parametrize(("n", "limit"), [(0, 3), (1, 3), (3, 3), (7, 3), (9, 3), (5, 1)])
async def test_every_row_once_in_order_including_a_last_partial_or_empty_page(
    n: int, limit: int
) -> None:
    table = Table(n)
    pages = PagesAhead(table.read, identity, after=0, limit=limit)
    found = await read_all(table, pages)
    assert [row for page in found for row in page] == list(range(1, n + 1))
    assert all(len(page) == limit for page in found[:-1])
    # A full last page costs one more read (found empty); a partial one does not.
    assert len(table.reads) == len(found) + (1 if n % limit == 0 else 0)
    await pages.close()


async def test_the_next_page_is_read_while_the_caller_works() -> None:
    table = Table(6)
    pages = PagesAhead(table.read, identity, after=0, limit=2)
    assert await pages.next() == [1, 2]
    await pages.read_ahead()
    # The statement for the next page is already under way before the caller awaits it.
    assert table.reads == [(0, 2), (2, 2)]
    await pages.read_ahead()  # asked twice: still one read ahead
    assert table.reads == [(0, 2), (2, 2)]
    assert await pages.next() == [3, 4]
    await pages.close()


async def test_closing_waits_for_the_page_read_ahead_and_drops_its_error() -> None:
    table = Table(10, fail_after=2)
    pages = PagesAhead(table.read, identity, after=0, limit=2)
    assert await pages.next() == [1, 2]
    await pages.read_ahead()
    assert table.running
    await pages.close()
    assert not table.running
    assert table.reads == [(0, 2), (2, 2)]


async def test_an_error_reading_ahead_is_raised_by_the_next_page() -> None:
    table = Table(10, fail_after=2)
    pages = PagesAhead(table.read, identity, after=0, limit=2)
    await pages.next()
    await pages.read_ahead()
    await pages.settle()
    with pytest.raises(ConnectionError):
        await pages.next()


async def test_a_limit_below_one_is_refused() -> None:
    async def read(after: int, limit: int) -> Sequence[int]:
        return []

    with pytest.raises(ValueError, match="limit must be at least 1"):
        PagesAhead(read, identity, after=0, limit=0)
