"""Policy and routing benchmark: the default Scotland bundle deciding a realistic mix of
notifications, then the router deciding and recording them on PostgreSQL and SQLite.

1. The bundle alone (policies/scotland, parsed once): decisions/s and µs per decision over a
   mix of all 12 event types for many people (examples with varied council areas,
   establishments and identifiers, each validated by the schema registry, profiles folded in
   store order as the router does); per-notification evaluate and explain p50/p99; load time.
2. Routing on PostgreSQL, end to end: `hub serve` (router inside) in a throwaway schema, N
   notifications pushed through POST /v1/events/batch, timed until the router's checkpoint
   reaches the last position: events, disclosures and denials per second, and intake-to-decision
   latency (each event's decided_at minus its recorded_at, read from the tables).
3. The router alone: the same notifications stored in a fresh schema (and a fresh SQLite file)
   with no router running, then `Router.run_until_idle()` timed from an empty checkpoint.

   Each notification is pushed by the agency that owns its source (MAPPA sources by the
   area's MAPPA coordinator, NHS sources by the health board, …), as intake requires.
4. The database's own limit in the same run: the same number of decision rows written with one
   multi-row insert and one commit per router batch (asyncpg; aiosqlite in WAL), and the ratios
   of the router to it and to the policy engine alone.

    .venv/bin/python bench/policy.py [--events 2000] [--batch 100] [--seconds 3]
        [--profile 30] [--skip-serve]

Needs PostgreSQL (deploy/local/postgres.sh start). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import httpx
import psutil
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import bootstrap  # noqa: E402
from hub.domain.notifications import Notification, Publisher  # noqa: E402
from hub.domain.person import PersonProfile, apply  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.policy.directory import Directory  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
BUNDLE_DIR = ROOT / "policies/scotland"
BACKENDS = ("postgres", "sqlite")
EXAMPLES = {
    path.name.removesuffix(".json"): json.loads(path.read_text("utf-8"))
    for path in sorted((ROOT / "events/examples").glob("*.json"))
}
_DEFS = json.loads((ROOT / "events/licence.recall.v1.schema.json").read_text())["$defs"]
_DIRECTORY = yaml.safe_load((BUNDLE_DIR / "directory.yaml").read_text())
#: The 32 current council area codes (the directory's; every schema accepts them).
AREAS: list[str] = [area["gss"] for area in _DIRECTORY["areas"]]
ESTABLISHMENTS: list[str] = _DEFS["establishment"]["enum"]
DIVISIONS: list[str] = _DEFS["police_division"]["enum"]
#: The schema's health boards that the directory knows as agencies (only those may publish).
HEALTH_BOARDS: list[str] = [
    board
    for board in json.loads((ROOT / "events/health.information-shared.v1.schema.json").read_text())[
        "$defs"
    ]["health_board"]["enum"]
    if any(r["id"] == board and r["role"] == "health-board" for r in _DIRECTORY["recipients"])
]

#: Each person's life in the hub, as the event types their agencies push (about 4 on average).
SCENARIOS: list[list[str]] = [
    # sentenced, moved, assessed, referred to MAPPA, Schedule 1 notice, released on licence
    [
        "admission",
        "custody.transfer",
        "risk.assessment-recorded",
        "mappa.referral",
        "release.schedule1-notification",
        "liberation-licence",
    ],
    # sentenced, home leave, released on licence, health information for the supervisor
    [
        "admission",
        "custody.temporary-release",
        "liberation-licence",
        "health.information-shared",
    ],
    # managed in the community: MAPPA referral, assessment, level change
    ["mappa.referral", "risk.assessment-recorded", "mappa.level-changed"],
    # on licence: recalled at large, reported missing, found, admitted on recall
    ["licence.recall", "person.missing", "person.located", "admission-recall"],
    # remanded, then bailed
    ["admission-remand", "liberation-bail"],
    # sentenced, assessed, Schedule 1 notice, released, MAPPA level reviewed
    [
        "admission",
        "risk.assessment-recorded",
        "release.schedule1-notification",
        "liberation-licence",
        "mappa.level-changed",
    ],
]

# Which identifiers each type's publisher knows (as in events/examples).
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "custody.admission": ("sps_number", "pnc_id", "cro_number"),
    "custody.transfer": ("sps_number", "pnc_id"),
    "custody.temporary-release": ("sps_number", "pnc_id"),
    "custody.liberation": ("sps_number", "pnc_id", "sw_client_id"),
    "health.information-shared": ("sps_number", "chi_number"),
    "risk.assessment-recorded": ("pnc_id", "visor_ref"),
    "mappa.referral": ("sw_client_id", "pnc_id", "visor_ref"),
    "mappa.level-changed": ("pnc_id", "visor_ref", "sw_client_id"),
    "release.schedule1-notification": ("sps_number", "pnc_id", "sw_client_id"),
    "licence.recall": ("sps_number", "pnc_id", "visor_ref"),
    "person.missing": ("pnc_id", "visor_ref"),
    "person.located": ("pnc_id", "visor_ref"),
}


class Person:
    """One person's identifiers and circumstances, drawn from a seeded generator."""

    def __init__(self, index: int, rng: random.Random) -> None:
        letter = "ABCDEFGHJKLMNPQRSTUVWXYZ"[index % 24]
        year = 10 + index % 15
        self.area = rng.choice(AREAS)
        self.release_area = self.area if rng.random() < 0.7 else rng.choice(AREAS)
        self.establishment = rng.choice(ESTABLISHMENTS)
        self.division = rng.choice(DIVISIONS)
        self.health_board = rng.choice(HEALTH_BOARDS)
        self.schedule1 = rng.random() < 0.35
        self.sex_offender = rng.random() < 0.5
        self.violent = rng.random() < 0.6
        self.identifiers = {
            "sps_number": str(3_000_000 + index),
            "pnc_id": f"{year:02d}/{index + 1:07d}{letter}",
            "cro_number": f"{index % 999_999 + 1}/{year:02d}{letter}",
            "visor_ref": f"VSR-2024-{index:07d}",
            "sw_client_id": f"{self.area}:SW{index:07d}",
            "chi_number": (
                f"{index % 28 + 1:02d}{index // 28 % 12 + 1:02d}"
                f"{index // 10_000 % 100:02d}{index % 10_000:04d}"
            ),
        }
        self.day = date(2023, 1, 1) + timedelta(days=rng.randrange(600))


