"""Where one push's time goes: pushes through the API in-process (ASGI transport, no network;
one client, or `--concurrency` clients sharing one token; single pushes, or `--batch` N a request)
on a fresh PostgreSQL schema, counting the SQL statements of each, and optionally under
cProfile. Prints figures; asserts nothing.

    .venv/bin/python bench/intake_profile.py [--pushes 300] [--concurrency 1] [--batch 1]
        [--router] [--profile] [--profile-file FILE] [--sample MS] [--uvloop]
        [--url postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test]

`--profile` also counts Python function calls per push, the figure that does not move with the
machine's load (CPU milliseconds do, on a shared machine, by tens of per cent).

`--router` also runs the in-process router, as `hub serve` does.

`--sample MS` samples the event loop's stack every MS milliseconds of CPU while the pushes run
(`ITIMER_PROF`, no tracing: the timing is not distorted the way cProfile's is) and prints where
the samples fall: each is charged to the innermost frame that names one of the parts (driver,
SQLAlchemy, audit, store, validation, intake, auth, HTTP/ASGI, event loop), or to the bench's
own client or a background worker (a stack outside any push); and the top leaf functions. The
timer's resolution is the kernel's tick (4 ms here): take a few thousand pushes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import asyncpg.connection
import asyncpg.prepared_stmt
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stack_sampler import Sampler

from hub.infra.db import create_engine, upgrade
from hub.settings import Settings
from tests.integration.api_helpers import bearer, example, running_hub

DEFAULT_URL = os.environ.get(
    "HUB_TEST_POSTGRES_OWNER_URL",
    "postgresql+asyncpg://hub_owner:hub_owner@127.0.0.1:5432/hub_test",
)


_EXAMPLE = example("custody.admission")


def notification(i: int) -> dict[str, Any]:
    n: dict[str, Any] = json.loads(json.dumps(_EXAMPLE))
    n["id"] = str(uuid.uuid4())
    n["identifiers"] = {"sps_number": str(2_000_000 + i)}
    return n


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
        router_enabled=args.router,
    )
    engine = create_engine(settings)
    await upgrade(engine, settings)
    await engine.dispose()
    statements: collections.Counter[str] = collections.Counter()
    counting = False
    round_trips: collections.Counter[str] = collections.Counter()
    _count_round_trips(round_trips, lambda: counting)

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*arguments: Any) -> None:
        if counting:
            statements[re.sub(r"\s+", " ", arguments[2])[:100]] += 1

    try:
        async with running_hub(settings) as hub:
            token = bearer(await hub.token("sps"))
            for i in range(20):  # warm up: caches, prepared statements, the first person keys
                await hub.http.post("/v1/events", json=notification(900_000 + i), headers=token)
            # The background workers' (audit sequencer, delivery poll) CPU per second while idle:
            # it is charged per second, not per push, so it is taken off the per-push figure.
            # Their function calls and round trips per second too, counted the same way.
            idle_profile = cProfile.Profile()
            counting = True
            idle_started, idle_cpu_started = time.perf_counter(), time.process_time()
            if args.profile:
                idle_profile.enable()
            await asyncio.sleep(3)
            if args.profile:
                idle_profile.disable()
            idle_seconds = time.perf_counter() - idle_started
            idle_rate = (time.process_time() - idle_cpu_started) / idle_seconds
            counting = False
            idle_trips = sum(round_trips.values()) / idle_seconds
            idle_statements = sum(statements.values()) / idle_seconds
            round_trips.clear()
            statements.clear()
            profile = cProfile.Profile()
            # A push runs in the bench client's task (the ASGI transport awaits the app), or in
            # the task that appends a group of pushes.
            pushing = (__file__, "intake_group.py")
            sampler = Sampler(args.sample / 1000, pushing) if args.sample else None
            if sampler is not None:
                sampler.start()
            counting = True
            started = time.perf_counter()
            cpu_started = time.process_time()
            if args.profile:
                profile.enable()

            async def push(first: int) -> None:
                for i in range(first, args.pushes // args.batch, args.concurrency):
                    if args.batch > 1:  # `--pushes` counts notifications, not requests
                        body = [notification(i * args.batch + j) for j in range(args.batch)]
                        answer = await hub.http.post("/v1/events/batch", json=body, headers=token)
                        assert answer.status_code == 200, answer.text
                        continue
                    answer = await hub.http.post("/v1/events", json=notification(i), headers=token)
                    assert answer.status_code == 201, answer.text

            await asyncio.gather(*(push(first) for first in range(args.concurrency)))
            if args.profile:
                profile.disable()
            if sampler is not None:
                sampler.stop()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            counting = False
    finally:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
    print(
        f"{args.pushes} pushes in {elapsed:.2f} s: {args.pushes / elapsed:.0f}/s, "
        f"{elapsed / args.pushes * 1000:.2f} ms each ({args.concurrency} at once, "
        f"{args.batch} a request, "
        f"router {'on' if args.router else 'off'}, "
        f"profiled {args.profile})"
    )
    print(
        f"{cpu / args.pushes * 1000:.2f} ms of this process's CPU per push (the hub and the "
        f"in-process client); {(cpu - idle_rate * elapsed) / args.pushes * 1000:.2f} ms without "
        f"the idle background workers ({idle_rate * 1000:.1f} ms/s); less sensitive to the "
        "machine's load than the wall clock, but not immune"
    )
    print(
        f"{sum(round_trips.values()) / args.pushes:.1f} round trips to PostgreSQL per push "
        "(asyncpg calls): "
        + ", ".join(f"{k} {v / args.pushes:.1f}" for k, v in round_trips.most_common())
    )
    print(
        f"  without the idle background workers' ({idle_trips:.1f}/s): "
        f"{(sum(round_trips.values()) - idle_trips * elapsed) / args.pushes:.1f} round trips "
        f"and {(sum(statements.values()) - idle_statements * elapsed) / args.pushes:.1f} "
        "SQL statements (through SQLAlchemy) per push"
    )
    print(f"{sum(statements.values()) / args.pushes:.1f} SQL statements per push, of which:")
    for text, times in statements.most_common(25):
        print(f"  {times / args.pushes:6.2f}  {text}")
    if sampler is not None:
        sampler.report()
    if args.profile:
        stats = pstats.Stats(profile)
        calls = stats.total_calls  # type: ignore[attr-defined]
        idle_calls = pstats.Stats(idle_profile).total_calls / idle_seconds  # type: ignore[attr-defined]
        print(
            f"{calls / args.pushes:.0f} Python function calls per push (cProfile's count: "
            "unlike time, it does not depend on the machine's load); "
            f"{(calls - idle_calls * elapsed) / args.pushes:.0f} without the idle background "
            f"workers' ({idle_calls:.0f}/s)"
        )
        stats.sort_stats("tottime").print_stats(30)
        if args.profile_file:
            profile.dump_stats(args.profile_file)


def _count_round_trips(counter: collections.Counter[str], counting: Callable[[], bool]) -> None:
    """Count asyncpg's calls that each take one round trip to the server: simple queries
    (BEGIN, COMMIT, ROLLBACK), other queries (the pre-ping's `;`), statement preparations (the
    driver's cache missed), and executions of prepared statements."""

    def wrap(owner: Any, name: str, label: str | None = None) -> None:
        original = getattr(owner, name)

        async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            if counting():
                what = label or name
                if name == "execute" and args and isinstance(args[0], str):
                    what = f"simple query {args[0].split()[0].upper() if args[0].split() else ';'}"
                counter[what] += 1
            return await original(self, *args, **kwargs)

        setattr(owner, name, counted)

    wrap(asyncpg.connection.Connection, "execute")
    wrap(asyncpg.connection.Connection, "executemany")
    wrap(asyncpg.connection.Connection, "prepare")
    for name in ("fetch", "fetchrow", "fetchval"):
        wrap(asyncpg.connection.Connection, name, f"query ({name})")
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        wrap(asyncpg.prepared_stmt.PreparedStatement, name, f"execute prepared ({name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="clients pushing at once (one token)"
    )
    parser.add_argument(
        "--batch", type=int, default=1, help="notifications per request (POST /v1/events/batch)"
    )
    parser.add_argument("--router", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-file", help="also write the profile's pstats here")
    parser.add_argument(
        "--sample", type=float, default=0, metavar="MS", help="sample the stack every MS ms"
    )
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument(
        "--uvloop",
        action="store_true",
        help="run on uvloop's event loop (as the HTTP floor's uvicorn does) instead of asyncio's",
    )
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
