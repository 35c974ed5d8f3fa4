"""Bulk import benchmark: `hub import` of an agency's history against the database's own limit
for loading the same rows, in one run.

For each backend it writes N notifications (an admission and a liberation per person: the
second names the person by SPS number only, so every other line links to a known person) to an
NDJSON file, then measures:

- `hub import FILE --as CLIENT` as an operator runs it (a subprocess, history: no routing), once
  into an empty store and once more (every line already there); rows/s over the whole command,
  and over the command less its start-up (the same command on a one-line file, timed alone),
  and the command's CPU per row (less the start-up's);
- the raw limit: the same file read, parsed and loaded into a plain table of the events
  table's columns (no constraints, no index) in chunks of the same size, one transaction each —
  asyncpg `copy_records_to_table` on PostgreSQL, `executemany` on SQLite (WAL); and the CPU
  per row of the process doing it (on PostgreSQL the server's CPU is in neither figure).

It prints `hub import` / raw (issue 19's goal: >= 0.3 of raw COPY on PostgreSQL). With
`--profile`, the first import runs under a sampling profiler (SIGPROF at each ms of its CPU; the
kernel's tick may make it 4 ms) and its loop's samples are split into stages (parse, validate,
hash, seal, audit, rows, people), in µs a row of its measured CPU.

    .venv/bin/python bench/import.py [--events 20000] [--chunk 1000] [--backends sqlite postgres]
        [--profile]

Needs PostgreSQL (`BENCH_POSTGRES_DSN`, default the local owner role). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sqlite3
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

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
EXAMPLES = ROOT / "events" / "examples"
ADMISSION = json.loads((EXAMPLES / "custody.admission.json").read_text())
LIBERATION = json.loads((EXAMPLES / "custody.liberation.json").read_text())

#: The plain table the raw limit loads: the events table's columns, nothing else.
_RAW_COLUMNS = (
    "source",
    "event_id",
    "type",
    "version",
    "time",
    "subject",
    "specversion",
    "datacontenttype",
    "identifiers",
    "data",
)


def history(events: int) -> Iterator[dict[str, Any]]:
    for person in range(events // 2):
        sps = str(7_000_000 + person)
        for example, identifiers in (
            (ADMISSION, {"sps_number": sps, "pnc_id": f"24/{person:07d}B"}),
            (LIBERATION, {"sps_number": sps}),
        ):
            notification = json.loads(json.dumps(example))
            notification["id"] = str(uuid.uuid4())
            notification["identifiers"] = identifiers
            yield notification


def write_file(path: Path, notifications: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for notification in notifications:
            out.write(json.dumps(notification) + "\n")
            count += 1
    return count


def raw_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """The file's rows as the raw load writes them (parsed, so that it reads what the hub reads)."""
    with path.open("rb") as lines:
        for line in lines:
            n = json.loads(line)
            yield (
                n["source"],
                n["id"],
                n["type"],
                1,
                datetime.fromisoformat(n["time"]).astimezone(UTC),
                n.get("subject"),
                n["specversion"],
                n["datacontenttype"],
                json.dumps(n["identifiers"]),
                json.dumps(n["data"]),
            )


def chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def raw_copy(schema: str, path: Path, size: int) -> tuple[float, float]:
    connection = await asyncpg.connect(PG_DSN)
    await connection.execute(f'SET search_path TO "{schema}"')
    await connection.execute(
        "CREATE TABLE raw_events (source text, event_id text, type text, version int, "
        "time timestamptz, subject text, specversion text, datacontenttype text, "
        "identifiers jsonb, data jsonb)"
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=bytes,
        schema="pg_catalog",
        format="binary",
    )
    started, cpu = time.perf_counter(), time.process_time()
    total = 0
    for chunk in chunks(raw_rows(path), size):
        async with connection.transaction():
            await connection.copy_records_to_table(
                "raw_events", records=chunk, columns=list(_RAW_COLUMNS)
            )
        total += len(chunk)
    rate = total / (time.perf_counter() - started)
    cpu_per_row = (time.process_time() - cpu) * 1e6 / total
    await connection.close()
    return rate, cpu_per_row