def _event(kind: str, person: Person, rng: random.Random) -> dict[str, Any]:
    """A notification of `kind` (an event type, or one of a few variants) about `person`."""
    event_type = {
        "admission": "custody.admission",
        "admission-recall": "custody.admission",
        "admission-remand": "custody.admission",
        "liberation-licence": "custody.liberation",
        "liberation-bail": "custody.liberation",
    }.get(kind, kind)
    n = copy.deepcopy(EXAMPLES[event_type])
    person.day += timedelta(days=rng.randrange(1, 60))
    today = person.day.isoformat()
    n["id"] = str(uuid.uuid4())
    n["time"] = f"{today}T{rng.randrange(7, 19):02d}:{rng.randrange(60):02d}:00Z"
    n["identifiers"] = {k: person.identifiers[k] for k in IDENTIFIERS[event_type]}
    n.pop("subject", None)
    d = n["data"]
    area, est = person.area, person.establishment
    if event_type == "custody.admission":
        n["source"] = f"urn:pph:sps:pr2:{est}"
        d.update(establishment=est, admission_date=today)
        d["schedule1_offender"] = person.schedule1
        d["sex_offender_notification"] = person.sex_offender
        d["offence_categories"] = (["sexual"] if person.sex_offender else []) + (
            ["violent"] if person.violent else ["dishonesty"]
        )
        if kind == "admission-remand":
            d["admission_reason"] = "remand"
            d.pop("sentence", None)
        elif kind == "admission-recall":
            d["admission_reason"] = "recall"
    elif event_type == "custody.transfer":
        to = rng.choice([e for e in ESTABLISHMENTS if e != est])
        n["source"] = f"urn:pph:sps:pr2:{est}"
        d.update(from_establishment=est, to_establishment=to, transfer_date=today)
        person.establishment = to
    elif event_type == "custody.temporary-release":
        n["source"] = f"urn:pph:sps:pr2:{est}"
        d.update(establishment=est, start_date=today, end_date=today)
        d["address"]["council_area"] = person.release_area
    elif event_type == "custody.liberation":
        n["source"] = f"urn:pph:sps:pr2:{est}"
        d.update(establishment=est, liberation_date=today)
        d["release_address"]["council_area"] = person.release_area
        if kind == "liberation-bail":
            d["release_type"] = "bail-or-liberation-from-remand"
            d.pop("licence", None)
            d.pop("supervising_council_area", None)
        else:
            d["release_type"] = rng.choice(["parole-licence", "non-parole-licence"])
            d["supervising_council_area"] = person.release_area
        person.area = person.release_area
    elif event_type == "health.information-shared":
        n["source"] = f"urn:pph:nhs:{person.health_board}:prison-healthcare"
        d["health_board"] = person.health_board
        d["consent"]["given"] = rng.random() < 0.7
        d["consent"]["recorded_date"] = today
        d["relevant_to_licence_condition"] = rng.random() < 0.5
    elif event_type == "risk.assessment-recorded":
        d.update(
            tool=rng.choice(["RM2000", "SA07", "RA3", "LS/CMI"]),
            measure=rng.choice(["risk-of-reconviction", "risk-of-serious-harm"]),
            outcome_level=rng.choice(["low", "medium", "high", "very-high"]),
            assessment_date=today,
        )
    elif event_type in ("mappa.referral", "mappa.level-changed"):
        n["source"] = f"urn:pph:mappa:{area}"
        d["mappa_area"] = area
        if event_type == "mappa.referral":
            d.update(level=rng.choice([1, 2, 3]), referral_date=today)
            d["referring_council_area"] = area
        else:
            d.update(previous_level=2, new_level=rng.choice([1, 3]), decision_date=today)
        if not person.sex_offender:
            d.update(category="s10(1)(e)", category_group="other-risk-of-serious-harm")
            d["risk_of_serious_harm"] = "high"
            if event_type == "mappa.referral":
                d["level"] = rng.choice([2, 3])
            else:
                d["new_level"] = 3
    elif event_type == "release.schedule1-notification":
        n["source"] = f"urn:pph:sps:pr2:{est}"
        d.update(notifying_establishment=est, notification_date=today)
        d["release"]["type"] = rng.choice(["possible", "planned"])
        d["release"]["expected_date"] = (person.day + timedelta(days=90)).isoformat()
        d["release"]["address"]["council_area"] = person.release_area
    elif event_type == "licence.recall":
        d.update(
            revocation_date=today,
            police_division=person.division,
            supervising_council_area=area,
            liberating_establishment=est,
        )
    elif event_type == "person.missing":
        d["last_known_location"]["council_area"] = area
        d["police_division"] = person.division
    elif event_type == "person.located":
        d["location"]["council_area"] = rng.choice([area, rng.choice(AREAS)])
        d["police_division"] = person.division
    return n


