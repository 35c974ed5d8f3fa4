"""`/metrics` scrape: running totals against the full scan they replaced (issues 17 and 19).

For each size (default 10,000 and 100,000 disclosures) a fresh PostgreSQL schema is migrated to
0019 and filled with bulk SQL (one `INSERT … SELECT generate_series` per table: events,
disclosures to 20 recipients over 8 event types, receipts for 90 %, acknowledgements for 60 % of
those with an acknowledgement time, escalations for some of the rest). Then:

- the upgrade to 0020, whose backfill fills `metric_counters` and `awaiting_acknowledgements`;
- the business figures of a scrape, read R times each way in the same run: from the running
  totals (`SqlLatencyStore.metrics`, what `/metrics` does now) and by scanning every disclosure
  (`SqlLatencyStore.scanned_metrics`, what it did before); wall and CPU time of this process
  (the client side: the scan's work is mostly the database's), medians, and the ratio;
- that both give the same counts (a check, not a timing).

    BENCH_POSTGRES_DSN=postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test \\
        .venv/bin/python bench/metrics_scrape.py [--sizes 10000,100000,1000000] [--repeat 5]

Prints figures; asserts nothing. The machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.infra.db import create_engine, migrate  # noqa: E402
from hub.infra.latency import SqlLatencyStore  # noqa: E402
from hub.services.latency import LATENCY_BUCKETS, DeliveryMetrics  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)

RECIPIENTS = 20
EVENT_TYPES = 8

#: One disclosure per event; $1 = how many. Times spread over two years before now.
FILL = [
    """
    INSERT INTO events (position, source, event_id, type, version, time, subject, specversion,
        datacontenttype, identifiers, data, content_hash, person_id, stream_version,
        publisher_client_id, publisher_agency, recorded_at)
    SELECT i, 'urn:bench', 'e' || i, 'bench.type' || (i % {types}), 1,
        now() - make_interval(secs => ($1 - i) * 60.0 + 3600 + (i % 97) * 600),
        NULL, '1.0', 'application/json', '{{}}', '{{}}', 'h' || i, 'p_' || (i % 5000),
        i / 5000, 'bench', 'bench', now() - make_interval(secs => ($1 - i) * 60.0)
    FROM generate_series(1, $1) AS i
    """,
    """
    INSERT INTO disclosures (disclosure_id, event_position, event_id, source, event_type,
        person_id, recipient_id, fields, rules, purposes, legal_bases, policy_version,
        profile_position, trigger_position, acknowledge_within_seconds, decided_at)
    SELECT 'd' || e.position, e.position, e.event_id, e.source, e.type, e.person_id,
        'recipient-' || (e.position % {recipients}), '[]', '[]', '[]', '[]', 'bench',
        e.position, e.position,
        CASE WHEN e.position % 3 = 0 THEN NULL ELSE 86400 * (e.position % 7 + 1) END,
        e.recorded_at + make_interval(secs => (e.position % 50) / 10.0)
    FROM events e
    """,
    """
    INSERT INTO disclosure_receipts (disclosure_id, first_delivered_at, channel)
    SELECT d.disclosure_id, d.decided_at + make_interval(secs => d.event_position % 30),
        CASE WHEN d.event_position % 4 = 0 THEN 'poll' ELSE 'webhook' END
    FROM disclosures d WHERE d.event_position % 10 <> 0
    """,
    """
    INSERT INTO disclosure_acks (disclosure_id, recipient_id, client_id, acknowledged_at)
    SELECT d.disclosure_id, d.recipient_id, 'bench',
        d.decided_at + make_interval(secs => (d.event_position % 40) * 3600)
    FROM disclosures d
    WHERE d.acknowledge_within_seconds IS NOT NULL AND d.event_position % 5 < 3
    """,
    """
    INSERT INTO overdue_escalations (disclosure_id, escalated_at, event_id)
    SELECT d.disclosure_id, d.decided_at + make_interval(secs => d.acknowledge_within_seconds),
        'x' || d.event_position
    FROM disclosures d
    WHERE d.acknowledge_within_seconds IS NOT NULL AND d.event_position % 5 = 3
    """,
    "ANALYZE",
]


def settings(data_dir: Path, schema: str) -> Settings:
    return Settings(
        environment="development",
        data_dir=data_dir,
        database_url=PG_DSN.replace("postgresql://", "postgresql+asyncpg://"),
        database_schema=schema,
    )


async def admin(statement: str, *args: Any, schema: str | None = None) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        if schema is not None:
            await connection.execute(f'SET search_path TO "{schema}"')
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def timed(
    repeat: int, read: Callable[[], Awaitable[DeliveryMetrics]]
) -> tuple[float, float, DeliveryMetrics]:
    """Median wall and CPU seconds of `repeat` reads (after one warm-up), and the last result."""
    result = await read()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = await read()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


async def one_size(size: int, repeat: int) -> dict[str, Any]:
    schema = f"bench_scrape_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            config = settings(Path(data_dir), schema)
            await migrate(config, "0019")
            started = time.perf_counter()
            for statement in FILL:
                await admin(
                    statement.format(types=EVENT_TYPES, recipients=RECIPIENTS),
                    *([size] if "$1" in statement else []),
                    schema=schema,
                )
            filled = time.perf_counter() - started
            started = time.perf_counter()
            await migrate(config)  # 0020: the backfill
            backfill = time.perf_counter() - started
            engine = create_engine(config)
            try:
                store = SqlLatencyStore(engine)
                now = datetime.now(UTC)
                new_wall, new_cpu, counted = await timed(
                    repeat, lambda: store.metrics(now, LATENCY_BUCKETS)
                )
                old_wall, old_cpu, scanned = await timed(
                    repeat, lambda: store.scanned_metrics(now, LATENCY_BUCKETS)
                )
            finally:
                await engine.dispose()
    finally:
        await admin(f'DROP SCHEMA "{schema}" CASCADE')
    agree = (
        counted.disclosures == scanned.disclosures
        and counted.delivered == scanned.delivered
        and counted.acknowledged == scanned.acknowledged
        and counted.escalated == scanned.escalated
        and counted.overdue_unacknowledged == scanned.overdue_unacknowledged
        and all(
            {k: (s.cumulative, s.count) for k, s in getattr(counted, h).series.items()}
            == {k: (s.cumulative, s.count) for k, s in getattr(scanned, h).series.items()}
            for h in (
                "event_to_decision",
                "intake_to_decision",
                "decision_to_delivery",
                "decision_to_acknowledgement",
            )
        )
    )
    return {
        "size": size,
        "fill": filled,
        "backfill": backfill,
        "new_wall": new_wall,
        "new_cpu": new_cpu,
        "old_wall": old_wall,
        "old_cpu": old_cpu,
        "agree": agree,
        "overdue": sum(counted.overdue_unacknowledged.values()),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="disclosures, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed reads each way")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {RECIPIENTS} recipients x {EVENT_TYPES} event "
        f"types; median of {args.repeat} reads each way"
    )
    print(
        "| disclosures | fill s | 0020 backfill s | scrape, totals (ms wall / ms CPU) "
        "| scrape, scan (ms wall / ms CPU) | scan / totals (wall) | same figures |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for size in sizes:
        r = await one_size(size, args.repeat)
        print(
            f"| {r['size']:,} | {r['fill']:.1f} | {r['backfill']:.1f} "
            f"| {r['new_wall'] * 1000:.1f} / {r['new_cpu'] * 1000:.1f} "
            f"| {r['old_wall'] * 1000:.0f} / {r['old_cpu'] * 1000:.1f} "
            f"| {r['old_wall'] / r['new_wall']:.0f}x | {'yes' if r['agree'] else 'NO'} |",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