def raw_executemany(database: Path, path: Path, size: int) -> tuple[float, float]:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE raw_events (source TEXT, event_id TEXT, type TEXT, version INTEGER, "
        "time TEXT, subject TEXT, specversion TEXT, datacontenttype TEXT, identifiers TEXT, "
        "data TEXT)"
    )
    insert = f"INSERT INTO raw_events VALUES ({', '.join('?' * len(_RAW_COLUMNS))})"
    started, cpu = time.perf_counter(), time.process_time()
    total = 0
    for chunk in chunks(raw_rows(path), size):
        connection.execute("BEGIN")
        connection.executemany(insert, [(*r[:4], r[4].isoformat(), *r[5:]) for r in chunk])
        connection.execute("COMMIT")
        total += len(chunk)
    rate = total / (time.perf_counter() - started)
    cpu_per_row = (time.process_time() - cpu) * 1e6 / total
    connection.close()
    return rate, cpu_per_row


def hub(env: dict[str, str], *args: str, sampled: Path | None = None) -> tuple[str, float, float]:
    """`hub ARGS`: its stdout, wall seconds and CPU seconds (user + system); with `sampled`, run
    under the sampling profiler (`sample`), its import loop's stacks written there."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "hub.cli", *args]
    if sampled is not None:
        command = [sys.executable, __file__, "--sampled-into", str(sampled), "--", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"hub {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


async def run_backend(name: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-import-{name}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_ENVIRONMENT": "development", "HUB_DATA_DIR": str(work / "data")})
    env["PYTHONPATH"] = str(ROOT)
    schema = None
    if name == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_DSN)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await admin.close()
        env["HUB_DATABASE_URL"] = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
        env["HUB_DATABASE_SCHEMA"] = schema
    try:
        if schema:
            hub(env, "db", "upgrade")
        client, _, _ = hub(
            env,
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
        client_id = json.loads(client)["client_id"]
        path = work / "history.ndjson"
        count = write_file(path, history(args.events))
        one = work / "one.ndjson"
        one.write_text(path.read_text().splitlines()[0] + "\n")
        # Start-up: the command on one line (stored, then timed again as already there).
        hub(env, "import", str(one), "--as", client_id)
        _, startup, startup_cpu = hub(env, "import", str(one), "--as", client_id)
        chunk = ["--chunk-size", str(args.chunk)]
        sampled = work / "import.stacks" if args.profile else None
        out, wall, cpu = hub(
            env, "import", str(path), "--as", client_id, "--json", *chunk, sampled=sampled
        )
        summary = json.loads(out)
        again_out, again_wall, _ = hub(
            env, "import", str(path), "--as", client_id, "--json", *chunk
        )
        again = json.loads(again_out)
        if name == "postgres":
            assert schema is not None
            raw, raw_cpu = await raw_copy(schema, path, args.chunk)
        else:
            raw, raw_cpu = raw_executemany(work / "raw.db", path, args.chunk)
        stored = summary["stored"] + summary["already_there"]
        return {
            "rows": count,
            "stored": summary["stored"],
            "already_there": summary["already_there"],
            "refused": summary["refused"],
            "import_rows_per_s": stored / wall,
            "import_rows_per_s_less_startup": stored / max(wall - startup, 1e-9),
            "import_cpu_us_per_row": (cpu - startup_cpu) * 1e6 / stored,
            "startup_s": startup,
            "rerun_rows_per_s": again["already_there"] / again_wall,
            "rerun_already_there": again["already_there"],
            "raw_rows_per_s": raw,
            "raw_cpu_us_per_row": raw_cpu,
            "stages": stages(sampled) if sampled is not None else None,
        }
    finally:
        if schema:
            admin = await asyncpg.connect(PG_DSN)
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the first import (SIGPROF, each ms of its CPU) and split its loop into stages",
    )
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; {args.events} events, chunks of {args.chunk}"
    )
    raw_name = {"postgres": "raw COPY", "sqlite": "raw executemany"}
    for name in args.backends:
        r = await run_backend(name, args)
        print(
            f"{name}: hub import {r['import_rows_per_s']:,.0f} rows/s "
            f"({r['import_rows_per_s_less_startup']:,.0f} less its {r['startup_s']:.1f} s "
            f"start-up), {r['import_cpu_us_per_row']:,.0f} µs CPU a row; stored {r['stored']}, "
            f"refused {r['refused']}; again: {r['rerun_already_there']} already there at "
            f"{r['rerun_rows_per_s']:,.0f} rows/s; {raw_name[name]} {r['raw_rows_per_s']:,.0f} "
            f"rows/s, {r['raw_cpu_us_per_row']:,.0f} µs CPU a row (this process); "
            f"hub/raw {r['import_rows_per_s'] / r['raw_rows_per_s']:.3f} "
            f"({r['import_rows_per_s_less_startup'] / r['raw_rows_per_s']:.3f} less start-up)"
        )
        if r["stages"] is not None:
            samples, split = r["stages"]
            cpu = r["import_cpu_us_per_row"]
            print(f"  {name}: the import loop's {samples} samples (µs a row of its {cpu:.0f}):")
            for stage, share in split:
                print(f"    {100 * share:5.1f}% {cpu * share:5.0f} µs  {stage}")


#: The import loop's stages, each named by the frames that are its work; a sample goes to the
#: first stage (in this order) any frame of its stack belongs to.
STAGES = (
    ("parse (json.loads of each line)", ("json/__init__.py:loads",)),
    ("validate (schemas, source, bound fields)", ("services/bulk_import.py:_line_problems",)),
    ("content hash", ("notifications.py:content_hash",)),
    ("seal (data keys, AES-GCM)", ("infra/protection.py:seal",)),
    ("audit entries built (row digests, AuditEntry)", ("infra/store.py:audit_entries",)),
    ("audit entries written (bytes, chain, insert)", ("infra/audit.py:append",)),
    ("events rows built and written", ("store.py:event_rows", "bulk_import.py:_insert_events")),
    (
        "people, links, stream versions (reads, inserts)",
        ("store.py:open_chunk", "bulk_import.py:_plan", "bulk_import.py:_insert_people"),
    ),
    ("reading the file", ("imports.py:read_lines",)),
)
_LOOP = "services/bulk_import.py:run"


def sample(stacks_path: Path, argv: list[str]) -> None:
    """Run `hub ARGV` in this process under a sampling profiler: each ms of CPU (SIGPROF), the
    stack of the import loop, written to `stacks_path` as JSON lines."""
    import runpy
    import signal

    stacks: list[list[str]] = []

    def on_tick(_signal: int, frame: Any) -> None:
        names = []
        while frame is not None:
            names.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
            frame = frame.f_back
        if any(n.endswith(_LOOP) for n in names):
            stacks.append(names)

    sys.argv = ["hub", *argv]
    signal.signal(signal.SIGPROF, on_tick)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    try:
        runpy.run_module("hub.cli", run_name="__main__")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        stacks_path.write_text("".join(json.dumps(s) + "\n" for s in stacks))


def stages(stacks_path: Path) -> tuple[int, list[tuple[str, float]]]:
    """The samples of the import loop and each stage's share of them (largest first)."""
    counts: dict[str, int] = {}
    total = 0
    for line in stacks_path.read_text().splitlines():
        names = json.loads(line)
        total += 1
        stage = next(
            (s for s, frames in STAGES if any(n.endswith(f) for n in names for f in frames)),
            "other (the loop itself, chunking, results)",
        )
        counts[stage] = counts.get(stage, 0) + 1
    split = sorted(((s, c / max(total, 1)) for s, c in counts.items()), key=lambda p: -p[1])
    return total, split


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sampled-into"]:
        sample(Path(sys.argv[2]), sys.argv[4:])
    else:
        asyncio.run(main())
