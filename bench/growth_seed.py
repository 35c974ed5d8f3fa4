"""Seeding for `bench/growth.py`: a large store written by the hub's own code, in parallel.

- `chunk`: the realistic mix of `bench/policy.py` (its people, scenarios and event
  builder), generated in chunks with fresh people in each, so that 10^6 notifications never sit
  in memory at once; plus one person with a long history (an admission, then health information
  shared again and again), so that the person history report can be read for them at every size.
- `store` (`store_chunks` in worker processes): each chunk through intake in-process
  (`IntakeService.publish_batch`, batches of up to 500, each pushed by the agency owning its
  source, router off): the events with gap-free positions,
  the people and identifier links, per-person keys and sealed fields, and the audit entries
  intake writes, all exactly as a push writes them.
- `record_profiles`: what `hub import` without `--route` leaves for history: each person's profile
  folded up to the event (`hub.domain.person.apply`, the router's own fold) and the router's
  checkpoint moved past it, recorded with `RoutingStore.record` as the router records a batch,
  with no decision (the history is not disclosed again).
- the rest is routed by the router itself (`Router.run_until_idle`): disclosures, denials, feed
  numbers, webhook jobs, the running `/metrics` totals and their audit entries;
- then the audit sequencer adds every new audit entry to the Merkle tree, as `hub serve` does as
  it goes (otherwise the probes' hub would spend their time on the seeding's backlog).

Routing is the slowest part (about 3 ms of CPU an event), so beyond the first size only a share of
the events is routed; the rest is history recorded as an import records it. Intake itself costs
about 1.3 ms of CPU an event, which bounds the store's rate (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from policy import BUNDLE_DIR, ROOT, SCENARIOS, Person, _event, publish_plan  # noqa: E402

from hub.bootstrap import Container  # noqa: E402
from hub.domain.disclosures import RoutedBatch  # noqa: E402
from hub.domain.notifications import Publisher  # noqa: E402
from hub.domain.person import apply  # noqa: E402
from hub.domain.policy.directory import Directory  # noqa: E402
from hub.services.routing import CONSUMER  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test"
)
ASYNC_DSN = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
#: The mix's seed.
SEED = 19

#: The person with a long history (an index no generated person reaches below 10^6 people).
LONG_INDEX = 990_000
#: How many events the long history holds.
LONG_EVENTS = 200


#: Person indexes each chunk of notifications may use (a chunk of 20,000 tells about ~5,000).
PEOPLE_PER_CHUNK = 10_000


def chunk(seed: int, number: int, total: int) -> list[dict[str, Any]]:
    """Chunk `number` of the mix: `total` notifications about its own people (person indexes
    from `number * PEOPLE_PER_CHUNK`), their lives interleaved in time order as in
    `policy.realistic_mix`; chunk 0 also holds the long history, spread through it."""
    rng = random.Random(seed * 1_000_003 + number)
    lives: list[Iterator[dict[str, Any]]] = []
    long_life = []
    if number == 0:
        person = Person(LONG_INDEX, rng)
        kinds = ["admission"] + ["health.information-shared"] * (LONG_EVENTS - 1)
        long_life = [_event(kind, person, rng) for kind in kinds]
    produced, index = len(long_life), number * PEOPLE_PER_CHUNK
    while produced < total:
        person = Person(index, rng)
        scenario = rng.choice(SCENARIOS)[: total - produced]
        lives.append(iter([_event(kind, person, rng) for kind in scenario]))
        produced += len(scenario)
        index += 1
    if index >= (number + 1) * PEOPLE_PER_CHUNK:
        raise ValueError(f"a chunk of {total} notifications tells about too many people")
    mixed: list[dict[str, Any]] = []
    active = list(range(len(lives)))
    while active:
        window = active[:64]
        pick = rng.choice(window)
        item = next(lives[pick], None)
        if item is None:
            active.remove(pick)
        else:
            mixed.append(item)
    every = max(len(mixed) // max(len(long_life), 1), 1)
    for n, item in enumerate(long_life):
        mixed.insert(n * (every + 1), item)
    return mixed


def long_person() -> str:
    return f"sps_number:{Person(LONG_INDEX, random.Random(0)).identifiers['sps_number']}"


def settings(data_dir: Path, schema: str) -> Settings:
    """The hub's settings for seeding and probing in-process: router and delivery off."""
    return Settings(
        environment="development",
        data_dir=data_dir,
        database_url=ASYNC_DSN,
        database_schema=schema,
        router_enabled=False,
        delivery_enabled=False,
        router_batch_size=500,
    )


