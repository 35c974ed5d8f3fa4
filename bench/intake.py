"""Intake benchmark: notifications pushed through the real HTTP API of a running `hub serve`.

For each backend (SQLite embedded default, PostgreSQL): single pushes with C concurrent clients,
then batches; prints events/s, request latency p50/p99, the server's CPU per event and its peak
RSS. In the same run it measures the stack's own limits for the same rows:

- raw driver: plain asyncpg (C connections, one row per commit; then `executemany`, one batch
  per commit) and plain aiosqlite (WAL, one row per commit; then batches) into a bare table;
- the HTTP floor (`bench/http_floor.py`): a minimal FastAPI + uvicorn app in its own process,
  taking the same JSON body and inserting one row per request with the same driver;
- the `eventsourcing` library (`bench/intake_eventsourcing.py`): C writer threads each saving
  one aggregate per command, for the same notifications, in the bench's own process.

It prints the hub's ratio to min(raw single-row rate, HTTP floor) for single pushes and to the raw
batch rate for batches, and to eventsourcing's command rate, for both backends (issue 19's goals:
>= 0.5, >= 0.5, >= 2; <= 1 ms CPU a push).

    .venv/bin/python bench/intake.py [--events 3000] [--concurrency 8] [--batch 100]
        [--backends sqlite postgres] [--intake-only] [--sample MS]

`--sample MS` runs `hub serve` with a stack sampler in its process (`bench/sampled_serve.py`,
`bench/stack_sampler.py`: every MS ms of its CPU) and prints, for the single pushes and for the
batches, the share of the server's CPU each part of the hub takes (HTTP/ASGI, auth, validation,
intake, store, audit, SQLAlchemy, the driver, the event loop, background workers).

Needs PostgreSQL (deploy/local/postgres.sh start). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import httpx
import psutil
from intake_eventsourcing import command_rate

ROOT = Path(__file__).resolve().parent.parent
#: A role that may create a schema in the database (the local setup's owner role).
PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
EXAMPLE = json.loads((ROOT / "events/examples/custody.admission.json").read_text())


def notification(i: int) -> dict[str, Any]:
    n = json.loads(json.dumps(EXAMPLE))
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(2_000_000 + i)}
    return n


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Server:
    def __init__(self, env: dict[str, str], port: int, argv: list[str] | None = None) -> None:
        self.env, self.port = env, port
        self.argv = argv or [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)]
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss = 0
        self._sampling = False

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # a loaded 2-core machine starts it slowly
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"{' '.join(self.argv)} did not become ready")
            time.sleep(0.1)
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        assert self.process is not None
        proc = psutil.Process(self.process.pid)
        while self._sampling:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def sample(self, on: bool) -> None:
        """Start or end the stack sample of `bench/sampled_serve.py` (if that is what runs)."""
        if self.process is not None and "sampled_serve.py" in " ".join(self.argv):
            self.process.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)
            time.sleep(0.5)  # the report is written before the next phase begins

    def stop(self) -> None:
        self._sampling = False
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=20)


async def push_single(url: str, token: str, total: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            while not queue.empty():
                i = queue.get_nowait()
                body = notification(i)
                started = time.perf_counter()
                answer = await http.post("/v1/events", json=body)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 201, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "events_per_s": total / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def push_batches(
    url: str, token: str, total: int, batch: int, concurrency: int, offset: int
) -> dict[str, float]:
    latencies: list[float] = []
    batches = [
        [notification(offset + b * batch + i) for i in range(batch)] for b in range(total // batch)
    ]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                answer = await http.post("/v1/events/batch", json=body)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency // 2))))
    elapsed = time.perf_counter() - started
    return {
        "events_per_s": len(batches) * batch / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def plain_asyncpg(total: int, concurrency: int, batch: int) -> dict[str, float]:
    """The database's own limit for the same rows: one INSERT per commit, then batched."""
    table = f"bench_bare_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(
        f"CREATE TABLE {table} (position BIGSERIAL PRIMARY KEY, source TEXT, event_id TEXT, "
        "type TEXT, data JSONB, UNIQUE (source, event_id))"
    )
    rows = [
        (n["source"], n["id"], n["type"], json.dumps(n["data"]))
        for n in (notification(i) for i in range(total))
    ]
    pool = await asyncpg.create_pool(
        PG_DSN, min_size=concurrency, max_size=concurrency, ssl="disable"
    )
    sql = f"INSERT INTO {table} (source, event_id, type, data) VALUES ($1, $2, $3, $4)"
    queue: asyncio.Queue[tuple[str, str, str, str]] = asyncio.Queue()
    for r in rows:
        queue.put_nowait(r)

    async def worker() -> None:
        async with pool.acquire() as connection:
            while not queue.empty():
                await connection.execute(sql, *queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    single = total / (time.perf_counter() - started)

    started = time.perf_counter()
    async with pool.acquire() as connection:
        for b in range(0, total, batch):
            chunk = [(s, i + "-b", t, d) for s, i, t, d in rows[b : b + batch]]
            async with connection.transaction():
                await connection.executemany(sql, chunk)
    batched = total / (time.perf_counter() - started)
    await pool.close()
    await admin.execute(f"DROP TABLE {table}")
    await admin.close()
    return {"single_rows_per_s": single, "batched_rows_per_s": batched}


async def run_backend(name: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_ENVIRONMENT": "development", "HUB_DATA_DIR": str(data_dir)})
    # The bench measures intake, not the per-client rate limit (100/s, a burst of 500 by
    # default), which single pushes from one client exceed once the hub is fast enough.
    env.update({"HUB_RATE_LIMIT_PER_SECOND": "1000000", "HUB_RATE_LIMIT_BURST": "1000000"})
    if args.intake_only:
        # The server's CPU is then intake's alone: no router or delivery worker beside it.
        env.update({"HUB_ROUTER_ENABLED": "false", "HUB_DELIVERY_ENABLED": "false"})
    schema = None
    if name == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_DSN)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await admin.close()
        env["HUB_DATABASE_URL"] = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
        env["HUB_DATABASE_SCHEMA"] = schema
    port = 18000 + (os.getpid() % 1000)
    argv = None
    sampled = data_dir / "samples.txt"
    if args.sample:
        env.update({"BENCH_SAMPLE_FILE": str(sampled), "BENCH_SAMPLE_MS": str(args.sample)})
        argv = [sys.executable, str(ROOT / "bench" / "sampled_serve.py"), "serve"]
        argv += ["--port", str(port)]
    server = Server(env, port, argv)
    try:
        if schema:
            server.cli("db", "upgrade")
        client = json.loads(
            server.cli(
                "clients",
                "add",
                "--name",
                "bench",
                "--agency",
                "sps",
                "--scope",
                "events:publish",
                "--json",
            )
        )
        server.start()
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client["client_id"], client["client_secret"]),
            )
        token = answer.json()["access_token"]
        cpu = server.cpu_seconds()
        server.sample(True)
        single = await push_single(url, token, args.events, args.concurrency)
        server.sample(False)
        single["cpu_ms_per_event"] = (server.cpu_seconds() - cpu) * 1000 / args.events
        cpu = server.cpu_seconds()
        server.sample(True)
        batched = await push_batches(
            url, token, args.events * 4, args.batch, args.concurrency, offset=args.events
        )
        server.sample(False)
        batched["cpu_ms_per_event"] = (server.cpu_seconds() - cpu) * 1000 / (args.events * 4)
        samples = sampled.read_text() if args.sample else ""
        return {
            "single": single,
            "batch": batched,
            "peak_rss_mib": server.peak_rss / 2**20,
            "samples": samples,
        }
    finally:
        server.stop()
        if schema:
            admin = await asyncpg.connect(PG_DSN)
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()


