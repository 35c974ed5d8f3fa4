"""Growth benchmark: whether a single event's cost stays flat as the store grows (issue 19).

One PostgreSQL schema grows through the sizes given (default 10^4, 10^5 and 10^6 stored events),
seeded by the hub's own code in-process (`bench/growth_seed.py`): every event through intake in
batches of 500 (router off); the first size's events all routed by the router; of each later
step, the newest `--routed-share` routed and the rest recorded as history as an import without
`--route` records it (profiles folded, the router's checkpoint moved past, nothing disclosed).
The mix is `bench/policy.py`'s, with fresh people in every step, plus one person with a
200-event history stored at the first size. Then at each size, the same probes:

- intake: `hub serve` (router and delivery off, so that its CPU is intake's alone) takes P
  single pushes from C concurrent clients: events/s, push p50/p99, the server's CPU per push;
- `/metrics`, scraped 20 times once the hub is idle (its CPU still): p50, and the server's CPU
  per scrape;
- the person history report (`GET /v1/audit/persons/{identifier}/history`, as a DPO reads it),
  10 times each for the long-history person and for a typical one (the median number of events,
  chosen at the first size): p50, and how many entries the report held (each read is audited,
  so each adds one: 12 a size);
- routing: the router alone (in this process, the hub stopped) decides the P probe events:
  events/s and router CPU per event.

It prints one table and each figure's ratio to the smallest size's: a flat cost is a ratio near 1
(the machine is shared and noisy: read the CPU figures and ratios, not the wall times).

    BENCH_POSTGRES_DSN=postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test \
        .venv/bin/python bench/growth.py [--sizes 10000,100000,1000000] [--probe 400] \
        [--concurrency 8] [--routed-share 0.1] [--keep]

Seeding is bounded by intake's own CPU (about 1.3 ms an event in-process, profiled) and the
router's (about 3 ms an event): on this 2-core machine under a load average of 12-18 it stored
95-318 events/s with 3 processes and routed 28-56/s, so 10^6 (about 20 CPU-minutes of intake and
the fold of 9 x 10^5 events) needs a quiet machine. `--keep` leaves the schema in place (its
name is printed) for EXPLAIN afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from delivery import token  # noqa: E402
from growth_seed import chunk, grow, long_person, settings  # noqa: E402
from intake import Server  # noqa: E402
from policy import BUNDLE_DIR, ROOT, hub_env, percentile, publish_plan, sql  # noqa: E402

from hub import bootstrap  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402
from hub.settings import Settings  # noqa: E402

#: Events a seeding chunk holds (one process stores a chunk at a time).
CHUNK = 20_000

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
ASYNC_DSN = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")

#: The person of the first size with the median number of events, among those an SPS number
#: names (the history report finds a person by any identifier).
TYPICAL_SQL = """
    SELECT i.value FROM person_identifiers i JOIN events e ON e.person_id = i.person_id
    WHERE i.scheme = 'sps_number' GROUP BY i.value ORDER BY count(*), i.value
"""


def route_probe_apart(config: Settings) -> tuple[int, float, float]:
    """`route_probe` in a fresh process: the bench's own heap, grown by seeding (a bigger one at
    each size), would otherwise cost the router's garbage collections more at each size."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(_route_probe, config).result()


def _route_probe(config: Settings) -> tuple[int, float, float]:
    return asyncio.run(route_probe(config))


async def route_probe(config: Settings) -> tuple[int, float, float]:
    """The router alone decides what is new: (events, seconds, router CPU seconds)."""
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


async def until_idle(server: Server, quiet: float = 0.02, seconds: float = 120.0) -> float:
    """Wait until the server uses less than `quiet` s of CPU in half a second; its CPU share
    over the last half second."""
    deadline = time.monotonic() + seconds
    while True:
        before = server.cpu_seconds()
        await asyncio.sleep(0.5)
        used = server.cpu_seconds() - before
        if used < quiet or time.monotonic() > deadline:
            return used / 0.5


async def probe_api(
    server: Server,
    clients: dict[str, dict[str, Any]],
    probe: list[tuple[str, dict[str, Any]]],
    people: dict[str, str],
    concurrency: int,
) -> dict[str, float]:
    await asyncio.to_thread(server.start)
    url = f"http://127.0.0.1:{server.port}"
    figures: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            tokens = {agency: await token(http, c) for agency, c in clients.items()}
            figures["start_cpu_share"] = await until_idle(server)
            cpu = server.cpu_seconds()
            elapsed, latencies = await push_probe(url, tokens, probe, concurrency)
            cpu = server.cpu_seconds() - cpu
            figures |= {
                "push_per_s": len(probe) / elapsed,
                "push_p50_ms": percentile(latencies, 0.5) * 1000,
                "push_p99_ms": percentile(latencies, 0.99) * 1000,
                "cpu_ms_per_push": cpu / len(probe) * 1000,
            }
            # `/metrics` on an idle hub: nothing else in its event loop.
            figures["idle_cpu_share"] = await until_idle(server)
            await timed_gets(http, ["/metrics"], {})
            cpu = server.cpu_seconds()
            metrics = await timed_gets(http, ["/metrics"] * 20, {})
            figures["metrics_p50_ms"] = percentile(metrics, 0.5) * 1000
            figures["metrics_cpu_ms"] = (server.cpu_seconds() - cpu) / 20 * 1000
            dpo = {"Authorization": f"Bearer {tokens['hub-dpo']}", "X-Purpose": "growth bench"}
            for name, person in people.items():
                # Each read is audited: the person's history grows by one consultation a read.
                path = f"/v1/audit/persons/{person}/history"
                samples = await timed_gets(http, [path] * 11, dpo)
                figures[f"history_{name}_p50_ms"] = percentile(samples[1:], 0.5) * 1000
                answer = await http.get(path, headers=dpo)
                figures[f"history_{name}_entries"] = answer.json()["entries"]
    finally:
        await asyncio.to_thread(server.stop)
    return figures


