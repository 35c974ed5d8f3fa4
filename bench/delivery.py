"""Delivery benchmark: from `POST /v1/events` to the webhook arriving at a local receiver.

Runs two hub processes on PostgreSQL in a throwaway schema: `hub serve` (the API and the
router, delivery off) and `hub serve --role delivery` (the webhook worker alone, so that it is
woken, or not, across processes); a fast receiver (`bench/fast_receiver.py`: `--receivers`
processes on one port, `SO_REUSEPORT`) on loopback; and a Glasgow City social work
subscription to Schedule 1 release notices.

Phase 1 pushes single notifications at each of a few steady rates, from `--pushers` processes
(each pushing its share on schedule, each push in its own task, at most `--clients` in flight
per process) and measures, per notification, the time from the push to the signed webhook's
arrival (p50, p99), from the router's decision to the arrival, and how far the router's
decisions lag intake (decision time - push time); and the delivery process's CPU per webhook.
Phase 2 stops the delivery process, pushes a backlog, waits until the router has queued every
job, makes them due a few seconds ahead, starts the delivery process again (its start-up is
over before they are due) and measures how many webhooks a second reach the receiver (first to
last arrival: the worker's drain rate, without routing or start-up) and the delivery process's
CPU per webhook. The reference is the receiver's own limit in the same run: `--pushers` load
processes (`fast_receiver.py load`, raw asyncio, keep-alive) posting webhook-sized bodies to it
with as many requests in flight in all as the worker may have. Prints figures; asserts nothing.

    .venv/bin/python bench/delivery.py [--rates 50,100,200] [--seconds 5] [--backlog 2000]
        [--pushers 2] [--receivers 2] [--concurrency 16] [--per-receiver 4]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PG_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://hub:hub@127.0.0.1:5432/hub_test")
RELEASE = json.loads((ROOT / "events/examples/release.schedule1-notification.json").read_text())
#: The tree whose hub is measured: the first PYTHONPATH entry that holds a `hub` package, else
#: this bench's. The hub processes start in it, since `python -m` puts the working directory
#: ahead of PYTHONPATH (from another tree's directory, `PYTHONPATH=/tmp/old` alone would
#: measure that directory's hub).
HUB_TREE = next(
    (
        entry
        for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if entry and (Path(entry) / "hub" / "__init__.py").exists()
    ),
    str(ROOT),
)
#: Seconds ahead the backlog's jobs are made due, so that the delivery process has started.
DUE_AHEAD = 6.0


def release(i: int) -> dict[str, Any]:
    n = json.loads(json.dumps(RELEASE))
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(3_000_000 + i)}
    return n


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


#: `time.time() - time.perf_counter()`: perf_counter is the system's monotonic clock on Linux,
#: the same in every process, so the receivers' arrival times are turned into wall times.
WALL_OFFSET = time.time() - time.perf_counter()


class Receivers:
    """`count` fast receiver processes on one port; when each notification id first arrived."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self._processes: list[asyncio.subprocess.Process] = []
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, count: int) -> None:
        for _ in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "fast_receiver.py"),
                "serve",
                "--port",
                str(self.port),
                stdout=asyncio.subprocess.PIPE,
                limit=2**20,
            )
            assert process.stdout is not None
            assert (await process.stdout.readline()).strip() == b"ready"
            self._processes.append(process)
            self._readers.append(asyncio.create_task(self._read(process)))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            notification_id, _, at = line.decode().partition(" ")
            self.requests += 1
            self.arrived.setdefault(notification_id, float(at))

    def arrived_at(self, notification_id: str) -> float:
        """Its first arrival on the wall clock."""
        return self.arrived[notification_id] + WALL_OFFSET

    async def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            await process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        cwd=HUB_TREE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def token(http: httpx.AsyncClient, client: dict[str, Any]) -> str:
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    answer.raise_for_status()
    value: str = answer.json()["access_token"]
    return value


