"""Growth benchmark: whether a single event's cost stays flat as the store grows (issue 19).

One PostgreSQL schema grows through the sizes given (default 10,000 then 100,000 stored events).
At each size it is first filled in-process with a realistic mix of notifications about many
people (`bench/policy.py`'s mix, each pushed by the agency owning its source) and the router
decides them all, as in production. Then, at that size, with the same probe workload each time:

- intake: `hub serve` (router off, so that its CPU is intake's alone) takes P single pushes from
  C concurrent clients: events/s, push p50/p99, and the server's CPU per push;
- the person history report (`GET /v1/audit/persons/{identifier}/history`, as a DPO reads it)
  for 20 people stored before the probe: p50/p99;
- `/metrics` scraped 10 times: p50/p99 (it reads the disclosures);
- routing: the router (in this process) decides the P probe events: events/s and router CPU
  per event.

It prints one table and each figure's ratio to the smallest size's: a flat cost is a ratio near 1
(the machine is shared and noisy: read ratios, not absolute figures).

    .venv/bin/python bench/growth.py [--sizes 10000,100000] [--probe 400] [--concurrency 8]

10^6 stored events take about ten times the fill of 10^5 (the fill routes every event: at a few
hundred events/s on two cores that is about an hour). Needs PostgreSQL (deploy/local/postgres.sh
start). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from delivery import token  # noqa: E402
from intake import Server  # noqa: E402
from policy import (  # noqa: E402
    BUNDLE_DIR,
    ROOT,
    hub_env,
    percentile,
    publish_plan,
    realistic_mix,
    sql,
)

from hub import bootstrap  # noqa: E402
from hub.domain.notifications import Publisher  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
ASYNC_DSN = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")


def settings(data_dir: Path, schema: str) -> Settings:
    return Settings(
        environment="development",
        data_dir=data_dir,
        database_url=ASYNC_DSN,
        database_schema=schema,
        router_enabled=False,
        delivery_enabled=False,
        router_batch_size=500,
    )


async def fill(
    items: list[dict[str, Any]], config: Settings, directory: Any
) -> tuple[float, float]:
    """Store `items` in-process and let the router decide them: (store s, route s)."""
    async with bootstrap.running(config, migrate=False) as container:
        started = time.perf_counter()
        for agency, group in publish_plan(items, 500, directory):
            await container.intake.publish_batch(group, Publisher(f"bench-{agency}", agency))
        stored = time.perf_counter() - started
        started = time.perf_counter()
        await container.router(batch_size=500).run_until_idle()
        return stored, time.perf_counter() - started


async def route_probe(config: Settings) -> tuple[int, float, float]:
    """The router decides what is new: (events, seconds, router CPU seconds)."""
    async with bootstrap.running(config, migrate=False) as container:
        router = container.router(batch_size=100)
        started, cpu = time.perf_counter(), time.process_time()
        routed = await router.run_until_idle()
        return routed, time.perf_counter() - started, time.process_time() - cpu


async def push_probe(
    url: str, tokens: dict[str, str], plan: list[tuple[str, dict[str, Any]]], concurrency: int
) -> tuple[float, list[float]]:
    """Single pushes, each by its source's agency, in order from a shared queue."""
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for entry in plan:
        queue.put_nowait(entry)
    latencies: list[float] = []

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while not queue.empty():
                agency, body = queue.get_nowait()
                started = time.perf_counter()
                answer = await http.post(
                    "/v1/events", json=body, headers={"Authorization": f"Bearer {tokens[agency]}"}
                )
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 201:
                    raise RuntimeError(f"{agency}: {answer.status_code} {answer.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def timed_gets(
    http: httpx.AsyncClient, paths: list[str], headers: dict[str, str]
) -> list[float]:
    samples = []
    for path in paths:
        started = time.perf_counter()
        answer = await http.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return samples


