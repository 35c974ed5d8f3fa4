"""Audit trail benchmark: the disclosure audit log on a real database, at a million entries.

1. Routing load: W writers append disclosure-shaped `AuditEntry` rows (kind disclosure or a
   denial, recipient, fields, rules, purpose, legal basis, policy version, taken from the Scotland
   bundle) through `SqlAuditLog.append`, one transaction per router batch (default 100 events x
   3 decisions = 300 entries), for a fixed time, while `AuditSequencer.run` and
   `AuditCheckpointer.run` run in a separate process. Reports entries appended/s, leaves
   sequenced/s, the sequencer's lag (sampled, and at the end) and how long it took to catch up.
2. A log of N entries (default 1,000,000) in a fresh schema: canonical entries generated with
   `AuditEntry`, bulk-inserted (COPY on PostgreSQL), then sequenced with `AuditSequencer` (the
   CLI's batch size unless told otherwise) while `AuditCheckpointer.run` signs every 5 s; a final
   checkpoint. Reports leaves/s sequenced and the tables' size.
3. `AuditVerifier.verify()` over the whole log, `AuditVerifier.export()` and `verify_export()` of
   the file (its size too), each in a fresh child process so that its peak RSS (psutil, sampled
   every 10 ms) is the step's own.
4. `AuditTrail.inclusion_proof` for random leaves and `AuditTrail.consistency_proof` between random
   sizes (p50/p99 of each call), and their verification (`verify_inclusion` with the leaf hash
   recomputed from the entry, the signed-note check, `verify_consistency`).

    .venv/bin/python bench/audit.py [--backend postgres|sqlite] [--entries 1000000] [--quick]

To time or profile verification alone, build a log once and keep it, then run only step 3 on it
(`--profile DIR` writes each child step's cProfile stats to DIR/<step>.prof):

    .venv/bin/python bench/audit.py --entries 100000 --keep-log /tmp/log.json --steps none
    .venv/bin/python bench/audit.py --use-log /tmp/log.json --steps verify --profile /tmp/prof
    .venv/bin/python bench/audit.py --use-log /tmp/log.json --steps cli   # `hub audit verify`
    .venv/bin/python bench/audit.py --drop-log /tmp/log.json

Needs PostgreSQL for the default backend (deploy/local/postgres.sh start). Every figure comes
from one run on this machine; prints figures and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import multiprocessing
import os
import platform
import queue
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.domain.audit.checkpoint import parse_signed_checkpoint  # noqa: E402
from hub.domain.audit.entries import AuditEntry, AuditKind  # noqa: E402
from hub.domain.audit.merkle import leaf_hash, verify_consistency, verify_inclusion  # noqa: E402
from hub.infra.audit import SqlAuditLog  # noqa: E402
from hub.infra.audit_queries import SqlAuditIndex, SqlRestrictions  # noqa: E402
from hub.infra.checkpoint_dir import CheckpointDirectory  # noqa: E402
from hub.infra.db import create_engine, upgrade  # noqa: E402
from hub.infra.store import create_event_store  # noqa: E402
from hub.infra.tables import audit_entries, person_identifiers, persons  # noqa: E402
from hub.services.audit import (  # noqa: E402
    AuditCheckpointer,
    AuditSequencer,
    AuditSigner,
    AuditTrail,
    AuditVerifier,
    verify_export,
)
from hub.services.audit_queries import AuditQueryService, ConsultationLog, Principal  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
ORIGIN = "bench.hub/audit"
KEY_NAME = "bench-hub"
BUNDLE = ROOT / "policies" / "scotland"
MiB = 2**20


# -- figures -------------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figure(label: str, value: str) -> None:
    print(f"  {label:<70} {value}")


def latency(label: str, samples: list[float]) -> None:
    figure(
        label,
        f"p50 {percentile(samples, 0.5) * 1e3:8.3f} ms   p99 {percentile(samples, 0.99) * 1e3:8.3f}"
        f" ms   mean {statistics.fmean(samples) * 1e3:8.3f} ms   (n={len(samples)})",
    )


def micro(label: str, samples: list[float]) -> None:
    figure(
        label,
        f"p50 {percentile(samples, 0.5) * 1e6:8.1f} µs   p99 {percentile(samples, 0.99) * 1e6:8.1f}"
        f" µs   (n={len(samples)})",
    )


# -- realistic disclosure entries ------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    rule_id: str
    event_types: tuple[str, ...]
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str


def _text(value: object) -> str:
    return " ".join(str(value).split())[:512]


def load_bundle() -> tuple[list[Rule], list[str], str]:
    """The Scotland bundle's rules and recipients, and a bundle-version-like hash."""
    rules = []
    for path in sorted((BUNDLE / "rules").glob("*.yaml")):
        for rule in yaml.safe_load(path.read_text())["rules"]:
            on = rule.get("on", rule.get(True, []))  # YAML 1.1 reads the key `on` as True
            rules.append(
                Rule(
                    rule["id"],
                    tuple(on),
                    tuple(rule.get("fields", ())),
                    _text(rule.get("purpose", "public protection")),
                    _text(rule.get("legal_basis", "DPA 2018 s35")),
                )
            )
    directory = yaml.safe_load((BUNDLE / "directory.yaml").read_text())
    recipients = [r["id"] for r in directory["recipients"]]
    version = "8f3c2a61d0b94e7f5a1c6e2d9b8a7f3e4c5d6b7a8f9e0d1c2b3a4f5e6d7c8b9a"
    return rules, recipients, version