async def wait_for(receivers: Receivers, ids: list[str], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and not all(i in receivers.arrived for i in ids):  # noqa: ASYNC110 - polls a plain dict the readers fill
        await asyncio.sleep(0.01)


#: Whether to print each router batch (`--timeline`).
TIMELINE: list[bool] = []
#: Where the hub processes' output goes (`--hub-logs DIR`: a file per process; else nowhere).
HUB_LOGS: list[Path] = []


def start_hub(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    output: Any = subprocess.DEVNULL
    if HUB_LOGS:
        name = "-".join(a.strip("-") for a in args) or "serve"
        output = (HUB_LOGS[0] / f"hub-{name}-{time.time():.0f}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", *args],
        env=env,
        cwd=HUB_TREE,
        stdout=output,
        stderr=output,
    )


def stop_hub(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return float(times.user + times.system)


async def push(args: argparse.Namespace) -> None:
    """One pusher process (`--push`): `--count` single pushes at `--rate` a second from
    `--start` (perf_counter), at most `--clients` in flight; prints one JSON line per push
    (id, perf_counter and wall time when sent) and then the rate reached."""
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {args.token}"}
    sent: list[tuple[str, float, float, float]] = []
    clients = asyncio.Semaphore(args.clients)
    async with httpx.AsyncClient(base_url=args.push, timeout=60, limits=limits) as http:

        async def one(n: dict[str, Any]) -> None:
            async with clients:
                at, wall = time.perf_counter(), time.time()
                answer = await http.post("/v1/events", json=n, headers=headers)
                answer.raise_for_status()
                sent.append((n["id"], at, wall, time.time()))

        tasks = []
        await asyncio.sleep(max(0.0, args.start - time.perf_counter()))
        started = time.perf_counter()
        for i in range(args.count):
            await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(release(args.offset + i))))
        await asyncio.gather(*tasks)
        pushed = time.perf_counter() - started
    for notification_id, at, wall, answered in sent:
        print(json.dumps([notification_id, at, wall, answered]))
    print(json.dumps({"rate": args.count / pushed}))


async def steady(
    args: argparse.Namespace,
    base_url: str,
    publisher_token: str,
    receivers: Receivers,
    decisions: asyncpg.Connection,
    schema: str,
    delivery: subprocess.Popen[bytes],
    api: subprocess.Popen[bytes],
    rate: float,
    offset: int,
    commits: list[float],
) -> None:
    """Single pushes at `rate` a second on schedule from `--pushers` processes (the rate
    reached says whether intake kept up); push-to-webhook, decision-to-webhook and
    push-to-decision (the router's lag), and the delivery process's CPU per webhook."""
    count = int(rate * args.seconds)
    start = time.perf_counter() + 2.0  # every pusher started and connected
    share = [
        count // args.pushers + (1 if n < count % args.pushers else 0) for n in range(args.pushers)
    ]
    cpu_before, api_before = cpu_seconds(delivery), cpu_seconds(api)
    pushers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--push",
            base_url,
            "--token",
            publisher_token,
            "--rate",
            str(rate / args.pushers),
            "--count",
            str(share[n]),
            "--offset",
            str(offset + n * 100_000),
            "--start",
            str(start),
            "--clients",
            str(args.clients),
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(args.pushers)
    ]
    sent: dict[str, tuple[float, float, float]] = {}
    reached = 0.0
    for pusher in pushers:
        out, _ = await pusher.communicate()
        for line in out.decode().splitlines():
            row = json.loads(line)
            if isinstance(row, dict):
                reached += row["rate"]
            else:
                sent[row[0]] = (row[1], row[2], row[3])
    await wait_for(receivers, list(sent), seconds=120)
    cpu = cpu_seconds(delivery) - cpu_before
    api_cpu = cpu_seconds(api) - api_before
    latencies = [
        receivers.arrived[i] - t for i, (t, _, _) in sent.items() if i in receivers.arrived
    ]
    decided = await decisions.fetch(
        f'SELECT event_id, decided_at FROM "{schema}".disclosures WHERE event_id = ANY($1)',
        list(sent),
    )
    after_decision = [
        receivers.arrived_at(row["event_id"]) - row["decided_at"].timestamp()
        for row in decided
        if row["event_id"] in receivers.arrived
    ]
    router_lag = [row["decided_at"].timestamp() - sent[row["event_id"]][1] for row in decided]
    await print_stages(decisions, schema, sent, receivers, commits)
    print(
        f"steady {rate:.0f}/s for {args.seconds:.0f} s (pushed at {reached:.0f}/s by "
        f"{args.pushers} processes): {len(latencies)} of {count} webhooks received; "
        f"push-to-webhook p50 {percentile(latencies, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; decision-to-webhook "
        f"p50 {percentile(after_decision, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(after_decision, 0.99) * 1000:.0f} ms; router lag (decision - push) "
        f"p50 {percentile(router_lag, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(router_lag, 0.99) * 1000:.0f} ms; delivery process CPU "
        f"{cpu / max(len(latencies), 1) * 1000:.2f} ms per webhook (idle polls included); "
        f"API and router process CPU {api_cpu / max(count, 1) * 1000:.2f} ms per push",
        flush=True,
    )