async def store(container: Container, items: list[dict[str, Any]], directory: Directory) -> None:
    """`items` through intake in-process, each pushed by the agency owning its source, in
    batches of up to 500 (a person's notifications still in their order)."""
    for agency, group in publish_plan(items, len(items), directory):
        for start in range(0, len(group), 500):
            batch = group[start : start + 500]
            await container.intake.publish_batch(batch, Publisher(f"bench-{agency}", agency))


async def _store_chunks(data_dir: Path, schema: str, chunks: list[tuple[int, int]]) -> int:
    from hub import bootstrap
    from hub.domain.policy import PolicyBundle
    from hub.domain.schemas import SchemaRegistry

    directory = PolicyBundle.load(BUNDLE_DIR, SchemaRegistry.load(ROOT / "events")).directory
    stored = 0
    async with bootstrap.running(settings(data_dir, schema), migrate=False) as container:
        for number, total in chunks:
            items = chunk(SEED, number, total)
            await store(container, items, directory)
            stored += len(items)
    return stored


def store_chunks(data_dir: Path, schema: str, chunks: list[tuple[int, int]]) -> int:
    """In a worker process: the (number, size) chunks stored; how many events."""
    logging.disable(logging.WARNING)
    return asyncio.run(_store_chunks(data_dir, schema, chunks))


async def record_profiles(container: Container, through: int, page: int = 2000) -> int:
    """Profiles up to position `through` and the router's checkpoint there, as an import that
    does not route records history; how many events."""
    routing, events = container.routing, container.store
    authorities = container.policy.statuses
    recorded = 0
    while (after := await routing.checkpoint(CONSUMER)) < through:
        stored = await events.read_all(after=after, limit=min(page, through - after))
        profiles = await routing.profiles({e.person_id for e in stored})
        for event in stored:
            profiles[event.person_id] = apply(
                profiles.get(event.person_id),
                event.notification,
                event.position,
                event.person_id,
                authorities,
            )
        touched = sorted({e.person_id for e in stored})
        batch = RoutedBatch(
            after=after,
            through=stored[-1].position,
            profiles=tuple(profiles[p] for p in touched),
            disclosures=(),
            denials=(),
        )
        if not await routing.record(CONSUMER, batch):
            raise RuntimeError("another router moved the checkpoint while seeding")
        recorded += len(stored)
    return recorded


@dataclass
class Seeded:
    stored: int = 0
    store_s: float = 0.0
    imported: int = 0
    import_s: float = 0.0
    routed: int = 0
    route_s: float = 0.0


async def grow(
    container: Container,
    data_dir: Path,
    schema: str,
    chunks: list[tuple[int, int]],
    routed_share: float,
    *,
    workers: int = 2,
    say: Any = print,
) -> Seeded:
    """Store the (number, size) `chunks` in `workers` processes at once (each chunk's people
    are its own); record the first (1 - `routed_share`) of the new events as imported history
    and route the rest."""
    seeded = Seeded()
    first = await container.store.last_position()
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        shares = [chunks[w::workers] for w in range(workers)]
        jobs = [pool.submit(store_chunks, data_dir, schema, share) for share in shares if share]
        seeded.stored = sum(job.result() for job in jobs)
    seeded.store_s = time.perf_counter() - started
    last = await container.store.last_position()
    if last - first != seeded.stored:
        raise RuntimeError(f"stored {seeded.stored} events but positions moved {last - first}")
    say(
        f"  stored {seeded.stored:,} in {seeded.store_s:.0f} s "
        f"({seeded.stored / seeded.store_s:.0f} events/s, {workers} processes)"
    )
    routing_from = last - round(seeded.stored * routed_share)
    started = time.perf_counter()
    seeded.imported = await record_profiles(container, routing_from)
    seeded.import_s = time.perf_counter() - started
    say(f"  recorded {seeded.imported:,} as imported history in {seeded.import_s:.0f} s")
    started = time.perf_counter()
    seeded.routed = await container.router(batch_size=500).run_until_idle()
    seeded.route_s = time.perf_counter() - started
    say(f"  routed {seeded.routed:,} in {seeded.route_s:.0f} s")
    # The hub sequences its audit entries into the Merkle tree as it goes (`hub serve`'s audit
    # sequencer): so here, so that the probes do not pay for the seeding's backlog.
    started = time.perf_counter()
    sequenced = await container.audit_sequencer().run_until_idle()
    say(f"  sequenced {sequenced:,} audit entries in {time.perf_counter() - started:.0f} s")
    return seeded