class EntryFactory:
    """Disclosure-shaped entries as a router batch writes them: per event, `decisions` entries
    (one per candidate recipient), about one in five a denial."""

    def __init__(self, seed: int) -> None:
        self.rules, self.recipients, self.version = load_bundle()
        self.rng = random.Random(seed)
        self.event = 0

    def event_entries(self, decisions: int, when: datetime | None = None) -> list[AuditEntry]:
        rng = self.rng
        self.event += 1
        rule = rng.choice(self.rules)
        event_type = rule.event_types[0] if rule.event_types else "release.schedule1-notification"
        when = when or datetime.now(UTC)
        person = f"p_{rng.getrandbits(64):016x}"
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        entries = []
        for recipient in rng.sample(self.recipients, decisions):
            denied = rng.random() < 0.2
            matched = (
                (rule.rule_id,)
                if rng.random() < 0.8
                else (rule.rule_id, rng.choice(self.rules).rule_id)
            )
            entries.append(
                AuditEntry(
                    kind=AuditKind.DISCLOSURE,
                    occurred_at=when,
                    actor="hub",
                    agency="hub",
                    person_id=person,
                    event_id=event_id,
                    source="urn:pph:sps:pr2",
                    recipient_id=recipient,
                    fields=() if denied else rule.fields,
                    rules=matched,
                    purpose=None if denied else rule.purpose,
                    legal_basis=None if denied else rule.legal_basis,
                    policy_version=self.version,
                    outcome="denied" if denied else "disclosed",
                    state=None if denied else "pending",
                    details={
                        "event_type": event_type,
                        "decision_id": f"d_{rng.getrandbits(64):016x}",
                        "event_position": self.event,
                        **(
                            {"reasons": ["no rule shares this event with the recipient"]}
                            if denied
                            else {}
                        ),
                    },
                )
            )
        return entries

    def batch(self, events: int, decisions: int) -> list[AuditEntry]:
        return [e for _ in range(events) for e in self.event_entries(decisions)]


# -- a hub database --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbConfig:
    """Enough to reach one migrated hub database from any process."""

    backend: str
    data_dir: str
    schema: str | None

    def settings(self) -> Settings:
        if self.backend == "sqlite":
            return Settings(environment="test", data_dir=Path(self.data_dir))
        return Settings(
            environment="test",
            data_dir=Path(self.data_dir),
            database_url=SecretStr(PG_URL),
            database_schema=self.schema,
        )

    def engine(self) -> AsyncEngine:
        return create_engine(self.settings())

    def checkpoints(self) -> CheckpointDirectory:
        """Where the checkpointer publishes, and the verifier reads back, outside the database."""
        return CheckpointDirectory(self.settings().resolved_audit_checkpoint_dir)


@contextlib.asynccontextmanager
async def hub_database(
    backend: str, workdir: Path, name: str, *, keep: bool = False
) -> AsyncIterator[DbConfig]:
    """A freshly migrated hub database: a new schema (PostgreSQL), or a new SQLite file; dropped
    afterwards unless `keep`."""
    schema = None
    data_dir = workdir / name
    if backend == "postgres":
        schema = f"bench_audit_{name}_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(PG_URL)
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    config = DbConfig(backend, str(data_dir), schema)
    engine = config.engine()
    try:
        await upgrade(engine, config.settings())
        await engine.dispose()
        yield config
    finally:
        await engine.dispose()
        if not keep:
            # A kept log keeps its data directory too: the checkpoints and leaf hashes
            # published outside the database, which verification checks the log against.
            if schema is not None:
                admin = create_async_engine(PG_URL)
                async with admin.begin() as connection:
                    await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                await admin.dispose()
            shutil.rmtree(data_dir, ignore_errors=True)


def kept_log(path: Path) -> tuple[DbConfig, bytes, int]:
    """A log built by an earlier run with `--keep-log`: where it is, its key, its size."""
    kept = json.loads(path.read_text())
    config = DbConfig(kept["backend"], kept["data_dir"], kept["schema"])
    return config, bytes.fromhex(kept["key"]), int(kept["size"])


