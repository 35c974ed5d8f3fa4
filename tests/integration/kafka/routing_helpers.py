"""What the router worker tests share: stores of randomised notifications, the decisions the
in-process router's logic calls for, and checks on what the workers recorded."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.notifications import StoredEvent
from hub.domain.person import PersonProfile
from hub.infra.audit import SqlAuditLog
from hub.infra.routing import SqlRoutingStore
from hub.infra.tables import recipient_counters, recipient_feed, routed_events
from hub.services.ports import EventStore, PolicyEngine
from hub.services.routing import Router, fold_profiles
from tests.integration.test_routing import AUTHORITIES, KINDS, Key, append, event

#: How long a test waits for what must happen eventually (never a measure of speed).
PATIENCE = 180.0


async def append_random(
    store: EventStore, *, batches: int, per_batch: int, people: int, seed: int
) -> None:
    """`batches` appends of `per_batch` notifications of every kind the router tests use
    (admissions among them, so that records follow people), about `people` people."""
    rng = random.Random(seed)
    kinds = sorted(KINDS)
    for _ in range(batches):
        await append(
            store, *(event(rng.choice(kinds), rng.randrange(people)) for _ in range(per_batch))
        )


async def all_events(store: EventStore) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while more := await store.read_all(after=found[-1].position if found else 0):
        found.extend(more)
    return found


class _NoProfilesYet:
    """A routing store before anything was routed: the in-process router starts from scratch."""

    async def profiles(self, person_ids: Collection[str]) -> dict[str, PersonProfile]:
        return {}


async def in_process_decisions(
    store: EventStore, stored: Sequence[StoredEvent], policy: PolicyEngine
) -> Counter[Key]:
    """What the in-process router (`Router`, following the store) decides on `stored`, routed
    from the start in one batch, keyed as `recorded_decisions` keys what was recorded."""
    router = Router(store, _NoProfilesYet(), lambda: policy)  # type: ignore[arg-type]
    batch = await router.route(0, stored)
    decided: Counter[Key] = Counter()
    # A decision held for review is a permitted decision recorded as a proposal.
    for d in (*batch.disclosures, *(p.disclosure for p in batch.proposals)):
        decided[
            (d.event_position, d.recipient_id, d.trigger_position, True, d.fields, d.rules,
             d.policy_version, d.profile_position)
        ] += 1  # fmt: skip
    for n in batch.denials:
        decided[
            (n.event_position, n.recipient_id, n.trigger_position, False, (), n.rules,
             n.policy_version, n.profile_position)
        ] += 1  # fmt: skip
    return decided


async def routed_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(sa.select(sa.func.count()).select_from(routed_events))
    return int(count or 0)


async def wait_until_routed(
    engine: AsyncEngine, count: int, *processes: asyncio.subprocess.Process
) -> None:
    async with asyncio.timeout(PATIENCE):
        while await routed_count(engine) < count:
            for process in processes:
                assert process.returncode is None, "a router worker exited"
            await asyncio.sleep(0.05)


async def check_profiles(engine: AsyncEngine, store: EventStore) -> None:
    """Every stored profile is the fold of its person's events, in stream order."""
    last = await store.last_position()
    expected = await fold_profiles(store, AUTHORITIES, through=last, survivors={})
    stored = {
        p.person_id: p
        for p in await SqlRoutingStore(engine, audit=SqlAuditLog(engine)).all_profiles()
    }
    assert stored == expected


async def check_feeds(engine: AsyncEngine) -> None:
    """Each recipient's feed is numbered 1..n without a gap, its counter at n."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(sa.select(recipient_feed.c.recipient_id, recipient_feed.c.seq))
        ).all()
        counters = dict(
            (
                await connection.execute(
                    sa.select(recipient_counters.c.recipient_id, recipient_counters.c.last_seq)
                )
            ).all()
        )
    feeds: dict[str, list[int]] = defaultdict(list)
    for recipient, seq in rows:
        feeds[recipient].append(int(seq))
    assert feeds, "nothing was disclosed"
    for recipient, seqs in feeds.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), recipient
        assert counters[recipient] == len(seqs), recipient


async def group_members(bootstrap: str, group: str) -> int:
    """How many members the consumer group has once it is stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    _, _, state, *_, members = response.groups[0][:6]
    return len(members) if state == "Stable" else 0


async def wait_for_members(bootstrap: str, group: str, count: int) -> None:
    async with asyncio.timeout(PATIENCE):
        while True:
            if await group_members(bootstrap, group) == count:
                return
            await asyncio.sleep(0.2)