async def http_floor(name: str, args: argparse.Namespace) -> dict[str, float]:
    """Single pushes, as the hub's, to the minimal app of `bench/http_floor.py`."""
    port = 18000 + (os.getpid() % 1000) + 1
    database = ["--postgres", PG_DSN]
    if name == "sqlite":
        database = ["--sqlite", str(Path(tempfile.mkdtemp(prefix="bench-floor-")) / "floor.db")]
    argv = [sys.executable, str(ROOT / "bench" / "http_floor.py"), "--port", str(port), *database]
    server = Server(dict(os.environ), port, argv)
    try:
        server.start()
        cpu = server.cpu_seconds()
        single = await push_single(
            f"http://127.0.0.1:{port}", "none", args.events, args.concurrency
        )
        single["cpu_ms_per_event"] = (server.cpu_seconds() - cpu) * 1000 / args.events
        return single
    finally:
        server.stop()


async def plain_aiosqlite(total: int, batch: int) -> dict[str, float]:
    """SQLite's own limit for the same rows (WAL, synchronous=NORMAL as the hub sets it; one
    writer): one INSERT per commit, then one batch per commit."""
    path = Path(tempfile.mkdtemp(prefix="bench-bare-")) / "bare.db"
    rows = [
        (n["source"], n["id"], n["type"], json.dumps(n["data"]))
        for n in (notification(i) for i in range(total))
    ]
    sql = "INSERT INTO bare (source, event_id, type, data) VALUES (?, ?, ?, ?)"
    async with aiosqlite.connect(path, isolation_level=None) as connection:
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute(
            "CREATE TABLE bare (position INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, "
            "event_id TEXT, type TEXT, data TEXT, UNIQUE (source, event_id))"
        )
        started = time.perf_counter()
        for row in rows:
            await connection.execute("BEGIN IMMEDIATE")
            await connection.execute(sql, row)
            await connection.execute("COMMIT")
        single = total / (time.perf_counter() - started)
        started = time.perf_counter()
        for b in range(0, total, batch):
            await connection.execute("BEGIN IMMEDIATE")
            await connection.executemany(
                sql, [(s, i + "-b", t, d) for s, i, t, d in rows[b : b + batch]]
            )
            await connection.execute("COMMIT")
        batched = total / (time.perf_counter() - started)
    return {"single_rows_per_s": single, "batched_rows_per_s": batched}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--intake-only",
        action="store_true",
        help="run `hub serve` without its router and delivery worker",
    )
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=0,
        metavar="MS",
        help="sample `hub serve`'s stack every MS ms of its CPU and print where it went",
    )
    args = parser.parse_args()
    print(f"# intake benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    print(
        f"# {args.events} single pushes with {args.concurrency} clients; "
        f"{args.events * 4} in batches of {args.batch} with {max(1, args.concurrency // 2)} clients"
        f"; router and delivery {'off' if args.intake_only else 'on'} in the hub"
    )
    for backend in args.backends:
        r = await run_backend(backend, args)
        floor = await http_floor(backend, args)
        if backend == "postgres":
            bare = await plain_asyncpg(args.events, args.concurrency, args.batch)
            driver = f"asyncpg, {args.concurrency} connections"
        else:
            bare = await plain_aiosqlite(args.events, args.batch)
            driver = "aiosqlite, one writer"
        library = await asyncio.to_thread(
            command_rate,
            backend,
            [notification(5 * args.events + i) for i in range(args.events)],
            args.concurrency,
            PG_DSN,
        )
        for mode in ("single", "batch"):
            m = r[mode]
            print(
                f"{backend:8} hub {mode:6} {m['events_per_s']:8.0f} events/s   "
                f"p50 {m['p50_ms']:7.1f} ms   p99 {m['p99_ms']:7.1f} ms   "
                f"server CPU {m['cpu_ms_per_event']:.2f} ms/event"
            )
        print(f"{backend:8} hub server peak RSS {r['peak_rss_mib']:.0f} MiB")
        if r["samples"]:
            reports = r["samples"].split("sampled every")[1:]
            for mode, text in zip(("single pushes", "batches"), reports, strict=False):
                print(f"{backend:8} server CPU sampled, {mode}: every{text.rstrip()}")
        print(
            f"{backend:8} HTTP floor    {floor['events_per_s']:8.0f} events/s   "
            f"p50 {floor['p50_ms']:7.1f} ms   p99 {floor['p99_ms']:7.1f} ms   "
            f"server CPU {floor['cpu_ms_per_event']:.2f} ms/event"
        )
        print(
            f"{backend:8} raw ({driver}): {bare['single_rows_per_s']:8.0f} rows/s one per "
            f"commit; {bare['batched_rows_per_s']:8.0f} rows/s in batches of {args.batch}"
        )
        print(
            f"{backend:8} eventsourcing {library['commands_per_s']:8.0f} commands/s with "
            f"{args.concurrency} writers   CPU {library['cpu_ms_per_command']:.2f} ms/command"
        )
        limit = min(bare["single_rows_per_s"], floor["events_per_s"])
        print(
            f"{backend:8} RATIOS single hub/min(raw, floor) "
            f"{r['single']['events_per_s'] / limit:.3f} (goal 0.5)   "
            f"batch hub/raw batch {r['batch']['events_per_s'] / bare['batched_rows_per_s']:.3f} "
            f"(goal 0.5)   CPU {r['single']['cpu_ms_per_event']:.2f} ms/push (goal 1)"
        )
        print(
            f"{backend:8} RATIOS hub/eventsourcing single "
            f"{r['single']['events_per_s'] / library['commands_per_s']:.2f} (goal 2)   "
            f"batch {r['batch']['events_per_s'] / library['commands_per_s']:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
