"""How many appends a second the PostgreSQL event store takes from concurrent writers, with and
without a follower reading behind them. Prints figures; asserts nothing.

    .venv/bin/python bench/store_probe.py [--writers 8] [--seconds 5] [--url postgresql+asyncpg://...]

It works in a throwaway schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hub.domain.notifications import Notification, PersonIdentifier, Publisher
from hub.infra.audit import SqlAuditLog
from hub.infra.db import create_engine, upgrade
from hub.infra.store import create_event_store
from hub.services.ports import EventStore
from hub.settings import Settings

DEFAULT_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test"
)
PUBLISHER = Publisher("bench", "sps")


def admission(run: str, writer: int, number: int, people: int) -> Notification:
    return Notification(
        id=f"bench-{run}-{writer}-{number}",
        source="urn:pph:bench",
        type="custody.admission",
        version=1,
        time=datetime.now(UTC),
        identifiers=(PersonIdentifier("sps_number", f"{writer}-{number % people}"),),
        data={"establishment": "HMP Barlinnie", "reason": "remand"},
    )


async def run(store: EventStore, writers: int, seconds: float, follow: bool) -> None:
    run_id = uuid.uuid4().hex[:8]
    stop = time.monotonic() + seconds
    counts = [0] * writers
    followed = 0

    async def writer(number: int) -> None:
        while time.monotonic() < stop:
            await store.append([admission(run_id, number, counts[number], 50)], publisher=PUBLISHER)
            counts[number] += 1

    async def follower() -> None:
        nonlocal followed
        cursor = await store.last_position()
        while time.monotonic() < stop + 1:
            page = await store.read_all(after=cursor, limit=500)
            if page:
                cursor = page[-1].position
                followed += len(page)
            else:
                await asyncio.sleep(0.005)

    started = time.monotonic()
    tasks = [writer(n) for n in range(writers)]
    if follow:
        tasks.append(follower())
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started - (1 if follow else 0)
    total = sum(counts)
    line = f"{writers} writers{' + follower' if follow else ''}: {total} appends, "
    line += f"{total / elapsed:,.0f}/s"
    if follow:
        line += f"; the follower read {followed}"
    print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--url", default=DEFAULT_URL)
    arguments = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(arguments.url)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        with TemporaryDirectory() as folder:
            settings = Settings(
                environment="test",
                data_dir=Path(folder),
                database_url=arguments.url,
                database_schema=schema,
                database_pool_size=arguments.writers + 2,
            )
            engine = create_engine(settings)
            try:
                await upgrade(engine, settings)
                store = create_event_store(engine, audit=SqlAuditLog(engine))
                await run(store, arguments.writers, arguments.seconds, follow=False)
                await run(store, arguments.writers, arguments.seconds, follow=True)
            finally:
                await engine.dispose()
    finally:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
