"""The router alone, measured and fingerprinted: `bench/policy.py`'s realistic mix stored in a
fresh schema (and a fresh SQLite file) with no router running, then `Router.run_until_idle()`
from an empty checkpoint, reporting the router's CPU per event, the SQL statements it ran and a
fingerprint of everything it decided and logged, so that a change to the router can be shown to
decide and log exactly what it did before.

The fingerprint covers, with the run's random ids and clock taken out (event, person,
disclosure, denial and proposal ids become stable names; decision times are dropped):
- every disclosure and denial row (fields, rules, reasons, purposes, legal bases, supplied
  identifiers, policy version, profile and trigger positions), each recipient's feed numbers,
  the profiles' positions, the proposals held for review and the webhook jobs;
- every audit entry the router wrote, as its canonical JSON: every key and value, and every
  column digest in `details.columns` but those of the random ids and times (whose digests
  change from run to run by construction);
and, separately, the hub's own evidence check (`hub audit verify`'s second half): every row's
full digests against its entry.

    PYTHONPATH=. .venv/bin/python bench/policy_router.py [--events 1000]
        [--backends postgres,sqlite] [--router-batch 100] [--profile FILE] [--dump FILE]
        [--statements] [--tag NAME]

Needs PostgreSQL (BENCH_POSTGRES_DSN). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import policy as bench_policy  # noqa: E402

from hub import bootstrap  # noqa: E402
from hub.domain.notifications import Publisher  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402
from hub.infra import tables as t  # noqa: E402
from hub.settings import Settings  # noqa: E402

#: Columns whose values are random or the clock's in every run: their digests are not compared
#: (the evidence check still binds them to their rows).
_RANDOM_COLUMNS = frozenset(
    {
        "disclosure_id",
        "denial_id",
        "proposal_id",
        "event_id",
        "person_id",
        "decided_at",
        "proposed_at",
        "escalate_at",
        "disclosure",  # a proposal's disclosure, with its id and time
    }
)
#: The clock's values, dropped wherever they are (rows, nested documents, entries).
_TIMES = frozenset(
    {"decided_at", "proposed_at", "escalate_at", "added_at", "created_at", "occurred_at"}
)


class Sampler:
    """A CPU-time sampling profiler: every `interval` seconds of this process's CPU (SIGPROF),
    the Python stack. Unlike cProfile it costs nearly nothing per call, so it does not inflate
    code made of many small calls; time in C (Cedar, the JSON encoder, hashing) is counted to
    the Python function that called it."""

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.stacks: list[list[tuple[str, str]]] = []

    def _sample(self, _signal: int, frame: Any) -> None:
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        self.stacks.append(stack)

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)

    def report(self, top: int) -> None:
        """Each bucket's share of the samples (a sample counts once per bucket its stack
        reaches), then the `top` functions by inclusive and by own share."""
        total = len(self.stacks) or 1
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        buckets: Counter[str] = Counter()
        for stack in self.stacks:
            names = {f"{_short(path)}:{name}" for path, name in stack}
            inclusive.update(names)
            if stack:
                own[f"{_short(stack[0][0])}:{stack[0][1]}"] += 1
            for bucket, needles in _BUCKETS.items():
                if any(needle in name for name in names for needle in needles):
                    buckets[bucket] += 1
        print(f"   {total} samples of {self.interval * 1000:.1f} ms CPU")
        for bucket in _BUCKETS:
            print(f"   {buckets[bucket] / total * 100:5.1f} %  {bucket}")
        print("   -- inclusive")
        for name, n in inclusive.most_common(top):
            print(f"   {n / total * 100:5.1f} %  {name}")
        print("   -- own")
        for name, n in own.most_common(top):
            print(f"   {n / total * 100:5.1f} %  {name}")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/hub/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


#: Where the router's time goes: a sample counts to a bucket if its stack passes any of these.
_BUCKETS: dict[str, tuple[str, ...]] = {
    "decide (policy evaluation, fold, records that follow)": ("services/routing.py:decide",),
    "  policy evaluation (engine.evaluate)": ("policy/engine.py:evaluate",),
    "    Cedar is_authorized_batch (with its Python wrapper)": (
        "cedarpy/__init__.py:is_authorized_batch",
    ),
    "  profile fold (apply, as_context)": ("person/fold.py:apply", "profile.py:as_context"),
    "record (the decision transaction)": ("infra/routing.py:record",),
    "  audit entries built (_audit_entries)": ("infra/routing.py:_audit_entries",),
    "  audit append (canonical bytes, index rows, SQL)": ("infra/audit.py:append",),
    "read_all (the batch's events)": ("infra/store.py:read_all",),
    "read_streams / read_stream": ("infra/store.py:read_stream",),
    "opening sealed fields (protection)": ("infra/protection.py:open",),
    "SQLAlchemy": ("sqlalchemy/",),
    "asyncpg / aiosqlite / sqlite3": ("asyncpg/", "aiosqlite/", "sqlite3/"),
}


async def fingerprint(engine: Any, first_entry: int) -> dict[str, Any]:
    """What the router decided and logged, with random ids and times replaced by stable names."""
    async with engine.connect() as c:
        names: dict[str, str] = {}
        for position, person_id, event_id in await c.execute(
            sa.select(t.events.c.position, t.events.c.person_id, t.events.c.event_id).order_by(
                t.events.c.position
            )
        ):
            names.setdefault(person_id, f"P{position}")
            names[event_id] = f"E{position}"
        disclosed = (await c.execute(sa.select(t.disclosures))).mappings().all()
        denied = (await c.execute(sa.select(t.disclosure_denials))).mappings().all()
        proposed = (await c.execute(sa.select(t.disclosure_proposals))).mappings().all()
        for row in disclosed:
            names[row["disclosure_id"]] = (
                f"D{row['event_position']}:{row['recipient_id']}:{row['trigger_position']}"
            )
        for row in denied:
            names[row["denial_id"]] = (
                f"X{row['event_position']}:{row['recipient_id']}:{row['trigger_position']}"
            )
        for row in proposed:
            names[row["disclosure_id"]] = f"Q{row['event_position']}:{row['recipient_id']}"
            names[row["proposal_id"]] = f"R{row['event_position']}:{row['recipient_id']}"

        def plain(value: Any) -> Any:
            if isinstance(value, str):
                return names.get(value, value)
            if isinstance(value, dict):
                return {names.get(k, k): plain(v) for k, v in value.items() if k not in _TIMES}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        def rows(found: Any) -> list[str]:
            return sorted(json.dumps(plain(dict(r)), default=str, sort_keys=True) for r in found)

        feed = (
            await c.execute(
                sa.select(t.recipient_feed.c.recipient_id, t.recipient_feed.c.seq).add_columns(
                    t.recipient_feed.c.disclosure_id
                )
            )
        ).all()
        profiles = (
            await c.execute(sa.select(t.person_profiles.c.person_id, t.person_profiles.c.position))
        ).all()
        jobs = (
            await c.execute(sa.select(t.deliveries.c.disclosure_id, t.deliveries.c.subscription_id))
        ).all()
        entries = (
            await c.execute(
                sa.select(t.audit_entries.c.entry)
                .where(t.audit_entries.c.position > first_entry)
                .order_by(t.audit_entries.c.position)
            )
        ).scalars()
        logged = []
        kinds: Counter[str] = Counter()
        for text in entries:
            entry = json.loads(text)
            kinds[f"{entry['kind']}/{entry['outcome']}"] += 1
            details = entry["details"]
            details.pop("row_hash", None)
            if "columns" in details:
                details["columns"] = {
                    k: v for k, v in details["columns"].items() if k not in _RANDOM_COLUMNS
                }
            logged.append(json.dumps(plain(entry), sort_keys=True))
        parts = {
            "disclosures": rows(disclosed),
            "denials": rows(denied),
            "proposals": rows(proposed),
            "feed": sorted(json.dumps(plain(list(r))) for r in feed),
            "profiles": sorted(json.dumps(plain(list(r))) for r in profiles),
            "webhook jobs": sorted(json.dumps(plain(list(r))) for r in jobs),
            # In the order written: the log's order is part of what it says.
            "audit entries": logged,
        }
    digest = hashlib.sha256()
    for name, part in parts.items():
        digest.update(name.encode())
        digest.update(json.dumps(part).encode())
    return {
        "dump": parts,
        "fingerprint": digest.hexdigest()[:16],
        "counts": {name: len(part) for name, part in parts.items()},
        "audit kinds": dict(sorted(kinds.items())),
        "parts": {
            name: hashlib.sha256(json.dumps(part).encode()).hexdigest()[:8]
            for name, part in parts.items()
        },
    }


async def run(backend: str, args: argparse.Namespace, plan: Any) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-router-{backend}-"))
    options: dict[str, Any] = {
        "environment": "development",
        "data_dir": data_dir,
        "router_enabled": False,
        "router_batch_size": args.router_batch,
    }
    schema = None
    if backend == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        await bench_policy.sql(f'CREATE SCHEMA "{schema}"')
        options["database_url"] = bench_policy.PG_DSN.replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        options["database_schema"] = schema
    try:
        async with bootstrap.running(Settings(**options), migrate=True) as container:
            for agency, items in plan:
                await container.intake.publish_batch(items, Publisher(f"bench-{agency}", agency))
            async with container.engine.connect() as c:
                first_entry = (
                    await c.execute(
                        sa.select(sa.func.coalesce(sa.func.max(t.audit_entries.c.position), 0))
                    )
                ).scalar_one()
            router = container.router()
            _ = router.policy
            statements: Counter[str] = Counter()

            def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
                statements[" ".join(statement.split())[:80]] += 1

            sa.event.listen(container.engine.sync_engine, "before_cursor_execute", count)
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            sampler = Sampler() if args.sample else None
            if sampler:
                sampler.start()
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            routed = await router.run_until_idle()
            if profiler:
                profiler.disable()
            if sampler:
                sampler.stop()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            sa.event.remove(container.engine.sync_engine, "before_cursor_execute", count)
            found = await fingerprint(container.engine, first_entry)
            evidence = await container.audit_evidence().check()
            if profiler:
                profiler.dump_stats(f"{args.profile}-{backend}.pstats")
        if args.dump:
            with open(f"{args.dump}-{backend}.json", "w", encoding="utf-8") as out:  # noqa: ASYNC230
                json.dump(found["dump"], out, indent=1)
        total = sum(statements.values())
        print(
            f"{args.tag} {backend}: {routed} events, {routed / wall:.0f} events/s, "
            f"router CPU {cpu / routed * 1e6:.0f} µs/event, {total} statements "
            f"({total / routed:.2f}/event), fingerprint {found['fingerprint']}",
            flush=True,
        )
        print(f"   counts {found['counts']}")
        print(f"   audit {found['audit kinds']}")
        print(f"   parts {found['parts']}")
        print(f"   evidence check: {evidence.summary()}")
        if sampler:
            sampler.report(args.sample)
        if args.statements:
            for statement, n in statements.most_common():
                print(f"   {n:6d} {statement}")
    finally:
        if schema:
            await bench_policy.sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    raw = bench_policy.realistic_mix(args.events, seed=11)
    schemas = SchemaRegistry.load(ROOT / "events")
    directory = PolicyBundle.load(bench_policy.BUNDLE_DIR, schemas).directory
    plan = bench_policy.publish_plan(raw, 100, directory)
    for backend in args.backends.split(","):
        await run(backend, args, plan)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="notifications to route")
    parser.add_argument("--router-batch", type=int, default=100, help="events per router batch")
    parser.add_argument("--backends", default="postgres,sqlite", help="comma-separated")
    parser.add_argument("--profile", default="", help="write cProfile stats to FILE-backend.pstats")
    parser.add_argument(
        "--dump", default="", help="write the fingerprinted parts to FILE-backend.json"
    )
    parser.add_argument(
        "--sample", type=int, default=0, help="sample the router's CPU: buckets and top N"
    )
    parser.add_argument("--statements", action="store_true", help="list the SQL statements run")
    parser.add_argument("--tag", default="run", help="a name for this run in the output")
    asyncio.run(main(parser.parse_args()))