def realistic_mix(total: int, seed: int = 7) -> list[dict[str, Any]]:
    """`total` notifications about roughly total/4 people, their lives interleaved in time
    order (each person's events in their own order)."""
    rng = random.Random(seed)
    lives: list[Iterator[dict[str, Any]]] = []
    produced = 0
    index = 0
    while produced < total:
        person = Person(index, rng)
        scenario = rng.choice(SCENARIOS)[: total - produced]
        lives.append(iter([_event(kind, person, rng) for kind in scenario]))
        produced += len(scenario)
        index += 1
    mixed: list[dict[str, Any]] = []
    active = list(range(len(lives)))
    while active:
        # Few lives in progress at a time, so a person's events are spread but not too far.
        window = active[:64]
        pick = rng.choice(window)
        item = next(lives[pick], None)
        if item is None:
            active.remove(pick)
        else:
            mixed.append(item)
    return mixed


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class People:
    """Which person a notification is about, by any identifier seen before (as the store's
    subject index resolves it; the generated identifiers never conflict)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}

    def of(self, identifiers: dict[str, str]) -> str:
        keys = sorted(identifiers.items())
        person = next((self._known[k] for k in keys if k in self._known), f"p{len(self._known)}")
        for key in keys:
            self._known[key] = person
        return person


#: Namespaces whose unit is an area or a board served by an agency of that role (as intake's
#: source-ownership check reads them, `hub.services.intake.source_belongs_to`).
_SHARED = {"nhs": "health-board", "socialwork": "social-work", "mappa": "mappa-coordinator"}


def owner_of(source: str, directory: Directory) -> str:
    """The agency that owns `source`, so that it may publish from it: the namespace itself
    (`urn:pph:sps:…`, `urn:pph:police-scotland:visor`), the health board named by an NHS source,
    or the agency serving the area of a social work or MAPPA source."""
    namespace, unit = source.removeprefix("urn:pph:").split(":")[:2]
    role = _SHARED.get(namespace)
    if role is None:
        return namespace
    if role == "health-board":
        return unit
    serving = directory.serving(role, unit)
    if not serving:
        raise RuntimeError(f"no {role} serves {unit} (source {source})")
    return serving[0].id


def publish_plan(
    raw: list[dict[str, Any]], size: int, directory: Directory
) -> list[tuple[str, list[dict[str, Any]]]]:
    """`raw` as (agency, notifications) pushes of at most `size` items, each notification pushed
    by the agency that owns its source, each person's notifications still in their order.

    Within each window of `size` items a notification goes into its agency's group at the
    person's level: the level of the person's previous notification in the window, plus one
    when that one is another agency's. Groups go out by level, so a person's later notification
    never goes out before an earlier one."""
    people = People()
    plan: list[tuple[str, list[dict[str, Any]]]] = []
    for b in range(0, len(raw), size):
        last: dict[str, tuple[int, str]] = {}
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for item in raw[b : b + size]:
            agency = owner_of(item["source"], directory)
            person = people.of(item["identifiers"])
            level, previous = last.get(person, (0, agency))
            if previous != agency:
                level += 1
            last[person] = (level, agency)
            groups.setdefault((level, agency), []).append(item)
        plan += [(agency, items) for (_, agency), items in sorted(groups.items())]
    return plan


# -- 1. the bundle alone ----------------------------------------------------------------------


def bench_bundle(args: argparse.Namespace) -> tuple[float, float]:
    """The bundle alone: (notifications/s, decisions/s) evaluated."""
    schemas = SchemaRegistry.load(ROOT / "events")
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        bundle = PolicyBundle.load(BUNDLE_DIR, schemas)
        loads.append(time.perf_counter() - started)
    print(
        f"bundle {bundle.name} ({BUNDLE_DIR.relative_to(ROOT)}): {len(bundle.rules)} rules, "
        f"{len(bundle.directory.recipients)} recipients, version {bundle.version[:12]}"
    )
    print(f"bundle load (read, validate, compile to Cedar), first: {loads[0] * 1000:.0f} ms")
    print(f"bundle load, best of 3: {min(loads) * 1000:.0f} ms")

    raw = realistic_mix(args.mix)
    started = time.perf_counter()
    notifications = [schemas.validate(r) for r in raw]
    validate_us = (time.perf_counter() - started) / len(raw) * 1e6
    profiles: dict[str, PersonProfile] = {}
    cases: list[tuple[Notification, dict[str, Any]]] = []
    people = People()
    for position, n in enumerate(notifications, start=1):
        key = people.of({i.scheme: i.value for i in n.identifiers})
        profiles[key] = apply(profiles.get(key), n, position, key, bundle.statuses)
        cases.append((n, profiles[key].as_context(as_of=n.time)))
    types = Counter(n.type for n in notifications)
    print(
        f"mix: {len(cases)} notifications, {len(profiles)} people, {len(types)} event types "
        f"(schema validation {validate_us:.0f} µs each)"
    )

    # Per-notification timings, one pass each (after a warm-up pass).
    for n, context in cases:
        bundle.evaluate(n, context)
    per_type: dict[str, list[float]] = defaultdict(list)
    candidates: dict[str, int] = Counter()
    permitted: dict[str, int] = Counter()
    samples: list[float] = []
    for n, context in cases:
        started = time.perf_counter()
        evaluation = bundle.evaluate(n, context)
        elapsed = time.perf_counter() - started
        samples.append(elapsed)
        per_type[n.type].append(elapsed)
        candidates[n.type] += len(evaluation.decisions)
        permitted[n.type] += len(evaluation.permitted)

    # Throughput: the whole mix again and again for about --seconds.
    decisions = passes = 0
    per_pass = sum(candidates.values())
    started = time.perf_counter()
    deadline = started + args.seconds
    while True:
        for n, context in cases:
            bundle.evaluate(n, context)
        passes += 1
        decisions += per_pass
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - started
    print(
        f"decisions: {decisions / elapsed:.0f} decisions/s "
        f"({per_pass / len(cases):.1f} candidates per notification, "
        f"{passes} passes of the mix in {elapsed:.1f} s)"
    )
    print(f"µs per decision: {elapsed / decisions * 1e6:.1f}")
    print(f"notifications evaluated: {passes * len(cases) / elapsed:.0f} /s")
    print(f"evaluate per notification p50: {percentile(samples, 0.5) * 1e6:.0f} µs")
    print(f"evaluate per notification p99: {percentile(samples, 0.99) * 1e6:.0f} µs")

    print(f"\n{'event type':32} {'count':>5} {'cand.':>6} {'perm.':>6} {'p50 µs':>7} {'p99 µs':>7}")
    for event_type in sorted(per_type):
        times = per_type[event_type]
        count = len(times)
        print(
            f"{event_type:32} {count:>5} {candidates[event_type] / count:>6.1f} "
            f"{permitted[event_type] / count:>6.1f} {percentile(times, 0.5) * 1e6:>7.0f} "
            f"{percentile(times, 0.99) * 1e6:>7.0f}"
        )

    explains: list[float] = []
    for n, context in cases:
        started = time.perf_counter()
        bundle.explain(n, context)
        explains.append(time.perf_counter() - started)
    print(f"\nexplain per notification p50: {percentile(explains, 0.5) * 1e6:.0f} µs")
    print(f"explain per notification p99: {percentile(explains, 0.99) * 1e6:.0f} µs")
    return passes * len(cases) / elapsed, decisions / elapsed


# -- 2a. intake to decisions through `hub serve` ----------------------------------------------


class Server:
    """`hub serve` as a subprocess, as bench/intake.py runs it."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("hub serve did not become ready")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