async def probe_api(
    server: Server,
    clients: dict[str, dict[str, Any]],
    probe: list[tuple[str, dict[str, Any]]],
    people: list[str],
    concurrency: int,
) -> dict[str, float]:
    await asyncio.to_thread(server.start)
    url = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            tokens = {agency: await token(http, c) for agency, c in clients.items()}
            cpu = server.cpu_seconds()
            elapsed, latencies = await push_probe(url, tokens, probe, concurrency)
            cpu = server.cpu_seconds() - cpu
            dpo = {"Authorization": f"Bearer {tokens['hub-dpo']}", "X-Purpose": "growth bench"}
            history = await timed_gets(
                http, [f"/v1/audit/persons/{p}/history" for p in people], dpo
            )
            metrics = await timed_gets(http, ["/metrics"] * 10, {})
    finally:
        await asyncio.to_thread(server.stop)
    return {
        "push_per_s": len(probe) / elapsed,
        "push_p50_ms": percentile(latencies, 0.5) * 1000,
        "push_p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_ms_per_push": cpu / len(probe) * 1000,
        "history_p50_ms": percentile(history, 0.5) * 1000,
        "history_p99_ms": percentile(history, 0.99) * 1000,
        "metrics_p50_ms": percentile(metrics, 0.5) * 1000,
        "metrics_p99_ms": percentile(metrics, 0.99) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="stored events to measure at")
    parser.add_argument("--probe", type=int, default=400, help="single pushes at each size")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent pushing clients")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"# growth benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    directory = PolicyBundle.load(BUNDLE_DIR, SchemaRegistry.load(ROOT / "events")).directory
    mix = realistic_mix(sizes[-1] + args.probe * len(sizes), seed=19)
    agencies = sorted({agency for agency, _ in publish_plan(mix, len(mix), directory)})
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    await sql(f'CREATE SCHEMA "{schema}"')
    config = settings(data_dir, schema)
    env = hub_env(
        data_dir,
        schema,
        HUB_ROUTER_ENABLED="false",
        HUB_DELIVERY_ENABLED="false",
        HUB_RATE_LIMIT_PER_SECOND="100000",
        HUB_RATE_LIMIT_BURST="100000",
    )
    server = Server(env, 18600 + os.getpid() % 300)
    rows: list[tuple[int, dict[str, float]]] = []
    try:
        await asyncio.to_thread(server.cli, "db", "upgrade")

        def add(agency: str, scope: str) -> dict[str, Any]:
            output = server.cli(
                *("clients", "add", "--name", f"bench-{agency}", "--agency", agency),
                *("--scope", scope, "--json"),
            )
            return dict(json.loads(output))

        clients = {a: add(a, "events:publish") for a in agencies}
        clients["hub-dpo"] = add("hub-dpo", "audit:read")
        stored = cursor = 0
        for size in sizes:
            items = mix[cursor : cursor + size - stored]
            cursor += len(items)
            print(f"\n## filling to {size} stored events ({len(items)} more)", flush=True)
            store_s, route_s = await fill(items, config, directory)
            print(
                f"stored {len(items) / store_s:.0f} events/s in-process; routed "
                f"{len(items) / route_s:.0f} events/s",
                flush=True,
            )
            stored = size
            probe_items = mix[cursor : cursor + args.probe]
            cursor += len(probe_items)
            probe = [
                (agency, item)
                for agency, group in publish_plan(probe_items, 1, directory)
                for item in group
            ]
            people = [
                f"sps_number:{item['identifiers']['sps_number']}"
                for item in items[-2000:]
                if "sps_number" in item["identifiers"]
            ][::50][:20]
            figures = await probe_api(server, clients, probe, people, args.concurrency)
            routed, route_s, route_cpu = await route_probe(config)
            stored += len(probe)
            [row] = await sql(
                "SELECT (SELECT count(*) FROM events) AS e, (SELECT count(*) FROM disclosures) "
                "AS d, (SELECT count(*) FROM audit_entries) AS a",
                schema=schema,
            )
            figures |= {
                "route_per_s": routed / route_s,
                "router_cpu_ms_per_event": route_cpu / max(routed, 1) * 1000,
                "events": row["e"],
                "disclosures": row["d"],
                "audit_entries": row["a"],
            }
            rows.append((size, figures))
            print(json.dumps({"size": size, **{k: round(v, 2) for k, v in figures.items()}}))
    finally:
        server.stop()
        await sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)
    report(rows)


COLUMNS = [
    ("push_per_s", "pushes/s"),
    ("push_p50_ms", "push p50 ms"),
    ("cpu_ms_per_push", "server CPU ms/push"),
    ("route_per_s", "routed events/s"),
    ("router_cpu_ms_per_event", "router CPU ms/event"),
    ("history_p50_ms", "history p50 ms"),
    ("metrics_p50_ms", "/metrics p50 ms"),
]


def report(rows: list[tuple[int, dict[str, float]]]) -> None:
    print("\n| stored events | disclosures | " + " | ".join(t for _, t in COLUMNS) + " |")
    print("|---:|---:|" + "---:|" * len(COLUMNS))
    base = rows[0][1]
    for size, figures in rows:
        cells = [f"{figures[key]:.1f} ({figures[key] / base[key]:.2f}x)" for key, _ in COLUMNS]
        print(f"| {size:,} | {int(figures['disclosures']):,} | " + " | ".join(cells) + " |")
    print("(each cell: the figure, and its ratio to the smallest size's)")


if __name__ == "__main__":
    asyncio.run(main())
