"""Delivery benchmark: from `POST /v1/events` to the webhook arriving at a local receiver.

Runs two hub processes on PostgreSQL in a throwaway schema: `hub serve` (the API and the
router, delivery off) and `hub serve --role delivery` (the webhook worker alone, so that it is
woken, or not, across processes); a real HTTP receiver on loopback; and a Glasgow City social
work subscription to Schedule 1 release notices.

Phase 1 pushes single notifications at each of a few steady rates (each push in its own task,
on schedule) and measures, per notification, the time from the push to the signed webhook's
arrival (p50, p99). Phase 2 stops the delivery process, pushes a backlog, waits until the
router has queued every job, starts the delivery process again and measures how many webhooks
a second reach the receiver (first to last arrival: the worker's drain rate, without routing
or start-up). The reference is the receiver's own limit in the same run: a plain httpx client
in another process posting the same bodies to it with as many requests in flight as the
worker may have. Prints figures; asserts nothing.

    .venv/bin/python bench/delivery.py [--rates 50,100,200] [--seconds 5] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://hub:hub@127.0.0.1:5432/hub_test")
#: Pushes in flight at once in phase 1 (as `bench/intake.py`'s clients).
CLIENTS = 8
RELEASE = json.loads((ROOT / "events/examples/release.schedule1-notification.json").read_text())


def release(i: int) -> dict[str, Any]:
    n = json.loads(json.dumps(RELEASE))
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(3_000_000 + i)}
    return n


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Receiver:
    """Records when each notification id first arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        #: The same arrivals on the wall clock (to compare with the decisions' times).
        self.arrived_at: dict[str, float] = {}
        self.requests = 0

    async def endpoint(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests += 1
        # Payload version 2 (the default for new subscriptions) wraps it in Standard Webhooks'
        # envelope; version 1 is the bare content.
        notification_id = body.get("data", body)["notification"]["id"]
        self.arrived.setdefault(notification_id, time.perf_counter())
        self.arrived_at.setdefault(notification_id, time.time())
        return Response(status_code=204)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


async def token(http: httpx.AsyncClient, client: dict[str, Any]) -> str:
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    answer.raise_for_status()
    value: str = answer.json()["access_token"]
    return value


async def wait_for(receiver: Receiver, ids: list[str], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and not all(i in receiver.arrived for i in ids):  # noqa: ASYNC110 - polls a plain dict the receiver fills
        await asyncio.sleep(0.01)


def start_hub(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_hub(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


async def steady(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    receiver: Receiver,
    decisions: asyncpg.Connection,
    schema: str,
    rate: float,
    seconds: float,
    offset: int,
) -> None:
    """Single pushes at `rate` a second on schedule, at most `CLIENTS` at a time (the rate
    pushed says whether intake kept up); push-to-webhook and decision-to-webhook."""
    sent: dict[str, float] = {}
    count = int(rate * seconds)
    clients = asyncio.Semaphore(CLIENTS)

    async def push(n: dict[str, Any]) -> None:
        async with clients:
            sent[n["id"]] = time.perf_counter()
            answer = await http.post("/v1/events", json=n, headers=headers)
            answer.raise_for_status()

    started = time.perf_counter()
    pushes = []
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        pushes.append(asyncio.create_task(push(release(offset + i))))
    await asyncio.gather(*pushes)
    pushed = time.perf_counter() - started
    await wait_for(receiver, list(sent), seconds=120)
    latencies = [receiver.arrived[i] - t for i, t in sent.items() if i in receiver.arrived]
    # From the router's decision (its commit) on, the time is the delivery worker's.
    decided = await decisions.fetch(
        f'SELECT event_id, decided_at FROM "{schema}".disclosures WHERE event_id = ANY($1)',
        list(sent),
    )
    after_decision = [
        receiver.arrived_at[row["event_id"]] - row["decided_at"].timestamp()
        for row in decided
        if row["event_id"] in receiver.arrived_at
    ]
    print(
        f"steady {rate:.0f}/s for {seconds:.0f} s (pushed at {count / pushed:.0f}/s): "
        f"{len(latencies)} of {count} webhooks received; push-to-webhook "
        f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; decision-to-webhook "
        f"p50 {percentile(after_decision, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(after_decision, 0.99) * 1000:.0f} ms",
        flush=True,
    )


async def reference(url: str, count: int, concurrency: int) -> None:
    """The receiver's own limit: `count` posts of a webhook-sized body, `concurrency` at a time
    (run in a process of its own: `--reference URL`)."""
    body = json.dumps({"disclosure": {"id": "x" * 36}, "notification": release(0)}).encode()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def post() -> None:
            while not queue.empty():
                queue.get_nowait()
                n = json.loads(body)
                n["notification"]["id"] = str(uuid.uuid4())
                answer = await http.post(url, content=json.dumps(n).encode())
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(concurrency)))
        print(count / (time.perf_counter() - started))


async def count_jobs(admin: asyncpg.Connection, schema: str) -> int:
    found: int = await admin.fetchval(f'SELECT count(*) FROM "{schema}".deliveries')
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,100,200", help="pushes a second in phase 1")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each steady run")
    parser.add_argument("--backlog", type=int, default=2000, help="notifications in phase 2")
    parser.add_argument("--concurrency", type=int, default=16, help="HUB_DELIVERY_CONCURRENCY")
    parser.add_argument(
        "--per-receiver", type=int, default=4, help="HUB_DELIVERY_CONCURRENCY_PER_RECEIVER"
    )
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        await reference(args.reference, args.backlog, args.concurrency)
        return
    print(f"# delivery benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )

    receiver = Receiver()
    receiver_port = free_port()
    server = _QuietServer(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])]),
            host="127.0.0.1",
            port=receiver_port,
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
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
        }
    )
    print(
        f"# delivery poll interval {os.environ.get('HUB_DELIVERY_POLL_INTERVAL', 'default')}, "
        f"concurrency {args.concurrency} ({args.per_receiver} per receiver, where the hub has "
        f"that setting); a delivery process apart from the API's; "
        f"schema {schema}"
    )
    port = free_port()
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
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        ) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            sw_token = await token(http, social_work)
            created = await http.post(
                "/v1/subscriptions",
                json={
                    "url": f"http://127.0.0.1:{receiver_port}/hook",
                    "event_types": ["release.schedule1-notification"],
                },
                headers={"Authorization": f"Bearer {sw_token}"},
            )
            created.raise_for_status()
            headers = {"Authorization": f"Bearer {await token(http, publisher)}"}

            # Phase 1: steady rates, one notification per request.
            for n, rate in enumerate(float(r) for r in args.rates.split(",")):
                await steady(
                    http, headers, receiver, admin, schema, rate, args.seconds, 1_000_000 * (n + 1)
                )

            # Phase 2: a backlog queued while no worker runs, then drained.
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
            delivery = start_hub(env, "--role", "delivery")
            await wait_for(receiver, ids, seconds=600)
            arrivals = sorted(receiver.arrived[i] for i in ids if i in receiver.arrived)
            drained = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
            print(
                f"backlog of {args.backlog}: {len(arrivals)} webhooks received; "
                f"drained at {drained:.0f} webhooks/s (first to last arrival)",
                flush=True,
            )
            print(f"receiver saw {receiver.requests} requests for {len(receiver.arrived)} ids")
            stop_hub(delivery)
            delivery = None

            # The receiver's own limit, from another process, with the worker's concurrency.
            answer = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--reference",
                f"http://127.0.0.1:{receiver_port}/hook",
                "--backlog",
                str(args.backlog),
                "--concurrency",
                str(args.concurrency),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await answer.communicate()
            limit = float(out.decode().strip())
            print(
                f"receiver limit (plain httpx, {args.concurrency} in flight): {limit:.0f} posts/s;"
                f" drain / receiver limit = {drained / limit:.2f}"
            )
    finally:
        stop_hub(delivery)
        stop_hub(hub)
        server.should_exit = True
        await serving
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