#: The stages of one notification's way, each from the previous mark (see `print_stages`).
STAGES = (
    ("intake: push sent -> event recorded_at", "sent", "recorded"),
    ("intake: recorded_at -> push answered", "recorded", "answered"),
    ("router picks it up: recorded_at -> decided_at", "recorded", "decided"),
    ("router decides: decided_at -> job created_at", "decided", "created"),
    ("router records: created_at -> jobs' commit notified", "created", "committed"),
    ("worker wakes and claims: commit -> attempted_at", "committed", "attempted"),
    ("render, sign, send: attempted_at -> receiver", "attempted", "arrived"),
)


async def print_stages(
    db: asyncpg.Connection,
    schema: str,
    sent: dict[str, tuple[float, float, float]],
    receivers: Receivers,
    commits: list[float],
) -> None:
    """Where each notification's time went, stage by stage (p50, p90, p99, max in ms), from
    the pushers' clocks, the rows' timestamps (events.recorded_at, disclosures.decided_at,
    deliveries.created_at, the first delivery_attempts.attempted_at), when the bench heard
    the jobs' commit (the first `hub_deliveries` notification at or after a job's created_at:
    the trigger notifies on commit) and the receivers' arrival times; and the router's batch
    sizes (disclosures sharing one decided_at were decided in one batch)."""
    rows = await db.fetch(
        f"""SELECT e.event_id, e.recorded_at, d.decided_at, j.created_at,
                   (SELECT min(a.attempted_at) FROM "{schema}".delivery_attempts a
                    WHERE a.delivery_id = j.delivery_id) AS attempted_at
            FROM "{schema}".events e
            JOIN "{schema}".disclosures d ON d.event_position = e.position
            JOIN "{schema}".deliveries j ON j.disclosure_id = d.disclosure_id
            WHERE e.event_id = ANY($1)""",
        list(sent),
    )
    notified = sorted(commits)
    marks: list[dict[str, float]] = []
    for row in rows:
        if row["event_id"] not in receivers.arrived or row["attempted_at"] is None:
            continue
        created = row["created_at"].timestamp()
        after = bisect.bisect_left(notified, created)
        _, wall, answered = sent[row["event_id"]]
        marks.append(
            {
                "sent": wall,
                "answered": answered,
                "recorded": row["recorded_at"].timestamp(),
                "decided": row["decided_at"].timestamp(),
                "created": created,
                "committed": notified[after] if after < len(notified) else float("nan"),
                "attempted": row["attempted_at"].timestamp(),
                "arrived": receivers.arrived_at(row["event_id"]),
            }
        )
    for name, start, end in STAGES:
        spans = [(m[end] - m[start]) * 1000 for m in marks]
        spans = [s for s in spans if s == s]
        print(
            f"  {name:<55} p50 {percentile(spans, 0.5):7.1f}  p90 {percentile(spans, 0.9):7.1f}"
            f"  p99 {percentile(spans, 0.99):7.1f}  max {max(spans, default=float('nan')):7.1f} ms"
        )
    batches: dict[float, list[float]] = {}
    for row in rows:
        batches.setdefault(row["decided_at"].timestamp(), []).append(row["recorded_at"].timestamp())
    sizes = [len(recorded) for recorded in batches.values()]
    if TIMELINE:
        begun = min(m["sent"] for m in marks)
        for decided, recorded in sorted(batches.items()):
            print(
                f"    batch decided at {decided - begun:7.3f} s: {len(recorded):3d} events "
                f"recorded {min(recorded) - begun:7.3f}-{max(recorded) - begun:7.3f} s"
            )
    print(
        f"  router batches: {len(sizes)} for {len(rows)} events; size p50 "
        f"{percentile(sizes, 0.5):.0f}, p90 {percentile(sizes, 0.9):.0f}, "
        f"max {max(sizes, default=0)}",
        flush=True,
    )


