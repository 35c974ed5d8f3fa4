"""The "HTTP floor" of `bench/intake.py`: what any Python HTTP service on this machine reaches for
the same request, with no auth, validation or subject index.

A minimal FastAPI app, served by uvicorn as its own process, that takes the notification's JSON
body on `POST /v1/events` and inserts one row per request with the hub's own driver (asyncpg on
PostgreSQL, aiosqlite on SQLite in WAL mode, as the hub sets it), committing each one.

    .venv/bin/python bench/http_floor.py --port 18500 --postgres postgresql://hub:hub@127.0.0.1/hub_test
    .venv/bin/python bench/http_floor.py --port 18500 --sqlite /tmp/floor.db

`bench/intake.py` starts and stops it; it drops its table on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
import uvicorn
from fastapi import FastAPI, Request, Response

COLUMNS = "(position INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, event_id TEXT, type TEXT, data TEXT, UNIQUE (source, event_id))"  # noqa: E501


def postgres_app(dsn: str) -> FastAPI:
    table = f"bench_floor_{uuid.uuid4().hex[:8]}"
    sql = f"INSERT INTO {table} (source, event_id, type, data) VALUES ($1, $2, $3, $4)"
    pool: asyncpg.Pool[Any] | None = None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        # No TLS to the loopback database, as the hub's default.
        pool = await asyncpg.create_pool(dsn, min_size=8, max_size=10, ssl="disable")
        await pool.execute(
            f"CREATE TABLE {table} (position BIGSERIAL PRIMARY KEY, source TEXT, event_id TEXT, "
            "type TEXT, data JSONB, UNIQUE (source, event_id))"
        )
        yield
        await pool.execute(f"DROP TABLE {table}")
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/events", status_code=201)
    async def push(request: Request) -> Response:
        body = await request.json()
        assert pool is not None
        await pool.execute(sql, body["source"], body["id"], body["type"], json.dumps(body["data"]))
        return Response(status_code=201)

    return app


def sqlite_app(path: str) -> FastAPI:
    sql = "INSERT INTO floor (source, event_id, type, data) VALUES (?, ?, ?, ?)"
    state: dict[str, aiosqlite.Connection] = {}
    # SQLite has one writer: one connection, one commit per request, as the hub's writers queue.
    lock = asyncio.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connection = await aiosqlite.connect(path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute(f"CREATE TABLE IF NOT EXISTS floor {COLUMNS}")
        state["db"] = connection
        yield
        await connection.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/events", status_code=201)
    async def push(request: Request) -> Response:
        body = await request.json()
        connection = state["db"]
        async with lock:
            await connection.execute("BEGIN IMMEDIATE")
            await connection.execute(
                sql, (body["source"], body["id"], body["type"], json.dumps(body["data"]))
            )
            await connection.execute("COMMIT")
        return Response(status_code=201)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    backend = parser.add_mutually_exclusive_group(required=True)
    backend.add_argument("--postgres", metavar="DSN")
    backend.add_argument("--sqlite", metavar="PATH")
    args = parser.parse_args()
    app = postgres_app(args.postgres) if args.postgres else sqlite_app(args.sqlite)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