def keep_log(path: Path, config: DbConfig, raw_key: bytes, size: int) -> None:
    path.write_text(
        json.dumps(
            {
                "backend": config.backend,
                "data_dir": config.data_dir,
                "schema": config.schema,
                "key": raw_key.hex(),
                "size": size,
            }
        )
    )


async def drop_log(config: DbConfig) -> None:
    if config.schema is not None:
        admin = create_async_engine(PG_URL)
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{config.schema}" CASCADE'))
        await admin.dispose()
    shutil.rmtree(config.data_dir, ignore_errors=True)


def signer_from(raw_key: bytes) -> AuditSigner:
    return AuditSigner(ORIGIN, KEY_NAME, Ed25519PrivateKey.from_private_bytes(raw_key))


# -- child processes -------------------------------------------------------------------------------


class PeakRss:
    """Samples this process's RSS every 10 ms on a thread (the event loop's work continues)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.01)

    def stop(self) -> dict[str, float]:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        return {"rss_before": self.baseline, "rss_peak": self.peak}


def _child(task: str, config: DbConfig, arguments: dict[str, Any], out: Any) -> None:
    """Runs one task in a spawned process and puts its result (a dict) on `out`; with a
    `profile` argument, under cProfile, its stats written to that file."""
    try:
        profile = arguments.get("profile")
        if profile is None:
            out.put(asyncio.run(_child_task(task, config, arguments)))
        else:
            profiler = cProfile.Profile()
            result = profiler.runcall(asyncio.run, _child_task(task, config, arguments))
            profiler.dump_stats(profile)
            out.put(result)
    except BaseException as error:  # the parent reports it
        out.put({"error": f"{type(error).__name__}: {error}"})
        raise


async def _child_task(task: str, config: DbConfig, arguments: dict[str, Any]) -> dict[str, Any]:
    if task == "verify_export":
        rss = PeakRss()
        started, cpu = time.perf_counter(), time.process_time()
        report = verify_export(Path(arguments["path"]), arguments["verifier_key"])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {"seconds": elapsed, "cpu": cpu, "report": report.as_json(), **rss.stop()}
    engine = config.engine()
    try:
        log = SqlAuditLog(engine)
        signer = signer_from(arguments["key"])
        if task == "sequencer":
            return await _sequence_until_stopped(log, signer, config, arguments)
        verifier = AuditVerifier(log, signer.verifier_key, ORIGIN, held=config.checkpoints())
        async with engine.connect() as connection:  # open the pool before measuring
            await connection.execute(sa.text("SELECT 1"))
        rss = PeakRss()
        started, cpu = time.perf_counter(), time.process_time()
        if task == "verify":
            result: dict[str, Any] = {"report": (await verifier.verify()).as_json()}
        elif task == "export":
            summary = await verifier.export(Path(arguments["path"]))
            result = {"tree_size": summary.tree_size, "checkpoints": summary.checkpoints}
        else:
            raise ValueError(task)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        return {"seconds": elapsed, "cpu": cpu, **result, **rss.stop()}
    finally:
        await engine.dispose()


async def _sequence_until_stopped(
    log: SqlAuditLog, signer: AuditSigner, config: DbConfig, arguments: dict[str, Any]
) -> dict[str, Any]:
    stop_flag = arguments["stop"]
    stop = asyncio.Event()
    sequencer = AuditSequencer(
        log, batch_size=arguments["batch_size"], poll_interval=arguments["poll_interval"]
    )
    checkpointer = AuditCheckpointer(
        log, signer, publisher=config.checkpoints(), interval=arguments["checkpoint_interval"]
    )
    running = [
        asyncio.create_task(sequencer.run(stop)),
        asyncio.create_task(checkpointer.run(stop)),
    ]
    while not stop_flag.is_set():  # noqa: ASYNC110 - a multiprocessing.Event, not an asyncio one
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*running)
    return {"checkpoints": len(await log.checkpoints(0, 1_000_000))}


def start_child(task: str, config: DbConfig, arguments: dict[str, Any]) -> tuple[Any, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(task, config, arguments, out), daemon=False)
    process.start()
    return process, out


def join_child(process: Any, out: Any) -> dict[str, Any]:
    while True:
        try:
            result: dict[str, Any] = out.get(timeout=1.0)
            break
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"child exited with {process.exitcode} and no result") from None
    process.join()
    if "error" in result:
        raise RuntimeError(f"child failed: {result['error']}")
    return result


def run_child(task: str, config: DbConfig, arguments: dict[str, Any]) -> dict[str, Any]:
    process, out = start_child(task, config, arguments)
    return join_child(process, out)


# -- 1. appends under routing load -----------------------------------------------------------------


async def routing_load(args: argparse.Namespace, workdir: Path, raw_key: bytes) -> None:
    per_txn = args.events_per_batch * args.decisions
    print(
        f"\n1. Appends under routing load: {args.writers} writers, transactions of "
        f"{args.events_per_batch} events x {args.decisions} decisions = {per_txn} entries, "
        f"{args.seconds:.0f} s; sequencer (batch_size {args.load_sequencer_batch}) + checkpointer "
        f"(every {args.checkpoint_interval:.0f} s) in a second process"
    )
    factory = EntryFactory(seed=1)
    started = time.perf_counter()
    pool = [factory.batch(args.events_per_batch, args.decisions) for _ in range(args.writers * 4)]
    built = time.perf_counter() - started
    figure(
        "building AuditEntry objects (validation included), once",
        f"{built / (len(pool) * per_txn) * 1e6:.1f} µs per entry",
    )
    async with hub_database(args.backend, workdir, "load") as config:
        engine = config.engine()
        log = SqlAuditLog(engine)
        writer_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        stop_flag = multiprocessing.get_context("spawn").Event()
        process, out = start_child(
            "sequencer",
            config,
            {
                "key": raw_key,
                "stop": stop_flag,
                "poll_interval": 0.05,
                "batch_size": args.load_sequencer_batch,
                "checkpoint_interval": args.checkpoint_interval,
            },
        )
        await asyncio.sleep(3.0)  # let the child import and connect
        committed = 0
        commit_times: list[float] = []
        lags: list[int] = []
        done = asyncio.Event()

        async def writer(number: int) -> None:
            nonlocal committed
            turn = number
            while not done.is_set():
                entries = pool[turn % len(pool)]
                turn += args.writers
                began = time.perf_counter()
                async with writer_engine.connect() as connection, connection.begin():
                    await log.append(connection, entries)
                commit_times.append(time.perf_counter() - began)
                committed += len(entries)

        async def sampler() -> None:
            while not done.is_set():
                await asyncio.sleep(0.5)
                lags.append(committed - (await log.head()).size)

        head_before = (await log.head()).size
        me, sequencer_process = psutil.Process(), psutil.Process(process.pid)
        cpu_before = (me.cpu_times(), sequencer_process.cpu_times())
        psutil.cpu_percent()
        began = time.perf_counter()
        tasks = [asyncio.create_task(writer(n)) for n in range(args.writers)]
        tasks.append(asyncio.create_task(sampler()))
        await asyncio.sleep(args.seconds)
        done.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
        machine_cpu = psutil.cpu_percent()
        cpu_after = (me.cpu_times(), sequencer_process.cpu_times())
        writers_cpu, sequencer_cpu = (
            (a.user + a.system - b.user - b.system) / elapsed
            for a, b in zip(cpu_after, cpu_before, strict=True)
        )
        head_after = (await log.head()).size
        end_lag = committed - head_after
        drain_started = time.perf_counter()
        while (await log.head()).size < committed:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.02)
        drained = time.perf_counter() - drain_started
        stop_flag.set()
        child = join_child(process, out)
        figure("entries appended (committed)", f"{committed} in {elapsed:.1f} s")
        figure("appends/s", f"{committed / elapsed:,.0f} entries/s")
        latency(
            f"one {per_txn}-entry transaction (begin, SqlAuditLog.append, commit)", commit_times
        )
        figure(
            "leaves sequenced/s during the load",
            f"{(head_after - head_before) / elapsed:,.0f} leaves/s",
        )
        figure(
            "sequencer lag, sampled every 0.5 s",
            f"max {max(lags, default=0)} entries, median {percentile(lags, 0.5) if lags else 0}",
        )
        figure(
            "sequencer lag when the writers stopped",
            f"{end_lag} entries; caught up {drained:.2f} s later",
        )
        figure("checkpoints signed during the load", str(child["checkpoints"]))
        figure(
            "CPU during the load (1.0 = one core)",
            f"writers' process {writers_cpu:.2f}, sequencer's process {sequencer_cpu:.2f}, "
            f"whole machine {machine_cpu / 100 * (os.cpu_count() or 1):.2f} of "
            f"{os.cpu_count()}",
        )
        await engine.dispose()


# -- 2. a log of N entries -------------------------------------------------------------------------


def generate_rows(
    factory: EntryFactory, count: int, decisions: int, start: datetime
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    recorded = datetime.now(UTC)
    while len(rows) < count:
        when = start + timedelta(milliseconds=factory.event * 50)
        for entry in factory.event_entries(decisions, when):
            rows.append(
                (entry.kind.value, entry.occurred_at, entry.canonical_bytes().decode(), recorded)
            )
    return rows[:count]


async def bulk_insert(config: DbConfig, engine: AsyncEngine, rows: list[tuple[Any, ...]]) -> None:
    columns = ["kind", "occurred_at", "entry", "recorded_at"]
    if config.backend == "postgres":
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.copy_records_to_table(
                "audit_entries", records=rows, columns=columns, schema_name=config.schema
            )
        return
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    async with writer.connect() as connection, connection.begin():
        await connection.execute(
            audit_entries.insert(), [dict(zip(columns, r, strict=True)) for r in rows]
        )


async def table_sizes(config: DbConfig, engine: AsyncEngine) -> str:
    if config.backend == "postgres":
        async with engine.connect() as connection:
            sizes = {
                table: int(
                    (
                        await connection.execute(
                            sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                            {"t": table},
                        )
                    ).scalar_one()
                )
                for table in (
                    "audit_entries",
                    "audit_leaves",
                    "audit_subtrees",
                    "audit_checkpoints",
                )
            }
        return ", ".join(f"{t} {s / MiB:,.0f} MiB" for t, s in sizes.items())
    path = Path(config.data_dir) / "hub.sqlite3"
    return f"SQLite file {path.stat().st_size / MiB:,.0f} MiB (+ WAL)"


async def build_log(
    args: argparse.Namespace, config: DbConfig, engine: AsyncEngine, signer: AuditSigner
) -> int:
    n = args.entries
    print(f"\n2. Building a log of {n:,} entries (fresh schema)")
    factory = EntryFactory(seed=2)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    generating = inserting = 0.0
    chunk = 50_000
    for first in range(0, n, chunk):
        began = time.perf_counter()
        rows = generate_rows(factory, min(chunk, n - first), args.decisions, start)
        generating += time.perf_counter() - began
        began = time.perf_counter()
        await bulk_insert(config, engine, rows)
        inserting += time.perf_counter() - began
        del rows
    method = "COPY" if config.backend == "postgres" else "executemany INSERT"
    figure(
        "generate canonical entries (AuditEntry + canonical_bytes)",
        f"{generating:.1f} s ({generating / n * 1e6:.1f} µs per entry)",
    )
    figure(
        f"bulk insert ({method}, chunks of {chunk:,})",
        f"{inserting:.1f} s ({n / inserting:,.0f} rows/s)",
    )

    log = SqlAuditLog(engine)
    sequencer = AuditSequencer(log, batch_size=args.sequencer_batch)
    checkpointer = AuditCheckpointer(
        log, signer, publisher=config.checkpoints(), interval=args.checkpoint_interval
    )
    stop = asyncio.Event()
    signing = asyncio.create_task(checkpointer.run(stop))
    began = time.perf_counter()
    total, step_times = 0, []
    next_report = n // 10
    while True:
        step_began = time.perf_counter()
        added = await sequencer.run_once()
        if not added:
            break
        step_times.append(time.perf_counter() - step_began)
        total += added
        if total >= next_report:
            elapsed = time.perf_counter() - began
            print(
                f"     … {total:,} sequenced, {elapsed:.0f} s, {total / elapsed:,.0f} leaves/s",
                flush=True,
            )
            next_report += n // 10
    sequenced = time.perf_counter() - began
    stop.set()
    await signing
    began = time.perf_counter()
    final = await checkpointer.run_once()
    checkpointing = time.perf_counter() - began
    checkpoints = len(await log.checkpoints(0, 1_000_000))
    figure(
        f"sequence all (AuditSequencer, batch_size {args.sequencer_batch})",
        f"{sequenced:.1f} s ({total / sequenced:,.0f} leaves/s)",
    )
    latency(f"one sequencer batch of {args.sequencer_batch}", step_times)
    figure(
        "final checkpoint (AuditCheckpointer.run_once)",
        f"{checkpointing * 1e3:.1f} ms (tree size {final.tree_size if final else '—'})",
    )
    figure(
        f"checkpoints signed in all (every {args.checkpoint_interval:.0f} s + final)",
        str(checkpoints),
    )
    figure("tables", await table_sizes(config, engine))
    return total


# -- 3. verification and export --------------------------------------------------------------------


def rss_text(result: dict[str, Any]) -> str:
    return (
        f"this process's CPU {result['cpu']:.1f} s; "
        f"peak RSS {result['rss_peak'] / MiB:,.0f} MiB (psutil, sampled every 10 ms; "
        f"{result['rss_before'] / MiB:,.0f} MiB just before the step)"
    )


def verification(
    config: DbConfig,
    raw_key: bytes,
    workdir: Path,
    size: int,
    steps: set[str],
    profile_dir: Path | None = None,
) -> None:
    print(f"\n3. Verifying the {size:,}-entry log (each step in a fresh process)")
    verifier_key = signer_from(raw_key).verifier_key

    def profiled(step: str) -> dict[str, Any]:
        if profile_dir is None:
            return {}
        profile_dir.mkdir(parents=True, exist_ok=True)
        return {"profile": str(profile_dir / f"{step}.prof")}

    if "verify" in steps:
        result = run_child("verify", config, {"key": raw_key, **profiled("verify")})
        report = result["report"]
        figure(
            "AuditVerifier.verify()",
            f"{result['seconds']:.1f} s ({size / result['seconds']:,.0f} entries/s); "
            f"ok={report['ok']}, "
            f"{report['entries']:,} entries, {report['checkpoints']} checkpoints",
        )
        figure("  memory", rss_text(result))
    if not {"export", "verify_export"} & steps:
        return
    path = workdir / "audit-export.jsonl"
    result = run_child("export", config, {"key": raw_key, "path": str(path), **profiled("export")})
    size_bytes = path.stat().st_size
    figure(
        "AuditVerifier.export()",
        f"{result['seconds']:.1f} s; {result['tree_size']:,} entries, {result['checkpoints']} "
        f"checkpoints; file {size_bytes / MiB:,.0f} MiB ({size_bytes / max(size, 1):.0f} B/entry)",
    )
    figure("  memory", rss_text(result))
    if "verify_export" in steps:
        result = run_child(
            "verify_export",
            config,
            {"path": str(path), "verifier_key": verifier_key, **profiled("verify_export")},
        )
        report = result["report"]
        figure(
            "verify_export(file, key)",
            f"{result['seconds']:.1f} s ({size / result['seconds']:,.0f} entries/s); "
            f"ok={report['ok']}, "
            f"{report['entries']:,} entries, {report['checkpoints']} checkpoints",
        )
        figure("  memory", rss_text(result))
    path.unlink()


async def verify_command(config: DbConfig, engine: AsyncEngine, raw_key: bytes) -> None:
    """`hub audit verify` end to end, as an operator or the hourly CronJob runs it: a fresh
    process, the tree, then the rows and the query index against the log (indexed first if
    the log was bulk-inserted), the run recorded. Its wall time, CPU time (user + system, from
    the children's resource usage before and after) and peak RSS (the largest of this bench's
    children: run `--steps cli` alone for the command's own)."""
    async with engine.connect() as connection:
        indexed = (
            await connection.execute(sa.text("SELECT count(*) FROM audit_index"))
        ).scalar_one()
    if not indexed:
        seconds = await index_bulk_rows(config, engine)
        figure("index the bulk-inserted entries (for the evidence check, once)", f"{seconds:.1f} s")
    pem = (
        Ed25519PrivateKey.from_private_bytes(raw_key)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    settings = config.settings()
    environment = {
        **os.environ,
        "HUB_ENVIRONMENT": "test",
        "HUB_DATA_DIR": config.data_dir,
        "HUB_AUDIT_SIGNING_KEY": pem,
        "HUB_AUDIT_KEY_NAME": KEY_NAME,
        "HUB_AUDIT_ORIGIN": ORIGIN,
        "PYTHONPATH": str(ROOT),
    }
    if settings.database_url is not None:
        environment["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
        environment["HUB_DATABASE_SCHEMA"] = config.schema or ""
    command = [sys.executable, "-c", "import sys; from hub.cli import main; sys.exit(main())"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, "audit", "verify", "--json", env=environment, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    elapsed = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = usage.ru_utime - before.ru_utime, usage.ru_stime - before.ru_stime
    report = json.loads(out)
    evidence = report.get("evidence") or {}
    figure(
        "`hub audit verify` (fresh process, tree + rows + index)",
        f"{elapsed:.1f} s wall; ok={report['ok']}, {report['entries']:,} entries, "
        f"{report['checkpoints']} checkpoints, {evidence.get('index_entries', 0):,} index rows",
    )
    figure(
        "  CPU and memory",
        f"the command's CPU {user + system:.1f} s (user {user:.1f}, system {system:.1f}); "
        f"peak RSS {usage.ru_maxrss / 1024:,.0f} MiB",
    )


# -- 4. proofs -------------------------------------------------------------------------------------


def timed(action: Callable[[], Any], samples: list[float]) -> Any:
    began = time.perf_counter()
    result = action()
    samples.append(time.perf_counter() - began)
    return result


async def proofs(args: argparse.Namespace, engine: AsyncEngine, signer: AuditSigner) -> None:
    log = SqlAuditLog(engine)
    trail = AuditTrail(log)
    head = await log.head()
    latest = await log.latest_checkpoint()
    assert latest is not None
    size = latest.tree_size
    rng = random.Random(4)
    print(f"\n4. Proofs over the tree of {size:,} leaves ({args.proofs} of each, random)")
    generate, check, note_check = [], [], []
    failures = 0
    key = signer.verifier_key
    for _ in range(args.proofs):
        index = rng.randrange(size)
        began = time.perf_counter()
        proof = await trail.inclusion_proof(leaf_index=index)
        generate.append(time.perf_counter() - began)

        def check_inclusion(p: Any = proof) -> bool:
            return verify_inclusion(
                leaf_hash(p.entry.encode("utf-8")),
                p.leaf_index,
                p.tree_size,
                list(p.proof),
                p.root_hash,
            )

        failures += not timed(check_inclusion, check)
        assert proof.checkpoint is not None
        timed(
            lambda p=proof: parse_signed_checkpoint(p.checkpoint, key, expected_origin=ORIGIN),
            note_check,
        )
    latency("AuditTrail.inclusion_proof(leaf_index=…) (latest checkpoint)", generate)
    reference: list[float] = []
    for _ in range(args.proofs):
        began = time.perf_counter()
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        reference.append(time.perf_counter() - began)
    latency("for scale: engine.connect() + SELECT 1 (the pool's pre-ping included)", reference)
    micro("leaf_hash(entry) + verify_inclusion", check)
    micro("signed-note check of the checkpoint (Ed25519)", note_check)

    generate, check = [], []
    for _ in range(args.proofs):
        old = rng.randrange(1, head.size)
        new = rng.randrange(old + 1, head.size + 1)
        began = time.perf_counter()
        consistency = await trail.consistency_proof(old, new)
        generate.append(time.perf_counter() - began)
        failures += not timed(
            lambda c=consistency: verify_consistency(
                c.old_size, c.new_size, c.old_root, c.new_root, list(c.proof)
            ),
            check,
        )
    latency("AuditTrail.consistency_proof(old, new), random sizes", generate)
    micro("verify_consistency", check)
    figure("proofs that did not verify", str(failures))


# -- 5. the person-history report ------------------------------------------------------------------


async def index_bulk_rows(config: DbConfig, engine: AsyncEngine) -> float:
    """The DPO query index (`audit_index`, `audit_index_rules`) for the bulk-inserted entries,
    which bypassed `SqlAuditLog.append` (that writes it entry by entry); seconds taken."""
    began = time.perf_counter()
    if config.backend == "postgres":
        entry = "CAST(entry AS jsonb)"
        index = (
            "INSERT INTO audit_index (position, kind, occurred_at, actor, person_id, "
            "recipient_id, event_id, purpose) SELECT position, kind, occurred_at, "
            f"{entry}->>'actor', {entry}->>'person_id', {entry}->>'recipient_id', "
            f"{entry}->>'event_id', {entry}->>'purpose' FROM audit_entries"
        )
        rules = (
            "INSERT INTO audit_index_rules (rule, position) SELECT DISTINCT "
            f"jsonb_array_elements_text({entry}->'rules'), position FROM audit_entries"
        )
    else:
        index = (
            "INSERT INTO audit_index (position, kind, occurred_at, actor, person_id, "
            "recipient_id, event_id, purpose) SELECT position, kind, occurred_at, "
            "json_extract(entry, '$.actor'), json_extract(entry, '$.person_id'), "
            "json_extract(entry, '$.recipient_id'), json_extract(entry, '$.event_id'), "
            "json_extract(entry, '$.purpose') FROM audit_entries"
        )
        rules = (
            "INSERT INTO audit_index_rules (rule, position) SELECT DISTINCT r.value, position "
            "FROM audit_entries, json_each(json_extract(entry, '$.rules')) AS r"
        )
    async with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as connection:
        await connection.execute(sa.text(index))
        await connection.execute(sa.text(rules))
    return time.perf_counter() - began


async def history_report_bench(
    args: argparse.Namespace, config: DbConfig, engine: AsyncEngine
) -> None:
    """A subject access report for one person whose entries are spread through the log: the
    index lookup, parsing each entry, grouping, JSON and CSV, and the consultation entry."""
    print("\n5. A person's history report over the whole log")
    indexed = await index_bulk_rows(config, engine)
    figure("index the bulk-inserted entries (DPO query columns, once)", f"{indexed:.1f} s")
    log = SqlAuditLog(engine)
    store = create_event_store(engine, audit=log)
    person, now = "p_bench_subject", datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(persons.insert().values(person_id=person, created_at=now))
        await connection.execute(
            person_identifiers.insert().values(
                scheme="sps_number", value="9999999", person_id=person, linked_at=now
            )
        )
    factory = EntryFactory(seed=5)
    events = args.history_events
    for _ in range(events):
        entries = [
            AuditEntry(
                kind=AuditKind.COLLECTION,
                occurred_at=now,
                actor="c_pr2",
                agency="sps",
                person_id=person,
                event_id=str(uuid.uuid4()),
                source="urn:pph:sps:pr2:hmp-barlinnie",
                fields=("data.establishment", "identifiers.sps_number"),
                outcome="stored",
                details={"event_type": "custody.admission"},
            ),
            *(
                AuditEntry(**{**_fields(e), "person_id": person})
                for e in factory.event_entries(args.decisions)
            ),
        ]
        await log.record(entries)
    async with engine.connect() as connection:
        total = (
            await connection.execute(sa.select(sa.func.count()).select_from(audit_entries))
        ).scalar_one()
    service = AuditQueryService(
        SqlAuditIndex(engine), SqlRestrictions(engine, log), store, ConsultationLog(log)
    )
    principal = Principal("c_dpo", "hub-dpo")
    json_times: list[float] = []
    csv_times: list[float] = []
    size = 0
    for _ in range(args.history_runs):
        began = time.perf_counter()
        person_id = await service.resolve_person("sps_number:9999999")
        report = await service.history(person_id, principal, "subject access request SAR-1")
        document = report.as_json()
        json_times.append(time.perf_counter() - began)
        size = document["entries"]
        began = time.perf_counter()
        report.as_csv()
        csv_times.append(time.perf_counter() - began)
    figure(
        "the person's entries",
        f"{size:,} ({events:,} events x (1 collection + {args.decisions} decisions)) among "
        f"{total:,} stored entries",
    )
    latency("resolve identifier + history report as JSON (incl. consultation entry)", json_times)
    latency("the same report as CSV (from the loaded report)", csv_times)


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in AuditEntry.__dataclass_fields__}


# -- main ------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the log (2-4)")
    parser.add_argument("--quick", action="store_true", help="a small run to check the bench")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers (1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load (1)")
    parser.add_argument("--events-per-batch", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=3, help="entries per event")
    parser.add_argument("--sequencer-batch", type=int, default=1000, help="(2); the CLI uses 1000")
    parser.add_argument(
        "--load-sequencer-batch", type=int, default=1000, help="(1); the CLI uses 1000"
    )
    parser.add_argument("--checkpoint-interval", type=float, default=5.0)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--skip-load", action="store_true", help="skip (1)")
    parser.add_argument("--history-events", type=int, default=500, help="(5) the person's events")
    parser.add_argument("--history-runs", type=int, default=20, help="(5) reports timed")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"which steps after building the log: a comma list of {', '.join(STEPS)}, or none",
    )
    parser.add_argument("--keep-log", type=Path, help="keep the log built, described in this file")
    parser.add_argument("--use-log", type=Path, help="a log kept by --keep-log: skip (1) and (2)")
    parser.add_argument("--drop-log", type=Path, help="drop a log kept by --keep-log, and stop")
    parser.add_argument("--profile", type=Path, help="cProfile each step of (3) into DIR")
    args = parser.parse_args()
    steps = set() if args.steps == "none" else set(args.steps.split(","))
    if steps - set(STEPS):
        parser.error(f"--steps: unknown {', '.join(sorted(steps - set(STEPS)))}")
    if args.drop_log is not None:
        await drop_log(kept_log(args.drop_log)[0])
        args.drop_log.unlink()
        return
    if args.quick:
        args.entries = min(args.entries, 20_000)
        args.seconds = min(args.seconds, 5.0)
        args.proofs = min(args.proofs, 200)
    print(f"# audit trail benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, backend {args.backend}")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        if args.use_log is not None:
            config, raw_key, size = kept_log(args.use_log)
            await after_build(args, steps, config, raw_key, workdir, size)
            return
        raw_key = Ed25519PrivateKey.generate().private_bytes_raw()
        signer = signer_from(raw_key)
        if not args.skip_load:
            await routing_load(args, workdir, raw_key)
        keep = args.keep_log is not None
        log_dir = Path(tempfile.mkdtemp(prefix="bench-audit-log-")) if keep else workdir
        async with hub_database(args.backend, log_dir, "log", keep=keep) as config:
            engine = config.engine()
            try:
                size = await build_log(args, config, engine, signer)
            finally:
                await engine.dispose()
            if args.keep_log is not None:
                keep_log(args.keep_log, config, raw_key, size)
            await after_build(args, steps, config, raw_key, workdir, size)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


#: The steps after the log is built.
STEPS = ("verify", "cli", "export", "verify_export", "proofs", "history")


async def after_build(
    args: argparse.Namespace,
    steps: set[str],
    config: DbConfig,
    raw_key: bytes,
    workdir: Path,
    size: int,
) -> None:
    verification(config, raw_key, workdir, size, steps, args.profile)
    engine = config.engine()
    try:
        if "cli" in steps:
            await verify_command(config, engine, raw_key)
        if "proofs" in steps:
            await proofs(args, engine, signer_from(raw_key))
        if "history" in steps:
            await history_report_bench(args, config, engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