async def counts(schema: str, people: dict[str, str]) -> dict[str, float]:
    [row] = await sql(
        "SELECT (SELECT count(*) FROM events) AS e, (SELECT count(*) FROM disclosures) AS d, "
        "(SELECT count(*) FROM audit_entries) AS a, (SELECT count(*) FROM persons) AS p",
        schema=schema,
    )
    found = {"events": row["e"], "disclosures": row["d"], "audit_entries": row["a"]}
    found["people"] = row["p"]
    for name, person in people.items():
        scheme, value = person.split(":", 1)
        [history] = await sql(
            "SELECT count(*) AS n FROM events e JOIN person_identifiers i "
            "ON i.person_id = e.person_id WHERE i.scheme = $1 AND i.value = $2",
            scheme,
            value,
            schema=schema,
        )
        found[f"{name}_events"] = history["n"]
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored events")
    parser.add_argument("--probe", type=int, default=400, help="single pushes at each size")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent pushing clients")
    parser.add_argument(
        "--routed-share",
        type=float,
        default=0.1,
        help="share of each step after the first that the router decides (the rest: imported)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes storing at once")
    parser.add_argument("--keep", action="store_true", help="keep the schema for EXPLAIN")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"# growth benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    directory = PolicyBundle.load(BUNDLE_DIR, SchemaRegistry.load(ROOT / "events")).directory
    agencies = sorted({a for a, _ in publish_plan(chunk(19, 0, 5000), 5000, directory)})
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    await sql(f'CREATE SCHEMA "{schema}"')
    print(f"# schema {schema}")
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
    people = {"long": long_person()}
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
        stored = chunks = 0
        for size in sizes:
            first = not rows
            print(f"\n## growing to {size:,} stored events ({size - stored:,} more)", flush=True)
            step = [
                (chunks + n, min(CHUNK, size - stored - n * CHUNK))
                for n in range(0, -(-(size - stored) // CHUNK))
            ]
            chunks += len(step)
            async with bootstrap.running(config, migrate=False) as container:
                seeded = await grow(
                    container,
                    data_dir,
                    schema,
                    step,
                    1.0 if first else args.routed_share,
                    workers=args.workers,
                    say=lambda line: print(line, flush=True),
                )
            if first:
                found = [r["value"] for r in await sql(TYPICAL_SQL, schema=schema)]
                people["typical"] = f"sps_number:{found[len(found) // 2]}"
            await sql("ANALYZE", schema=schema)
            # The probe's notifications tell about people of their own (chunk numbers no seeding
            # reaches), the same ones at every size.
            probe_items = chunk(20, 60 + len(rows), args.probe)
            probe = [
                (agency, item)
                for agency, group in publish_plan(probe_items, 1, directory)
                for item in group
            ]
            figures = await probe_api(server, clients, probe, people, args.concurrency)
            routed, route_s, route_cpu = await asyncio.to_thread(route_probe_apart, config)
            figures |= {
                "store_per_s": seeded.stored / seeded.store_s,
                "route_per_s": routed / route_s,
                "router_cpu_ms_per_event": route_cpu / max(routed, 1) * 1000,
                **await counts(schema, people),
            }
            stored = int(figures["events"])
            rows.append((size, figures))
            print(json.dumps({"size": size, **{k: round(v, 2) for k, v in figures.items()}}))
    finally:
        server.stop()
        if not args.keep:
            await sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)
    report(rows)


COLUMNS = [
    ("push_per_s", "pushes/s"),
    ("push_p50_ms", "push p50 ms"),
    ("cpu_ms_per_push", "server CPU ms/push"),
    ("route_per_s", "routed events/s"),
    ("router_cpu_ms_per_event", "router CPU ms/event"),
    ("history_long_p50_ms", "history p50 ms, long"),
    ("history_typical_p50_ms", "history p50 ms, typical"),
    ("metrics_p50_ms", "/metrics p50 ms (idle)"),
    ("metrics_cpu_ms", "server CPU ms/scrape"),
]


def report(rows: list[tuple[int, dict[str, float]]]) -> None:
    if not rows:
        return
    print(
        "\n| stored events | disclosures | audit entries | "
        + " | ".join(t for _, t in COLUMNS)
        + " |"
    )
    print("|---:|---:|---:|" + "---:|" * len(COLUMNS))
    base = rows[0][1]
    for _, figures in rows:
        cells = [f"{figures[key]:.1f} ({figures[key] / base[key]:.2f}x)" for key, _ in COLUMNS]
        print(
            f"| {int(figures['events']):,} | {int(figures['disclosures']):,} | "
            f"{int(figures['audit_entries']):,} | " + " | ".join(cells) + " |"
        )
    print("(each cell: the figure, and its ratio to the smallest size's)")


if __name__ == "__main__":
    asyncio.run(main())