def hub_env(data_dir: Path, schema: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(data_dir),
            "HUB_DATABASE_URL": PG_DSN.replace("postgresql://", "postgresql+asyncpg://"),
            "HUB_DATABASE_SCHEMA": schema,
        }
    )
    env.update(extra)
    return env


async def sql(query: str, *params: Any, schema: str | None = None) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(PG_DSN)
    try:
        if schema:
            await connection.execute(f'SET search_path TO "{schema}"')
        return await connection.fetch(query, *params)
    finally:
        await connection.close()


LATENCY_SQL = """
    SELECT e.position,
           EXTRACT(EPOCH FROM (min(d.decided_at) - e.recorded_at)) AS seconds
    FROM events e
    JOIN (SELECT event_position, decided_at FROM disclosures
           WHERE trigger_position = event_position
          UNION ALL
          SELECT event_position, decided_at FROM disclosure_denials
           WHERE trigger_position = event_position) d
      ON d.event_position = e.position
    GROUP BY e.position, e.recorded_at
"""


async def decision_counts(schema: str | None = None, engine: Any = None) -> tuple[int, int]:
    if engine is not None:
        async with engine.connect() as connection:
            disclosed = await connection.execute(sa.text("SELECT count(*) FROM disclosures"))
            denied = await connection.execute(sa.text("SELECT count(*) FROM disclosure_denials"))
            return int(disclosed.scalar_one()), int(denied.scalar_one())
    [row] = await sql(
        "SELECT (SELECT count(*) FROM disclosures) AS d, "
        "(SELECT count(*) FROM disclosure_denials) AS dd",
        schema=schema,
    )
    return int(row["d"]), int(row["dd"])


