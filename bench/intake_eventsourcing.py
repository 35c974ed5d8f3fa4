"""The `eventsourcing` library (9.5.6) appending the same kind of events as `bench/intake.py`
pushes to the hub: issue 19's "hub / eventsourcing" comparison, run in the same bench.

One command records one notification: it creates the aggregate of the person the notification's
identifier names (each bench notification names a new person, as the hub's pushes do), whose
creation event carries the notification (source, id, type, time, identifiers, data). The
application saves it through the library's application recorder, which, like the hub's store,
gives each event a gap-free notification id in commit order (on PostgreSQL it takes a table
lock per commit to do so). Commands run from `writers` threads at once (the library is
synchronous), each saving one aggregate per transaction: the command rate of issue 19's run.

PostgreSQL through psycopg 3 (the library's `eventsourcing.postgres`), a pool of `writers`
connections, without TLS to the loopback database (as the hub and the raw driver figures);
SQLite through the standard `sqlite3` module (`eventsourcing.sqlite`, WAL, the library's own
settings). Each run uses a fresh schema or file and removes it.

    .venv/bin/python bench/intake_eventsourcing.py [--events 1000] [--writers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

#: The namespace of the people's aggregate ids (one per identifier, as the hub's subject index).
PEOPLE = uuid.UUID("6f1c1ad2-55f4-4b8e-9a61-3c1d7e0b9a10")


class Person(Aggregate):
    """A person's stream; created by the first notification that names them."""

    @event("Notified")
    def __init__(
        self,
        source: str,
        event_id: str,
        type: str,
        time: str,
        identifiers: dict[str, str],
        data: dict[str, Any],
    ) -> None:
        self.notifications = [(source, event_id, type, time, identifiers, data)]

    @staticmethod
    def create_id(identifiers: dict[str, str]) -> uuid.UUID:
        # From the person's identifiers, as the hub files a notification under the person
        # its identifier names.
        key = ",".join(f"{scheme}:{value}" for scheme, value in sorted(identifiers.items()))
        return uuid.uuid5(PEOPLE, key)


class Intake(Application):
    """Records notifications, one command (and one transaction) each."""

    def record(self, notification: dict[str, Any]) -> uuid.UUID:
        identifiers: dict[str, str] = notification["identifiers"]
        person = Person(
            source=notification["source"],
            event_id=notification["id"],
            type=notification["type"],
            time=notification["time"],
            identifiers=identifiers,
            data=notification["data"],
        )
        self.save(person)
        return person.id


def command_rate(
    backend: str,
    notifications: list[dict[str, Any]],
    writers: int,
    postgres_dsn: str,
) -> dict[str, float]:
    """Commands per second (and this process's CPU per command) with `writers` threads, on
    "postgres" (`postgres_dsn`, a role that may create a schema) or "sqlite"."""
    cleanup: Callable[[], None]
    if backend == "postgres":
        env, cleanup = _postgres_env(postgres_dsn, writers)
    else:
        directory = tempfile.mkdtemp(prefix="bench-es-")
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
        env["SQLITE_DBNAME"] = str(Path(directory) / "eventsourcing.db")
        env["SQLITE_LOCK_TIMEOUT"] = "30"

        def cleanup() -> None:
            for path in Path(directory).iterdir():
                path.unlink()
            Path(directory).rmdir()

    try:
        app = Intake(env=env)
        warm = [dict(n, id=str(uuid.uuid4())) for n in notifications[:20]]
        for n in warm:  # prepared statements, pool connections, the first pages
            app.record({**n, "identifiers": {"warm_up": n["id"]}})
        queue = iter(notifications)
        taking = threading.Lock()

        def writer() -> int:
            done = 0
            while True:
                with taking:
                    item = next(queue, None)
                if item is None:
                    return done
                app.record(item)
                done += 1

        cpu, started = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            done = sum(f.result() for f in [pool.submit(writer) for _ in range(writers)])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        app.close()
        assert done == len(notifications)
        return {
            "commands_per_s": done / elapsed,
            "cpu_ms_per_command": cpu * 1000 / done,
        }
    finally:
        cleanup()


def _postgres_env(dsn: str, writers: int) -> tuple[dict[str, str], Callable[[], None]]:
    parts = urlsplit(dsn)
    schema = f"bench_es_{uuid.uuid4().hex[:8]}"
    # No TLS to the loopback database, as the hub's default and the raw driver's figures.
    os.environ.setdefault("PGSSLMODE", "disable")
    with psycopg.connect(dsn, autocommit=True, sslmode="disable") as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')

    def cleanup() -> None:
        with psycopg.connect(dsn, autocommit=True, sslmode="disable") as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(writers),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    return env, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    example = json.loads((root / "events/examples/custody.admission.json").read_text())
    notifications = [
        dict(example, id=str(uuid.uuid4()), identifiers={"sps_number": str(2_000_000 + i)})
        for i in range(args.events)
    ]
    dsn = os.environ.get(
        "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
    )
    for backend in args.backends:
        r = command_rate(backend, notifications, args.writers, dsn)
        print(
            f"{backend:8} eventsourcing {r['commands_per_s']:8.0f} commands/s with "
            f"{args.writers} writers   CPU {r['cpu_ms_per_command']:.2f} ms/command"
        )


if __name__ == "__main__":
    main()