async def reference(port: int, count: int, processes: int, connections: int) -> float:
    """The receivers' own limit: `processes` load processes posting `count` webhook-sized
    bodies in all, `connections` in flight in all; posts a second in all."""
    loads = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "fast_receiver.py"),
            "load",
            "--port",
            str(port),
            "--count",
            str(count // processes),
            "--connections",
            str(max(1, connections // processes)),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    rates = [float((await load.communicate())[0].decode().strip()) for load in loads]
    return sum(rates)


async def count_jobs(admin: asyncpg.Connection, schema: str) -> int:
    found: int = await admin.fetchval(f'SELECT count(*) FROM "{schema}".deliveries')
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,100,200", help="pushes a second in phase 1")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each steady run")
    parser.add_argument("--backlog", type=int, default=2000, help="notifications in phase 2")
    parser.add_argument("--pushers", type=int, default=2, help="pushing processes in phase 1")
    parser.add_argument("--clients", type=int, default=32, help="pushes in flight per pusher")
    parser.add_argument("--receivers", type=int, default=2, help="receiver processes")
    parser.add_argument("--concurrency", type=int, default=16, help="HUB_DELIVERY_CONCURRENCY")
    parser.add_argument(
        "--per-receiver", type=int, default=4, help="HUB_DELIVERY_CONCURRENCY_PER_RECEIVER"
    )
    parser.add_argument(
        "--hub-logs",
        type=Path,
        help="keep the hub processes' output in this directory (with PYTHONASYNCIODEBUG=1 in "
        "the environment, asyncio names each step that held the event loop over 100 ms)",
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print when each router batch was decided"
    )
    parser.add_argument("--push", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.push:
        await push(args)
        return
    if args.timeline:
        TIMELINE.append(True)
    if args.hub_logs:
        args.hub_logs.mkdir(parents=True, exist_ok=True)
        HUB_LOGS.append(args.hub_logs)
    print(f"# delivery benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    receivers = Receivers(free_port())
    await receivers.start(args.receivers)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    commits: list[float] = []

    def heard(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == schema:  # other schemas' jobs notify the same channel
            commits.append(time.time())

    listener = await asyncpg.connect(PG_DSN)
    await listener.add_listener("hub_deliveries", heard)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": tempfile.mkdtemp(prefix="bench-delivery-"),
            "HUB_DATABASE_URL": PG_DSN.replace("postgresql://", "postgresql+asyncpg://"),
            "HUB_DATABASE_SCHEMA": schema,
            "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "HUB_ROUTER_POLL_INTERVAL": "0.05",
            "HUB_DELIVERY_CONCURRENCY": str(args.concurrency),
            "HUB_DELIVERY_CONCURRENCY_PER_RECEIVER": str(args.per_receiver),
            "HUB_MAX_REQUEST_BYTES": str(4 * 2**20),
            # Pushers share one client: its rate limit is not what is measured here.
            "HUB_RATE_LIMIT_PER_SECOND": "100000",
            "HUB_RATE_LIMIT_BURST": "100000",
        }
    )
    print(
        f"# delivery poll interval {os.environ.get('HUB_DELIVERY_POLL_INTERVAL', 'default')}, "
        f"concurrency {args.concurrency} ({args.per_receiver} per receiver); a delivery process "
        f"apart from the API's; {args.receivers} receiver processes; {args.pushers} pushers "
        f"({args.clients} in flight each); schema {schema}"
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    hub: subprocess.Popen[bytes] | None = None
    delivery: subprocess.Popen[bytes] | None = None
    try:
        cli(env, "db", "upgrade")
        publisher = json.loads(
            cli(
                env,
                "clients",
                "add",
                "--name",
                "bench PR2",
                "--agency",
                "sps",
                "--scope",
                "events:publish",
                "--json",
            )
        )
        social_work = json.loads(
            cli(
                env,
                "clients",
                "add",
                "--name",
                "bench CJSW",
                "--agency",
                "sw-glasgow-city",
                "--scope",
                "subscriptions:manage feed:read",
                "--json",
            )
        )
        hub = start_hub({**env, "HUB_DELIVERY_ENABLED": "false"}, "--port", str(port))
        delivery = start_hub(env, "--role", "delivery")
        async with httpx.AsyncClient(
            base_url=base_url,
            timeout=60,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        ) as http:
            for _ in range(1200):  # a busy machine starts the hub slowly
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("the hub did not become ready within two minutes")
            sw_token = await token(http, social_work)
            created = await http.post(
                "/v1/subscriptions",
                json={
                    "url": f"http://127.0.0.1:{receivers.port}/hook",
                    "event_types": ["release.schedule1-notification"],
                },
                headers={"Authorization": f"Bearer {sw_token}"},
            )
            created.raise_for_status()
            # Phase 1: steady rates, one notification per request (a fresh token for each
            # phase: on a busy machine a phase can outlast one).
            for n, rate in enumerate(float(r) for r in args.rates.split(",")):
                await steady(
                    args,
                    base_url,
                    await token(http, publisher),
                    receivers,
                    admin,
                    schema,
                    delivery,
                    hub,
                    rate,
                    1_000_000 * (n + 1),
                    commits,
                )

            # Phase 2: a backlog queued while no worker runs, then drained.
            headers = {"Authorization": f"Bearer {await token(http, publisher)}"}
            stop_hub(delivery)
            jobs_before = await count_jobs(admin, schema)
            backlog = [release(100_000 + i) for i in range(args.backlog)]
            ids = [n["id"] for n in backlog]
            for b in range(0, len(backlog), 100):
                answer = await http.post(
                    "/v1/events/batch", json=backlog[b : b + 100], headers=headers
                )
                answer.raise_for_status()
            for _ in range(6000):
                if await count_jobs(admin, schema) >= jobs_before + args.backlog:
                    break
                await asyncio.sleep(0.05)
            # Due once the delivery process has started: its start-up is not in its CPU figure.
            await admin.execute(
                f'UPDATE "{schema}".deliveries SET next_attempt_at = now() + $1::interval '
                "WHERE status = 'pending'",
                timedelta(seconds=DUE_AHEAD),
            )
            delivery = start_hub(env, "--role", "delivery")
            await asyncio.sleep(DUE_AHEAD - 1.0)
            cpu_before = cpu_seconds(delivery)
            await wait_for(receivers, ids, seconds=600)
            cpu = cpu_seconds(delivery) - cpu_before
            arrivals = sorted(receivers.arrived[i] for i in ids if i in receivers.arrived)
            drained = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
            print(
                f"backlog of {args.backlog}: {len(arrivals)} webhooks received; "
                f"drained at {drained:.0f} webhooks/s (first to last arrival); delivery process "
                f"CPU {cpu / len(arrivals) * 1000:.2f} ms per webhook",
                flush=True,
            )
            print(f"receivers saw {receivers.requests} requests for {len(receivers.arrived)} ids")
            stop_hub(delivery)
            delivery = None

            # The receivers' own limit, from other processes, with the worker's concurrency.
            limit = await reference(
                receivers.port, max(args.backlog, 4000), args.pushers, args.concurrency
            )
            print(
                f"receiver limit ({args.receivers} receiver processes, {args.pushers} raw "
                f"asyncio load processes, {args.concurrency} in flight): {limit:.0f} posts/s;"
                f" drain / receiver limit = {drained / limit:.2f}"
            )
    finally:
        stop_hub(delivery)
        stop_hub(hub)
        await receivers.stop()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
        await listener.close()


if __name__ == "__main__":
    asyncio.run(main())