async def bench_intake_to_decisions(
    args: argparse.Namespace, plan: list[tuple[str, list[dict[str, Any]]]]
) -> tuple[int, int]:
    raw = [item for _, items in plan for item in items]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    await sql(f'CREATE SCHEMA "{schema}"')
    env = hub_env(
        data_dir,
        schema,
        HUB_ROUTER_ENABLED="true",
        HUB_ROUTER_POLL_INTERVAL=str(args.poll_interval),
        HUB_ROUTER_BATCH_SIZE=str(args.router_batch),
        HUB_MAX_REQUEST_BYTES=str(4 * 2**20),
    )
    server = Server(env, 18000 + os.getpid() % 1000)
    try:
        await asyncio.to_thread(server.cli, "db", "upgrade")
        agencies = sorted({agency for agency, _ in plan})

        def add_client(agency: str) -> dict[str, Any]:
            output = server.cli(
                *("clients", "add", "--name", f"bench-{agency}", "--agency", agency),
                *("--scope", "events:publish", "--json"),
            )
            return dict(json.loads(output))

        clients = await asyncio.gather(*(asyncio.to_thread(add_client, a) for a in agencies))
        await asyncio.to_thread(server.start)
        url = f"http://127.0.0.1:{server.port}"
        watcher = await asyncpg.connect(PG_DSN)
        await watcher.execute(f'SET search_path TO "{schema}"')
        checkpoint_sql = "SELECT position FROM consumer_checkpoints WHERE consumer = 'router'"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                tokens = {}
                for agency, client in zip(agencies, clients, strict=True):
                    answer = await http.post(
                        "/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=(client["client_id"], client["client_secret"]),
                    )
                    tokens[agency] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
                last = 0
                started = time.perf_counter()
                # One push at a time, in plan order, so that each person's events are stored in
                # order; each by the agency that owns the notifications' source.
                for agency, items in plan:
                    answer = await http.post("/v1/events/batch", json=items, headers=tokens[agency])
                    if answer.status_code != 200:
                        raise RuntimeError(f"{agency}: {answer.status_code} {answer.text[:500]}")
                    last = max(last, *(r["position"] for r in answer.json()["results"]))
                pushed = time.perf_counter()
            at_push_end = await watcher.fetchval(checkpoint_sql) or 0
            checkpoint = at_push_end
            while checkpoint < last and time.perf_counter() < pushed + args.timeout:
                await asyncio.sleep(0.01)
                checkpoint = await watcher.fetchval(checkpoint_sql) or 0
        finally:
            await watcher.close()
        done = time.perf_counter()
        await asyncio.to_thread(server.stop)
        total = len(raw)
        disclosed, denied = await decision_counts(schema)
        latencies = [float(r["seconds"]) for r in await sql(LATENCY_SQL, schema=schema)]
        elapsed = done - started
        if checkpoint < last:
            print(f"(timed out after {args.timeout} s: checkpoint {checkpoint} of {last})")
        print(
            f"intake (POST /v1/events/batch, {len(plan)} pushes of up to {args.batch} by "
            f"{len(agencies)} agencies, one at a time): ",
            end="",
        )
        print(f"{total / (pushed - started):.0f} events/s, {pushed - started:.1f} s")
        print(f"routed end to end (first push to checkpoint at {last}): {elapsed:.1f} s")
        print(f"events routed: {total / elapsed:.0f} events/s")
        print(f"disclosures: {disclosed} stored, {disclosed / elapsed:.0f} /s")
        print(f"denials: {denied} stored, {denied / elapsed:.0f} /s")
        print(
            f"router checkpoint when the last push was acknowledged: {at_push_end} of {last} "
            f"({last - at_push_end} events behind)"
        )
        print(f"router lag after the last push acknowledged: {(done - pushed) * 1000:.0f} ms")
        if latencies:
            print(
                f"intake-to-decision latency p50: {percentile(latencies, 0.5) * 1000:.0f} ms "
                f"({len(latencies)} of {total} events had decisions)"
            )
            print(f"intake-to-decision latency p99: {percentile(latencies, 0.99) * 1000:.0f} ms")
            print(f"intake-to-decision latency max: {max(latencies) * 1000:.0f} ms")
        return disclosed, denied
    finally:
        server.stop()
        await sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)


