"""Scale-out benchmark: routing throughput and intake-to-decision latency on the Kafka path with
1 and 2 router worker processes, beside the in-process router, in one run.

Each configuration gets a fresh PostgreSQL schema (and, on Kafka, a fresh events topic):

- `in-process`: one `hub serve` (role all, delivery off): the router follows the store, woken
  by every append.
- `kafka-N`: `hub serve --role api`, one `--role relay` and N `--role router` processes; the
  relay polls the store every 20 ms (a relay in another process is not woken by appends).

Phase 1 (latency) pushes notifications at a steady rate in small batches; phase 2 (throughput)
pushes a backlog as fast as the API takes it, with the routers routing meanwhile, and measures
routed events a second from the first push to the last decision. Latency is, per event, from
`events.recorded_at` (its append) to the `decided_at` of its first decision; both clocks are
this machine's. People are spread over many persons, Schedule 1 release notices and admissions
alternating. Prints figures and a Markdown table; asserts nothing.

    deploy/local/postgres.sh start && deploy/local/kafka.sh start
    .venv/bin/python bench/scale.py [--rate 100] [--seconds 15] [--backlog 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://hub:hub@127.0.0.1:5432/hub_test")
KAFKA = os.environ.get("BENCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
EXAMPLES = {
    kind: json.loads((ROOT / f"events/examples/{kind}.json").read_text())
    for kind in ("release.schedule1-notification", "custody.admission")
}
KINDS = sorted(EXAMPLES)
PARTITIONS = 12


def notification(i: int) -> dict[str, Any]:
    n = json.loads(json.dumps(EXAMPLES[KINDS[i % 2]]))
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(4_000_000 + (i * 7919) % 5000)}
    return n


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


class Deployment:
    """The hub's processes for one configuration, on their own schema (and topic)."""

    def __init__(self, name: str, routers: int) -> None:
        self.name = name
        self.routers = routers
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.update(
            {
                "HUB_ENVIRONMENT": "development",
                "HUB_DATA_DIR": tempfile.mkdtemp(prefix="bench-scale-"),
                "HUB_DATABASE_URL": PG_DSN.replace("postgresql://", "postgresql+asyncpg://"),
                "HUB_DATABASE_SCHEMA": self.schema,
                "HUB_DELIVERY_ENABLED": "false",
                "HUB_ROUTER_POLL_INTERVAL": "0.05",
                "HUB_MAX_REQUEST_BYTES": str(4 * 2**20),
                "HUB_PORT": str(self.port),
            }
        )
        if routers:
            self.env.update(
                {
                    "HUB_KAFKA_BOOTSTRAP": KAFKA,
                    "HUB_KAFKA_EVENTS_TOPIC": f"bench.events.{self.schema}",
                    "HUB_KAFKA_EVENTS_PARTITIONS": str(PARTITIONS),
                    "HUB_KAFKA_ROUTER_GROUP": f"bench.routers.{self.schema}",
                    "HUB_RELAY_POLL_INTERVAL": "0.02",
                }
            )

    def start(self, role: str) -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "serve", "--role", role],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    async def __aenter__(self) -> Deployment:
        admin = await asyncpg.connect(PG_DSN)
        try:
            await admin.execute(f'CREATE SCHEMA "{self.schema}"')
        finally:
            await admin.close()
        cli(self.env, "db", "upgrade")
        client = json.loads(
            cli(self.env, "clients", "add", "--name", "bench PR2", "--agency", "sps",
                "--scope", "events:publish", "--json")
        )  # fmt: skip
        self.client = client
        if self.routers:
            self.start("api")
            self.start("relay")
            for _ in range(self.routers):
                self.start("router")
        else:
            self.start("all")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        admin = await asyncpg.connect(PG_DSN)
        try:
            await admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        finally:
            await admin.close()

    def rss_mib(self) -> float:
        total = 0
        for process in self.processes:
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(process.pid).memory_info().rss
        return total / 2**20


async def token(http: httpx.AsyncClient, client: dict[str, Any]) -> str:
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    answer.raise_for_status()
    value: str = answer.json()["access_token"]
    return value


async def routed_through(db: asyncpg.Connection, schema: str, kafka: bool) -> int:
    """How many events are routed (the router's checkpoint, or the workers' routed rows)."""
    if kafka:
        return int(await db.fetchval(f'SELECT count(*) FROM "{schema}".routed_events'))
    found = await db.fetchval(
        f"SELECT position FROM \"{schema}\".consumer_checkpoints WHERE consumer = 'router'"
    )
    return int(found or 0)


async def wait_routed(db: asyncpg.Connection, schema: str, kafka: bool, count: int) -> None:
    deadline = time.monotonic() + 600
    while await routed_through(db, schema, kafka) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await routed_through(db, schema, kafka)} of {count} routed")
        await asyncio.sleep(0.02)


