"""MAPPA dashboard benchmark: what one view of the dashboard costs the database, as the store grows
(issue 16). A fresh PostgreSQL schema and a fresh SQLite file are each filled with N disclosures
decided over the last 12 months (`--years Y`: the last Y years, so that the 12 months read are a
part of the history) to 30 recipients (6 of them the region's), most delivered, most
acknowledged; then the two reads of one dashboard view, `LatencyPeriodService.figures` (the
last 12 months) and `.months` (12 months), run R times each. Each is one SQL statement; the
figures are its wall time (median, max) and this process's CPU time per read (the driver's and
SQLAlchemy's share; PostgreSQL's own CPU is in another process).

    BENCH_POSTGRES_DSN=postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test \\
        .venv/bin/python bench/mappa_periods.py [--disclosures 100000] [--repeat 5] [--years 1] \\
        [--explain]

`--explain` prints PostgreSQL's plan of the 12 months' statement (EXPLAIN ANALYZE, BUFFERS).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

from hub.infra import tables
from hub.infra.db import create_engine, migrate
from hub.infra.latency_periods import SqlLatencyPeriodStore
from hub.services.latency import LATENCY_BUCKETS
from hub.services.latency_periods import LatencyPeriodService, Period, add_months, month_start
from hub.settings import Settings

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
RECIPIENTS = [f"agency-{n:02d}" for n in range(30)]
REGION = RECIPIENTS[:6]
TYPES = ["release.schedule1-notification", "custody.admission", "custody.transfer"]


def rows(
    count: int, now: datetime, years: int = 1, seed: int = 16
) -> list[dict[str, list[dict[str, Any]]]]:
    """The disclosures in batches of 5,000, decided over the last `years`, each with its event,
    receipt and acknowledgement."""
    chance = random.Random(seed)
    batches = []
    for start in range(0, count, 5000):
        batch: dict[str, list[dict[str, Any]]] = {"events": [], "d": [], "r": [], "a": []}
        for n in range(start, min(count, start + 5000)):
            decided = now - timedelta(seconds=chance.uniform(0, years * 365 * 86400))
            recipient = chance.choice(RECIPIENTS)
            batch["events"].append(
                {
                    "position": n + 1,
                    "source": "bench",
                    "event_id": str(uuid.uuid4()),
                    "type": TYPES[n % 3],
                    "version": 1,
                    "time": decided - timedelta(hours=chance.expovariate(1 / 48)),
                    "specversion": "1.0",
                    "datacontenttype": "application/json",
                    "identifiers": {},
                    "data": {},
                    "content_hash": f"h{n}",
                    "person_id": f"p{n}",
                    "stream_version": 1,
                    "publisher_client_id": "bench",
                    "publisher_agency": "bench",
                    "recorded_at": decided,
                }
            )
            batch["d"].append(
                {
                    "disclosure_id": f"d_{n}",
                    "event_position": n + 1,
                    "event_id": f"e{n}",
                    "source": "bench",
                    "event_type": TYPES[n % 3],
                    "person_id": f"p{n}",
                    "recipient_id": recipient,
                    "fields": [],
                    "rules": ["r"],
                    "purposes": ["p"],
                    "legal_bases": ["l"],
                    "policy_version": "v",
                    "profile_position": n + 1,
                    "trigger_position": n + 1,
                    "acknowledge_within_seconds": 3 * 86400,
                    "decided_at": decided,
                }
            )
            if chance.random() < 0.9:
                delivered = decided + timedelta(seconds=chance.expovariate(1 / 60))
                batch["r"].append(
                    {"disclosure_id": f"d_{n}", "first_delivered_at": delivered, "channel": "feed"}
                )
                if chance.random() < 0.8:
                    acked = delivered + timedelta(hours=chance.expovariate(1 / 40))
                    batch["a"].append(
                        {
                            "disclosure_id": f"d_{n}",
                            "recipient_id": recipient,
                            "client_id": recipient,
                            "acknowledged_at": acked,
                        }
                    )
        batches.append(batch)
    return batches


async def fill(settings: Settings, count: int, now: datetime, years: int) -> None:
    await migrate(settings)
    engine = create_engine(settings)
    try:
        for batch in rows(count, now, years):
            async with engine.begin() as connection:
                await connection.execute(sa.insert(tables.events), batch["events"])
                await connection.execute(sa.insert(tables.disclosures), batch["d"])
                await connection.execute(sa.insert(tables.disclosure_receipts), batch["r"])
                await connection.execute(sa.insert(tables.disclosure_acks), batch["a"])
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()


async def timed(read: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float, float]:
    """Median and max wall time, and median process CPU time, of `repeat` reads (after one)."""
    await read()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        await read()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), max(walls), statistics.median(cpus)


async def explain(settings: Settings, now: datetime) -> str:
    """PostgreSQL's plan of the 12 months' figures statement, as run (EXPLAIN ANALYZE)."""
    engine = create_engine(settings)
    try:
        store = SqlLatencyPeriodStore(engine)
        year = Period(add_months(month_start(now), -11), add_months(month_start(now), 1))
        statement = store._query(REGION, [year], now, LATENCY_BUCKETS)
        compiled = statement.compile(
            engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}
        )
        async with engine.connect() as connection:
            found = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")
            return "\n".join(row[0] for row in found)
    finally:
        await engine.dispose()


async def measure(settings: Settings, repeat: int, now: datetime) -> dict[str, tuple[float, ...]]:
    engine = create_engine(settings)
    try:
        periods = LatencyPeriodService(SqlLatencyPeriodStore(engine), clock=lambda: now)
        year = Period(add_months(month_start(now), -11), add_months(month_start(now), 1))
        found = await periods.figures(REGION, year)
        assert sum(c.disclosures for c in found.counts.values()) > 0
        return {
            "figures (12 months)": await timed(lambda: periods.figures(REGION, year), repeat),
            "months (12)": await timed(lambda: periods.months(REGION), repeat),
        }
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--disclosures", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--years", type=int, default=1, help="decided over the last N years")
    parser.add_argument("--explain", action="store_true", help="print PostgreSQL's plan")
    args = parser.parse_args()
    now = datetime.now(UTC)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-mappa-"))
    connection = await asyncpg.connect(PG_DSN)
    await connection.execute(f'CREATE SCHEMA "{schema}"')
    url = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
    backends = {
        "PostgreSQL": Settings(
            environment="development",
            data_dir=data_dir / "pg",
            database_url=url,
            database_migration_url=url,
            database_schema=schema,
        ),
        "SQLite": Settings(environment="development", data_dir=data_dir / "sqlite"),
    }
    print(
        f"{args.disclosures} disclosures over {args.years * 12} months, 30 recipients, "
        "6 in the region; the reads: the last 12 months"
    )
    print("| backend | read | wall p50 | wall max | client CPU p50 |")
    print("|---|---|---|---|---|")
    try:
        for name, settings in backends.items():
            await fill(settings, args.disclosures, now, args.years)
            if args.explain and name == "PostgreSQL":
                print(await explain(settings, now))
            for read, (p50, worst, cpu) in (await measure(settings, args.repeat, now)).items():
                print(
                    f"| {name} | {read} | {p50 * 1000:.0f} ms | {worst * 1000:.0f} ms "
                    f"| {cpu * 1000:.1f} ms |"
                )
    finally:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