# -- 2b. the router alone ---------------------------------------------------------------------


async def bench_router_alone(
    backend: str, args: argparse.Namespace, plan: list[tuple[str, list[dict[str, Any]]]]
) -> tuple[int, int, float]:
    """The router alone on `backend`, from an empty checkpoint: (disclosures, denials, events/s)."""
    total = sum(len(items) for _, items in plan)
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-router-{backend}-"))
    schema = None
    options: dict[str, Any] = {
        "environment": "development",
        "data_dir": data_dir,
        "router_enabled": False,
        "router_batch_size": args.router_batch,
    }
    if backend == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        await sql(f'CREATE SCHEMA "{schema}"')
        options["database_url"] = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
        options["database_schema"] = schema
    settings = Settings(**options)
    try:
        async with bootstrap.running(settings, migrate=True) as container:
            started = time.perf_counter()
            for agency, items in plan:
                await container.intake.publish_batch(items, Publisher(f"bench-{agency}", agency))
            stored = time.perf_counter() - started
            router = container.router()
            _ = router.policy  # the bundle is already loaded by the container
            profiler = cProfile.Profile() if args.profile and backend == "postgres" else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            routed = await router.run_until_idle()
            if profiler:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            disclosed, denied = await decision_counts(engine=container.engine)
        rate = routed / elapsed
        print(
            f"{backend}: stored {total} in-process first ({total / stored:.0f} events/s), "
            f"router batch size {args.router_batch}"
        )
        print(f"{backend} router alone: {rate:.0f} events/s ({elapsed:.2f} s)")
        # The router's own CPU (this process: Python, driver; not the database server's), less
        # sensitive than the wall clock to other work on the machine.
        print(f"{backend} router alone: {cpu / routed * 1e6:.0f} µs of router CPU per event")
        print(
            f"{backend} router alone: {(disclosed + denied) / elapsed:.0f} decisions/s: "
            f"{disclosed / elapsed:.0f} disclosures/s, {denied / elapsed:.0f} denials/s "
            f"({disclosed} and {denied})"
        )
        if profiler:
            stats = pstats.Stats(profiler)
            print(f"\n{backend} router profile (cProfile, top {args.profile} by own time):")
            stats.sort_stats("tottime").print_stats(args.profile)
            print(f"{backend} router profile (top {args.profile} by cumulative time):")
            stats.sort_stats("cumulative").print_stats(args.profile)
        return disclosed, denied, rate
    finally:
        if schema:
            await sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)


