"""Where a webhook's time goes in the delivery worker: a backlog queued by the hub (in-process,
router on, delivery off) on a fresh PostgreSQL schema, then drained by one delivery worker (the
worker loop `hub serve --role delivery` runs) to the fast receiver (`bench/fast_receiver.py`,
other processes), counting the worker process's CPU, SQL statements and round trips to
PostgreSQL per webhook, and optionally under cProfile. Prints figures; asserts nothing.

    .venv/bin/python bench/delivery_profile.py [--backlog 2000] [--profile] [--receivers 2]
        [--concurrency 16] [--per-receiver 4] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import os
import pstats
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake_profile import _count_round_trips
from hub.bootstrap import running
from hub.infra.db import create_engine, upgrade
from hub.settings import Settings
from tests.integration.api_helpers import bearer, example, running_hub

DEFAULT_URL = os.environ.get(
    "HUB_TEST_POSTGRES_OWNER_URL",
    "postgresql+asyncpg://hub_owner:hub_owner@127.0.0.1:5432/hub_test",
)
HERE = Path(__file__).resolve().parent


def release(i: int) -> dict[str, Any]:
    n: dict[str, Any] = example("release.schedule1-notification")
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(4_000_000 + i)}
    return n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def start_receivers(port: int, count: int) -> list[asyncio.subprocess.Process]:
    """`count` fast receiver processes on one port (SO_REUSEPORT), each ready."""
    processes = []
    for _ in range(count):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "fast_receiver.py"),
            "serve",
            "--port",
            str(port),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
        processes.append(process)
    return processes


async def run(args: argparse.Namespace) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(args.url)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp()),
        database_url=SecretStr(args.url),
        database_schema=schema,
        router_enabled=True,
        router_poll_interval=0.05,
        delivery_enabled=False,
        webhook_allow_private_addresses=True,
        delivery_concurrency=args.concurrency,
        delivery_concurrency_per_receiver=args.per_receiver,
        delivery_batch_size=args.batch_size,
        max_request_bytes=4 * 2**20,
    )
    engine = create_engine(settings)
    await upgrade(engine, settings)
    await engine.dispose()
    port = free_port()
    receivers = await start_receivers(port, args.receivers)
    statements: collections.Counter[str] = collections.Counter()
    counting = False
    round_trips: collections.Counter[str] = collections.Counter()
    _count_round_trips(round_trips, lambda: counting)

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*arguments: Any) -> None:
        if counting:
            statements[re.sub(r"\s+", " ", arguments[2])[:110]] += 1

    monitor = await asyncpg.connect(args.url.replace("+asyncpg", ""))
    try:
        async with running_hub(settings) as hub:
            publisher = bearer(await hub.token("sps"))
            social_work = bearer(await hub.token("sw-glasgow-city", "subscriptions:manage"))
            created = await hub.http.post(
                "/v1/subscriptions",
                json={
                    "url": f"http://127.0.0.1:{port}/hook",
                    "event_types": ["release.schedule1-notification"],
                },
                headers=social_work,
            )
            assert created.status_code == 201, created.text
            backlog = [release(i) for i in range(args.backlog)]
            for b in range(0, len(backlog), 100):
                answer = await hub.http.post(
                    "/v1/events/batch", json=backlog[b : b + 100], headers=publisher
                )
                assert answer.status_code == 200, answer.text
            jobs = f'SELECT count(*) FROM "{schema}".deliveries'
            while await monitor.fetchval(jobs) < args.backlog:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        # Only the delivery worker from here on, as `hub serve --role delivery` runs it (no
        # router, no audit sequencer in this process).
        pending = f"SELECT count(*) FROM \"{schema}\".deliveries WHERE status = 'pending'"
        async with running(settings) as container:
            worker = container.delivery_worker()
            if args.trace:
                _trace(worker)
            stop = asyncio.Event()
            profile = cProfile.Profile()
            counting = True
            started, cpu_started = time.perf_counter(), time.process_time()
            if args.profile:
                profile.enable()
            spy = _spy(args.spy) if args.spy else None
            worker_running = asyncio.create_task(worker.run(stop))
            while await monitor.fetchval(pending):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            stop.set()
            await worker_running
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait()
            if args.profile:
                profile.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            counting = False
        states = await monitor.fetch(
            f'SELECT status, count(*) FROM "{schema}".deliveries GROUP BY status'
        )
    finally:
        await monitor.close()
        for process in receivers:
            process.terminate()
        arrived: set[str] = set()
        requests = 0
        for process in receivers:
            out, _ = await process.communicate()
            for line in out.decode().splitlines():
                requests += 1
                arrived.add(line.split()[0])
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
    n = args.backlog
    print(
        f"backlog of {n} drained in {elapsed:.2f} s: {n / elapsed:.0f} webhooks/s "
        f"(concurrency {args.concurrency}, {args.per_receiver} per receiver, batch "
        f"{args.batch_size}; profiled {args.profile}); jobs {dict(states)}; the receivers saw "
        f"{requests} requests for {len(arrived)} ids"
    )
    print(
        f"{cpu / n * 1000:.3f} ms of the worker process's CPU per webhook (the delivery worker "
        "alone in this process, its idle polls included)"
    )
    print(
        f"{sum(round_trips.values()) / n:.2f} round trips to PostgreSQL per webhook: "
        + ", ".join(f"{k} {v / n:.2f}" for k, v in round_trips.most_common())
    )
    print(f"{sum(statements.values()) / n:.2f} SQL statements per webhook, of which:")
    for text, times in statements.most_common(20):
        print(f"  {times / n:6.3f}  {text}")
    if args.profile:
        stats = pstats.Stats(profile)
        print(f"{stats.total_calls / n:.0f} Python function calls per webhook")  # type: ignore[attr-defined]
        by_part: collections.Counter[str] = collections.Counter()
        for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
            by_part[_part(filename, name)] += row[2]
        total = sum(by_part.values())
        print("own time by part (the profiler's clock):")
        for part, seconds in by_part.most_common():
            print(f"  {part:40s} {100 * seconds / total:5.1f} %")
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


_PARTS = (
    ("httpx", "HTTP client (httpx, httpcore, h11, anyio)"),
    ("httpcore", "HTTP client (httpx, httpcore, h11, anyio)"),
    ("/h11/", "HTTP client (httpx, httpcore, h11, anyio)"),
    ("anyio", "HTTP client (httpx, httpcore, h11, anyio)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("greenlet", "SQLAlchemy"),
    ("asyncpg", "asyncpg"),
    ("hub/infra/deliveries", "hub: the outbox (claims, outcomes)"),
    ("hub/infra/audit", "hub: audit entries"),
    ("hub/domain/audit", "hub: audit entries"),
    ("hub/services/delivery", "hub: the worker"),
    ("hub/services/webhook", "hub: rendering and signing"),
    ("hub/domain/cloudevents", "hub: rendering and signing"),
    ("hub/domain/policy", "hub: redaction"),
    ("hub/domain/protection", "hub: opening sealed fields"),
    ("hub/infra/protection", "hub: opening sealed fields"),
    ("standardwebhooks", "hub: rendering and signing"),
    ("asyncio", "asyncio"),
    ("selectors", "asyncio"),
    ("json", "json"),
    ("hub/", "hub: other"),
)


def _part(filename: str, name: str) -> str:
    if filename == "~":
        text = name
        if "socket" in text or "epoll" in text:
            return "system calls (sockets, epoll)"
        if "ed25519" in text or "hmac" in text or "cryptography" in text:
            return "hub: rendering and signing"
    for marker, part in _PARTS:
        if marker in filename:
            return part
    return "other"


def _spy(path: str) -> subprocess.Popen[bytes]:
    """py-spy (`PY_SPY`, else on PATH) sampling this process during the drain, collapsed
    stacks to `path` (its samples of a thread not waiting in epoll or a lock: on a loaded
    machine, time waiting for a core inside a system call counts too)."""
    spy = subprocess.Popen(
        [
            os.environ.get("PY_SPY", "py-spy"),
            "record",
            "--pid",
            str(os.getpid()),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            path,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the drain starts
    return spy


def _trace(worker: Any) -> None:
    """Print each claim and each group of outcomes recorded, with when (a debugging aid)."""
    queue = worker._queue
    claim, started = queue.claim, time.perf_counter()

    async def traced(*args: Any, **kwargs: Any) -> Any:
        before = time.perf_counter()
        jobs = await claim(*args, **kwargs)
        print(
            f"{before - started:8.3f} claim {len(jobs)} of {kwargs['limit']} "
            f"in {1000 * (time.perf_counter() - before):.1f} ms, room {kwargs.get('room')}"
        )
        return jobs

    queue.claim = traced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--receivers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-receiver", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--spy", help="sample the drain with py-spy into this file (raw)")
    parser.add_argument("--trace", action="store_true", help="print each claim")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--url", default=DEFAULT_URL)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