async def latencies(
    db: asyncpg.Connection, schema: str, after: int, through: int
) -> tuple[list[float], float, float]:
    """Each event's intake-to-first-decision latency (s), and the first append and last
    decision times (epoch s), for the events at positions after..through."""
    rows = await db.fetch(
        f"""
        WITH decided AS (
            SELECT trigger_position AS position, decided_at FROM "{schema}".disclosures
            UNION ALL
            SELECT trigger_position, decided_at FROM "{schema}".disclosure_denials
        )
        SELECT e.recorded_at, min(d.decided_at) AS decided_at
        FROM "{schema}".events e JOIN decided d ON d.position = e.position
        WHERE e.position > $1 AND e.position <= $2
        GROUP BY e.position, e.recorded_at
        """,
        after,
        through,
    )
    waits = [(r["decided_at"] - r["recorded_at"]).total_seconds() for r in rows]
    first = min(r["recorded_at"] for r in rows).timestamp()
    last = max(r["decided_at"] for r in rows).timestamp()
    return waits, first, last


async def push(http: httpx.AsyncClient, bearer: dict[str, str], start: int, count: int) -> None:
    body = [notification(start + i) for i in range(count)]
    answer = await http.post("/v1/events/batch", json=body, headers=bearer)
    answer.raise_for_status()


async def run(name: str, routers: int, args: argparse.Namespace) -> dict[str, Any]:
    kafka = routers > 0
    async with Deployment(name, routers) as hub:
        db = await asyncpg.connect(PG_DSN)
        url = f"http://127.0.0.1:{hub.port}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                for _ in range(600):
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                bearer = {"Authorization": f"Bearer {await token(http, hub.client)}"}
                # Warm up (the routers join their group, the topic exists), then measure.
                await push(http, bearer, 0, 20)
                await wait_routed(db, hub.schema, kafka, 20)
                sent = 20

                # Phase 1: a steady rate, batches of 5.
                batch = 5
                interval = batch / args.rate
                started = time.perf_counter()
                while time.perf_counter() - started < args.seconds:
                    tick = time.perf_counter()
                    await push(http, bearer, sent, batch)
                    sent += batch
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))
                await wait_routed(db, hub.schema, kafka, sent)
                steady, _, _ = await latencies(db, hub.schema, 20, sent)
                steady_end = sent

                # Phase 2: a backlog as fast as the API takes it (4 clients, batches of 100).
                queue: asyncio.Queue[int] = asyncio.Queue()
                for b in range(args.backlog // 100):
                    queue.put_nowait(sent + b * 100)

                async def pusher() -> None:
                    while not queue.empty():
                        await push(http, bearer, queue.get_nowait(), 100)

                await asyncio.gather(*(pusher() for _ in range(4)))
                sent += (args.backlog // 100) * 100
                # What was left to route once intake stopped, and how fast it drained.
                pushed_at = time.perf_counter()
                left = sent - await routed_through(db, hub.schema, kafka)
                await wait_routed(db, hub.schema, kafka, sent)
                drain = left / (time.perf_counter() - pushed_at) if left >= 200 else None
                backlog, first, last = await latencies(db, hub.schema, steady_end, sent)
                rss = hub.rss_mib()
        finally:
            await db.close()
    figures = {
        "name": name,
        "steady_events": len(steady),
        "steady_rate": len(steady) / args.seconds,
        "steady_p50_ms": percentile(steady, 0.50) * 1000,
        "steady_p95_ms": percentile(steady, 0.95) * 1000,
        "steady_p99_ms": percentile(steady, 0.99) * 1000,
        "backlog_events": len(backlog),
        "routed_per_s": len(backlog) / (last - first),
        "drain_left": left,
        "drain_per_s": drain,
        "backlog_p50_ms": percentile(backlog, 0.50) * 1000,
        "backlog_p95_ms": percentile(backlog, 0.95) * 1000,
        "backlog_p99_ms": percentile(backlog, 0.99) * 1000,
        "rss_mib": rss,
    }
    print(json.dumps(figures), flush=True)
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events a second in phase 1")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of phase 1")
    parser.add_argument("--backlog", type=int, default=5000, help="events in phase 2")
    args = parser.parse_args()
    print(f"# scale-out benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}; "
        f"PostgreSQL and Kafka on loopback, {PARTITIONS} partitions"
    )
    results = [
        await run("in-process router", 0, args),
        await run("Kafka, 1 router worker", 1, args),
        await run("Kafka, 2 router workers", 2, args),
    ]
    print()
    print(
        f"| path | steady (asked {args.rate:g}/s): achieved/s, p50 / p95 / p99 (ms) | "
        f"backlog {args.backlog}: intake to last decision, events/s | drain after intake: "
        "events left, routed/s | backlog p50 / p95 / p99 (ms) | RSS of the hub's processes (MiB) |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        drain = "-" if r["drain_per_s"] is None else f"{r['drain_per_s']:.0f}"
        print(
            f"| {r['name']} | {r['steady_rate']:.0f}, {r['steady_p50_ms']:.0f} / "
            f"{r['steady_p95_ms']:.0f} / {r['steady_p99_ms']:.0f} | {r['routed_per_s']:.0f} | "
            f"{r['drain_left']}, {drain} | {r['backlog_p50_ms']:.0f} / "
            f"{r['backlog_p95_ms']:.0f} / {r['backlog_p99_ms']:.0f} | {r['rss_mib']:.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