# -- 2c. the database's own limit for the same decision rows ----------------------------------

RAW_TABLE = """CREATE TABLE raw_decisions (
    decision_id text PRIMARY KEY, event_position bigint NOT NULL, event_id text NOT NULL,
    person_id text NOT NULL, recipient_id text NOT NULL, rules text NOT NULL,
    policy_version text NOT NULL, decided_at text NOT NULL)"""


def decision_rows(count: int) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC).isoformat()
    return [
        (f"d_{uuid.uuid4().hex}", i, str(uuid.uuid4()), f"p{i // 4}", "sps", '["r"]', "v1", now)
        for i in range(count)
    ]


async def raw_postgres(rows: list[tuple[Any, ...]], per_commit: int) -> float:
    """asyncpg, one multi-row INSERT (unnest of arrays) and one commit per `per_commit` rows:
    rows/s."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
        await connection.execute(RAW_TABLE)
        insert = (
            "INSERT INTO raw_decisions SELECT * FROM unnest("
            "$1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], "
            "$7::text[], $8::text[])"
        )
        started = time.perf_counter()
        for b in range(0, len(rows), per_commit):
            chunk = rows[b : b + per_commit]
            async with connection.transaction():
                await connection.execute(
                    insert, *(list(column) for column in zip(*chunk, strict=True))
                )
        return len(rows) / (time.perf_counter() - started)
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


async def raw_sqlite(rows: list[tuple[Any, ...]], per_commit: int) -> float:
    """aiosqlite (WAL), one executemany and one commit per `per_commit` rows: rows/s."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    try:
        async with aiosqlite.connect(data_dir / "raw.db") as connection:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute(RAW_TABLE)
            await connection.commit()
            started = time.perf_counter()
            for b in range(0, len(rows), per_commit):
                await connection.executemany(
                    "INSERT INTO raw_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows[b : b + per_commit],
                )
                await connection.commit()
            return len(rows) / (time.perf_counter() - started)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def bench_routing(args: argparse.Namespace, policy_rate: tuple[float, float]) -> None:
    raw = realistic_mix(args.events, seed=11)
    schemas = SchemaRegistry.load(ROOT / "events")
    plan = publish_plan(raw, args.batch, PolicyBundle.load(BUNDLE_DIR, schemas).directory)
    types = Counter(r["type"] for r in raw)
    resolver = People()
    people = len({resolver.of(r["identifiers"]) for r in raw})
    print(
        f"{len(raw)} notifications about {people} people: "
        + ", ".join(f"{t} {c}" for t, c in types.most_common())
    )
    print(f"pushed by the agency owning each source: {len(plan)} pushes")
    served = None
    if not args.skip_serve:
        print("\n## routing end to end on PostgreSQL (hub serve, router inside)")
        served = await bench_intake_to_decisions(args, plan)
    print("\n## the router alone, from an empty checkpoint (fresh store)")
    alone = {backend: await bench_router_alone(backend, args, plan) for backend in BACKENDS}
    counts = {(d, dd) for d, dd, _ in alone.values()} | ({served} if served else set())
    print(f"same disclosures and denials in every run: {'yes' if len(counts) == 1 else 'NO'}")

    disclosed, denied, _ = alone["postgres"]
    decisions = disclosed + denied
    batches = -(-len(raw) // args.router_batch)
    per_commit = -(-decisions // batches)
    rows = decision_rows(decisions)
    raw_rates = {
        "postgres": await raw_postgres(rows, per_commit),
        "sqlite": await raw_sqlite(rows, per_commit),
    }
    notifications_rate, decisions_rate = policy_rate
    print(
        f"\n## ratios in this run ({decisions} decision rows in {batches} commits of "
        f"{per_commit}, as the router's batches of {args.router_batch} events)"
    )
    print(
        f"policy engine alone: {notifications_rate:.0f} notifications/s, "
        f"{decisions_rate:.0f} decisions/s"
    )
    for backend, (d, dd, rate) in alone.items():
        decided = rate * (d + dd) / len(raw)
        print(
            f"{backend}: router {rate:.0f} events/s, {decided:.0f} decisions/s; raw database "
            f"{raw_rates[backend]:.0f} decision rows/s; router/raw (decisions) "
            f"{decided / raw_rates[backend]:.3f}; router/policy (notifications) "
            f"{rate / notifications_rate:.2f}; goal 2000 events/s: {rate / 2000:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="notifications to route")
    parser.add_argument("--batch", type=int, default=100, help="notifications per POST")
    parser.add_argument("--mix", type=int, default=2000, help="notifications in the bundle mix")
    parser.add_argument("--seconds", type=float, default=3.0, help="bundle throughput run")
    parser.add_argument("--router-batch", type=int, default=100, help="events per router batch")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="router idle poll (s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="max wait for the router")
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile the PostgreSQL router: top N lines"
    )
    parser.add_argument(
        "--skip-serve", action="store_true", help="skip routing end to end through hub serve"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"# policy benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    print("\n## the Scotland bundle alone (in-process, parsed once)")
    policy_rate = bench_bundle(args)
    asyncio.run(bench_routing(args, policy_rate))
    print(f"\n# total run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
