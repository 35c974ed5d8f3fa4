"""Delivery benchmark: from `POST /v1/events` to the webhook arriving at a local receiver.

Runs `hub serve` (router and delivery worker inside) on PostgreSQL in a throwaway schema, a real
HTTP receiver on loopback, and a Glasgow City social work subscription to Schedule 1 release
notices. Phase 1 pushes notifications one by one at a steady rate and measures, per notification,
the time from the push to the signed webhook's arrival (p50, p99). Phase 2 pushes a backlog in
batches as fast as the API takes them and measures how many disclosures a second reach the
receiver (the maximum sustained delivery rate). Prints figures; asserts nothing.

    .venv/bin/python bench/delivery.py [--rate 20] [--seconds 15] [--backlog 2000]
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
        self.requests = 0

    async def endpoint(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests += 1
        self.arrived.setdefault(body["notification"]["id"], time.perf_counter())
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="pushes a second in phase 1")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of phase 1")
    parser.add_argument("--backlog", type=int, default=2000, help="notifications in phase 2")
    args = parser.parse_args()
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
            "HUB_DELIVERY_POLL_INTERVAL": "0.05",
            "HUB_MAX_REQUEST_BYTES": str(4 * 2**20),
        }
    )
    port = free_port()
    hub: subprocess.Popen[bytes] | None = None
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
        hub = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
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

            # Phase 1: a steady rate, one notification per request.
            sent: dict[str, float] = {}
            count = int(args.rate * args.seconds)
            started = time.perf_counter()
            for i in range(count):
                due = started + i / args.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                n = release(i)
                sent[n["id"]] = time.perf_counter()
                answer = await http.post("/v1/events", json=n, headers=headers)
                answer.raise_for_status()
            await wait_for(receiver, list(sent), seconds=60)
            latencies = [receiver.arrived[i] - t for i, t in sent.items() if i in receiver.arrived]
            print(
                f"steady {args.rate:.0f}/s for {args.seconds:.0f} s: {len(latencies)} of {count} "
                "webhooks received; push-to-webhook "
                f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms,"
                f" p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms"
            )

            # Phase 2: a backlog as fast as the API takes it.
            backlog = [release(100_000 + i) for i in range(args.backlog)]
            ids = [n["id"] for n in backlog]
            started = time.perf_counter()
            for b in range(0, len(backlog), 100):
                answer = await http.post(
                    "/v1/events/batch", json=backlog[b : b + 100], headers=headers
                )
                answer.raise_for_status()
            pushed = time.perf_counter() - started
            await wait_for(receiver, ids, seconds=300)
            elapsed = time.perf_counter() - started
            got = sum(1 for i in ids if i in receiver.arrived)
            print(
                f"backlog of {args.backlog}: pushed in {pushed:.1f} s "
                f"({args.backlog / pushed:.0f}/s); {got} webhooks received in {elapsed:.1f} s: "
                f"{got / elapsed:.0f} disclosures/s delivered end to end"
            )
            print(f"receiver saw {receiver.requests} requests for {len(receiver.arrived)} ids")
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(timeout=30)
        server.should_exit = True
        await serving
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
