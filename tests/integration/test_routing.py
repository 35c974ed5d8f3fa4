"""The router on each backend: every stored notification is decided once, per recipient, with
the policy version and the profile it was judged with; decisions, profiles and the checkpoint
are recorded in one transaction; records follow the person into custody.

The policy engine here is a small real one (`TinyPolicy`), written as code rather than loaded
from a bundle, so that each test can say exactly what it expects.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.notifications import Notification, Publisher, StoredEvent
from hub.domain.person import PersonProfile, Status, apply, receiving_establishment
from hub.infra.audit import SqlAuditLog
from hub.infra.db import create_engine
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import create_event_store
from hub.infra.tables import (
    consumer_checkpoints,
    disclosure_denials,
    disclosure_proposals,
    disclosures,
)
from hub.services.ports import EventStore, PolicyEngine
from hub.services.routing import CONSUMER, Router, fold_profiles, rebuild_profiles
from tests.conftest import Database
from tests.unit.test_profile import DROP, example, scotland

PR2 = Publisher(client_id="pr2-test", agency="sps")
AUTHORITIES = scotland()
FOLLOWING_TYPES = ("risk.assessment-recorded", "mappa.referral")
#: The kinds of notification the randomised tests draw from (their examples, per person).
KINDS = {
    "release.schedule1-notification",
    "custody.admission",
    "custody.liberation",
    "custody.transfer",
    "licence.recall",
    "mappa.referral",
    "mappa.level-changed",
    "person.missing",
    "person.located",
    "risk.assessment-recorded",
    "health.information-shared",
}


# -- a small real policy engine ------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    recipient_id: str
    permitted: bool
    fields: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    legal_bases: tuple[str, ...] = ()
    acknowledge_within: timedelta | None = None
    reasons: tuple[str, ...] = ()
    #: No rule of the tiny policy is reviewed (case-by-case review).
    review: None = None


@dataclass(frozen=True)
class Evaluation:
    policy_version: str
    decisions: tuple[Decision, ...]


class TinyPolicy:
    """Four rules, as code:

    - `all-to-police`: every notification to `police-national` (type and time), except health
      information without consent, which is denied;
    - `admission-to-establishment`: an admission to the admitting establishment (everything);
    - `schedule1-to-social-work`: to the social work of the release area, if the person is a
      Schedule 1 offender (denied otherwise);
    - `records-follow-person` (follows the person): risk assessments, and MAPPA referrals at
      level 2 or 3, to the receiving establishment.
    """

    version = "tiny-policy-1"
    #: The Scotland bundle's status authorities, for the profile fold.
    statuses = AUTHORITIES

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> Evaluation:
        self.calls += 1
        data = notification.data
        if follows_person_to is not None:
            if notification.type not in FOLLOWING_TYPES:
                return Evaluation(self.version, ())
            rule = ("records-follow-person",)
            if notification.type == "mappa.referral" and data.get("level", 0) < 2:
                reason = "records-follow-person: event.data.level is not at least 2"
                decision = Decision(follows_person_to, False, rules=rule, reasons=(reason,))
            else:
                decision = Decision(
                    follows_person_to,
                    True,
                    fields=("data", "type"),
                    rules=rule,
                    purposes=("managing the risk in custody",),
                    legal_bases=("DPA 2018 s35",),
                )
            return Evaluation(self.version, (decision,))

        decisions: list[Decision] = []
        police = ("all-to-police",)
        if notification.type == "health.information-shared" and not profile.get("health_consent"):
            reason = "all-to-police: profile.health_consent is not true"
            decisions.append(Decision("police-national", False, rules=police, reasons=(reason,)))
        else:
            decisions.append(
                Decision(
                    "police-national",
                    True,
                    fields=("time", "type"),
                    rules=police,
                    purposes=("public protection",),
                    legal_bases=("DPA 2018 s35", "MOSA 2005 s10"),
                    acknowledge_within=timedelta(hours=4),
                )
            )
        if notification.type == "custody.admission":
            decisions.append(
                Decision(
                    str(data["establishment"]),
                    True,
                    fields=("data", "identifiers", "type"),
                    rules=("admission-to-establishment",),
                    purposes=("custody",),
                    legal_bases=("Prisons (Scotland) Act 1989",),
                    acknowledge_within=timedelta(minutes=30),
                )
            )
        area = profile.get("release_area")
        if area is not None:
            rule = ("schedule1-to-social-work",)
            if profile.get("schedule1") is True:
                decisions.append(
                    Decision(
                        f"sw-{area}",
                        True,
                        fields=("data.release", "type"),
                        rules=rule,
                        purposes=("child protection",),
                        legal_bases=("CP(S)A 1995 Sch. 1",),
                        acknowledge_within=timedelta(days=2),
                    )
                )
            else:
                reason = "schedule1-to-social-work: profile.schedule1 is not true"
                decisions.append(Decision(f"sw-{area}", False, rules=rule, reasons=(reason,)))
        return Evaluation(self.version, tuple(decisions))


# -- the expected decisions, worked out independently of the router -----------------------------

#: A decision as it must be recorded: (event_position, recipient_id, trigger_position,
#: permitted, fields, rules, policy_version, profile_position).
Key = tuple[int, str, int, bool, tuple[str, ...], tuple[str, ...], str, int]


async def all_events(store: EventStore) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while page := await store.read_all(after=found[-1].position if found else 0, limit=1000):
        found += page
    return found


def expected_decisions(stored: Sequence[StoredEvent], policy: PolicyEngine) -> Counter[Key]:
    """Every decision the store's events call for: one fold over the whole store, one event at
    a time, with no batches, checkpoints or database in between."""
    profiles: dict[str, PersonProfile] = {}
    streams: dict[str, list[StoredEvent]] = {}
    expected: Counter[Key] = Counter()
    for e in stored:
        before = profiles.get(e.person_id)
        profile = apply(before, e.notification, e.position, e.person_id, policy.statuses)
        profiles[e.person_id] = profile
        context = profile.as_context(as_of=e.notification.time)
        judged = [(e, policy.evaluate(e.notification, context))]
        establishment = receiving_establishment(before, profile, e.notification)
        if establishment is not None:
            for earlier in streams.get(e.person_id, []):
                evaluation = policy.evaluate(
                    earlier.notification, context, follows_person_to=establishment
                )
                judged.append((earlier, evaluation))
        for subject, evaluation in judged:
            for d in evaluation.decisions:
                fields = tuple(d.fields) if d.permitted else ()
                expected[
                    (
                        subject.position,
                        d.recipient_id,
                        e.position,
                        d.permitted,
                        fields,
                        tuple(d.rules),
                        evaluation.policy_version,
                        profile.position,
                    )
                ] += 1
        streams.setdefault(e.person_id, []).append(e)
    return expected


async def recorded_decisions(engine: AsyncEngine) -> Counter[Key]:
    d, n = disclosures.c, disclosure_denials.c
    async with engine.connect() as connection:
        permitted = (
            await connection.execute(
                sa.select(
                    d.event_position,
                    d.recipient_id,
                    d.trigger_position,
                    d.fields,
                    d.rules,
                    d.policy_version,
                    d.profile_position,
                )
            )
        ).all()
        denied = (
            await connection.execute(
                sa.select(
                    n.event_position,
                    n.recipient_id,
                    n.trigger_position,
                    n.rules,
                    n.policy_version,
                    n.profile_position,
                )
            )
        ).all()
        # A permitted decision under a rule with `review` is recorded as a proposal instead.
        proposed = (
            await connection.execute(sa.select(disclosure_proposals.c.disclosure))
        ).scalars()
        permitted += [
            (
                p["event_position"],
                p["recipient_id"],
                p["trigger_position"],
                p["fields"],
                p["rules"],
                p["policy_version"],
                p["profile_position"],
            )
            for p in (json.loads(x) if isinstance(x, str) else x for x in proposed)
        ]
    recorded: Counter[Key] = Counter()
    for position, recipient, trigger, fields, rules, version, profile in permitted:
        recorded[
            (position, recipient, trigger, True, tuple(fields), tuple(rules), version, profile)
        ] += 1
    for position, recipient, trigger, rules, version, profile in denied:
        recorded[(position, recipient, trigger, False, (), tuple(rules), version, profile)] += 1
    return recorded


async def checkpoint_row(engine: AsyncEngine) -> int | None:
    async with engine.connect() as connection:
        position = (
            await connection.execute(
                sa.select(consumer_checkpoints.c.position).where(
                    consumer_checkpoints.c.consumer == CONSUMER
                )
            )
        ).scalar_one_or_none()
    return None if position is None else int(position)


async def count_rows(engine: AsyncEngine, table: sa.TableClause) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        )


# -- fixtures and helpers ----------------------------------------------------------------------


@dataclass
class Hub:
    database: Database
    store: EventStore
    routing: SqlRoutingStore
    policy: TinyPolicy

    def router(self, **options: Any) -> Router:
        return Router(self.store, self.routing, lambda: self.policy, **options)


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[Hub]:
    audit = SqlAuditLog(database.engine)
    yield Hub(
        database,
        create_event_store(database.engine, audit=audit),
        SqlRoutingStore(database.engine, audit=audit),
        TinyPolicy(),
    )


def person(number: int) -> dict[str, Any]:
    """Envelope identifiers of one made-up person."""
    return {"identifiers": {"sps_number": str(7_000_000 + number)}}


_ids = iter(range(1, 10**9))


def event(event_type: str, who: int, changes: dict[str, Any] | None = None) -> Notification:
    return example(event_type, changes, id=f"evt-{next(_ids)}", **person(who))


def admission(who: int, **changes: Any) -> Notification:
    return event("custody.admission", who, {f"data.{k}": v for k, v in changes.items()})


async def append(store: EventStore, *notifications: Notification) -> list[int]:
    results = await store.append(list(notifications), publisher=PR2)
    return [r.position for r in results]


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_decisions_are_recorded_per_recipient_with_policy_version_and_profile(
    hub: Hub,
) -> None:
    first, second = await append(
        hub.store, admission(1), event("release.schedule1-notification", 1)
    )
    assert await hub.router().run_until_idle() == 2

    engine = hub.database.engine
    async with engine.connect() as connection:
        rows = (
            (
                await connection.execute(
                    sa.select(disclosures).order_by(disclosures.c.event_position)
                )
            )
            .mappings()
            .all()
        )
    by_key = {(r["event_position"], r["recipient_id"]): r for r in rows}
    assert sorted(by_key) == [
        (first, "hmp-barlinnie"),
        (first, "police-national"),
        (second, "police-national"),
        (second, "sw-S12000049"),
    ]
    social_work = by_key[(second, "sw-S12000049")]
    assert social_work["disclosure_id"].startswith("d_")
    assert social_work["event_type"] == "release.schedule1-notification"
    assert social_work["source"] == "urn:pph:sps:pr2:hmp-barlinnie"
    assert social_work["fields"] == ["data.release", "type"]
    assert social_work["rules"] == ["schedule1-to-social-work"]
    assert social_work["purposes"] == ["child protection"]
    assert social_work["legal_bases"] == ["CP(S)A 1995 Sch. 1"]
    assert social_work["policy_version"] == "tiny-policy-1"
    assert social_work["profile_position"] == second
    assert social_work["trigger_position"] == second
    assert social_work["acknowledge_within_seconds"] == 2 * 24 * 3600
    admitted = by_key[(first, "hmp-barlinnie")]
    assert (admitted["profile_position"], admitted["acknowledge_within_seconds"]) == (first, 1800)
    assert len({r["person_id"] for r in rows}) == 1

    assert await checkpoint_row(engine) == second
    [profile] = await hub.routing.all_profiles()
    assert profile.position == second
    assert profile.release_area == "S12000049"


@pytest.mark.asyncio
async def test_denials_are_recorded_with_the_rules_and_reasons(hub: Hub) -> None:
    _, liberated, health = await append(
        hub.store,
        admission(2, schedule1_offender=False),
        event("custody.liberation", 2),
        event("health.information-shared", 2, {"data.consent.given": False}),
    )
    await hub.router().run_until_idle()

    async with hub.database.engine.connect() as connection:
        rows = (
            (
                await connection.execute(
                    sa.select(disclosure_denials).order_by(
                        disclosure_denials.c.event_position, disclosure_denials.c.recipient_id
                    )
                )
            )
            .mappings()
            .all()
        )
    assert [(r["event_position"], r["recipient_id"]) for r in rows] == [
        (liberated, "sw-S12000049"),
        (health, "police-national"),
        (health, "sw-S12000049"),
    ]
    first = rows[0]
    assert first["denial_id"].startswith("dd_")
    assert first["rules"] == ["schedule1-to-social-work"]
    assert first["reasons"] == ["schedule1-to-social-work: profile.schedule1 is not true"]
    assert (first["policy_version"], first["profile_position"]) == ("tiny-policy-1", liberated)
    assert first["trigger_position"] == liberated
    assert rows[1]["reasons"] == ["all-to-police: profile.health_consent is not true"]


@pytest.mark.asyncio
async def test_routing_again_changes_nothing(hub: Hub) -> None:
    await append(hub.store, *(admission(n) for n in range(5)))
    router = hub.router(batch_size=2)
    assert await router.run_once() == 2
    assert await router.run_once() == 2
    assert await router.run_once() == 1
    assert await router.run_once() == 0
    before = await recorded_decisions(hub.database.engine)
    calls = hub.policy.calls

    assert await router.run_once() == 0
    assert await hub.router().run_until_idle() == 0  # a restarted router
    assert await recorded_decisions(hub.database.engine) == before
    assert hub.policy.calls == calls
    assert set(before.values()) == {1}
    assert before == expected_decisions(await all_events(hub.store), TinyPolicy())


@contextmanager
def failing_before_commit(engine: AsyncEngine) -> Iterator[tuple[list[str], list[str]]]:
    """Make the router's transaction fail at its last write (the profiles), after the checkpoint,
    disclosures and denials were written in it. The statements seen: SQLAlchemy's, in order,
    and the inserts run on asyncpg's own connection (PostgreSQL: the batch's multi-row inserts;
    its logger reports them once done, not in order with SQLAlchemy's)."""
    seen: list[str] = []
    seen_by_driver: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))
        if statement.startswith("INSERT INTO person_profiles"):
            raise RuntimeError("injected failure before commit")

    def on_driver(query: Any) -> None:
        if query.query.startswith("INSERT"):  # not SQLAlchemy's transaction control
            seen_by_driver.append(" ".join(query.query.replace('"', "").split()[:3]))

    def log_driver(dbapi_connection: Any, *_args: Any) -> None:
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger"):  # asyncpg's
            driver.add_query_logger(on_driver)

    def unlog_driver(dbapi_connection: Any, *_args: Any) -> None:
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "remove_query_logger"):
            driver.remove_query_logger(on_driver)

    sa_event.listen(engine.sync_engine, "before_cursor_execute", fail)
    sa_event.listen(engine.sync_engine.pool, "checkout", log_driver)
    sa_event.listen(engine.sync_engine.pool, "checkin", unlog_driver)
    try:
        yield seen, seen_by_driver
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", fail)
        sa_event.remove(engine.sync_engine.pool, "checkout", log_driver)
        sa_event.remove(engine.sync_engine.pool, "checkin", unlog_driver)


@pytest.mark.asyncio
async def test_a_failure_before_commit_records_nothing_and_keeps_the_checkpoint(hub: Hub) -> None:
    engine = hub.database.engine
    await append(hub.store, admission(3), event("release.schedule1-notification", 3))
    await append(hub.store, admission(4, schedule1_offender=False), event("custody.liberation", 4))
    router = hub.router()
    assert await router.run_once(limit=2) == 2
    checkpoint = await checkpoint_row(engine)
    decided = await recorded_decisions(engine)
    profiles = await hub.routing.all_profiles()

    with (
        failing_before_commit(engine) as (statements, by_driver),
        pytest.raises(RuntimeError, match="inject"),
    ):
        await router.run_once()
    # The failure came after the checkpoint moved and the decisions were written.
    writes = [s for s in statements if not s.startswith(("SELECT", "BEGIN"))]
    assert writes[0] == "UPDATE consumer_checkpoints SET"
    assert writes[-1] == "INSERT INTO person_profiles"
    assert {
        "INSERT INTO disclosures",
        "INSERT INTO recipient_feed",
        "INSERT INTO disclosure_denials",
    } <= set(writes) | set(by_driver)

    assert await checkpoint_row(engine) == checkpoint
    assert await recorded_decisions(engine) == decided
    assert await hub.routing.all_profiles() == profiles

    assert await router.run_once() == 2
    assert await recorded_decisions(engine) == expected_decisions(
        await all_events(hub.store), TinyPolicy()
    )


@pytest.mark.asyncio
async def test_a_router_that_records_second_writes_nothing(hub: Hub) -> None:
    await append(hub.store, *(admission(n) for n in range(10, 14)))
    slow, fast = hub.router(), hub.router()
    stored = await hub.store.read_all(after=0)
    batch = await slow.route(0, stored)  # decided, not yet recorded …
    assert await fast.run_once() == 4  # … when another router records the same events
    assert await hub.routing.record(CONSUMER, batch) is False
    assert set((await recorded_decisions(hub.database.engine)).values()) == {1}
    assert await slow.run_once() == 0  # it reads again from the new checkpoint


@pytest.mark.asyncio
@pytest.mark.slow
async def test_two_routers_at_once_record_each_decision_exactly_once(hub: Hub) -> None:
    rng = random.Random(7)
    kinds = sorted(KINDS)
    for _ in range(30):
        await append(hub.store, *(event(rng.choice(kinds), rng.randrange(25)) for _ in range(10)))
    second_engine = create_engine(hub.database.settings)
    second_audit = SqlAuditLog(second_engine)
    try:
        other = Router(
            create_event_store(second_engine, audit=second_audit),
            SqlRoutingStore(second_engine, audit=second_audit),
            lambda: hub.policy,
            batch_size=7,
        )
        mine = hub.router(batch_size=5)
        routed = await asyncio.gather(mine.run_until_idle(), other.run_until_idle())
    finally:
        await second_engine.dispose()
    print(f"\nrouted {routed}, races lost {mine.races_lost} and {other.races_lost}")

    assert sum(routed) == 300
    recorded = await recorded_decisions(hub.database.engine)
    assert set(recorded.values()) == {1}
    assert recorded == expected_decisions(await all_events(hub.store), TinyPolicy())
    assert await checkpoint_row(hub.database.engine) == await hub.store.last_position()


@pytest.mark.asyncio
async def test_records_follow_the_person_into_custody(hub: Hub) -> None:
    who = 20
    risk, low_mappa, high_mappa, _, admitted = await append(
        hub.store,
        event("risk.assessment-recorded", who),
        event("mappa.referral", who, {"data.level": 1}),
        event("mappa.referral", who),  # level 2
        event("custody.liberation", who),
        admission(who),
    )
    (transfer,) = await append(hub.store, event("custody.transfer", who))
    (arrival,) = await append(
        hub.store,
        admission(
            who,
            admission_reason="transfer-in",
            establishment="hmp-glenochil",
            previous_establishment="hmp-barlinnie",
            sentence=DROP,
        ),
    )
    await hub.router(batch_size=3).run_until_idle()

    async with hub.database.engine.connect() as connection:
        followed = (
            await connection.execute(
                sa.select(
                    disclosures.c.event_position,
                    disclosures.c.recipient_id,
                    disclosures.c.trigger_position,
                    disclosures.c.profile_position,
                    disclosures.c.rules,
                )
                .where(disclosures.c.trigger_position != disclosures.c.event_position)
                .order_by(disclosures.c.trigger_position, disclosures.c.event_position)
            )
        ).all()
        refused = (
            await connection.execute(
                sa.select(
                    disclosure_denials.c.event_position,
                    disclosure_denials.c.recipient_id,
                    disclosure_denials.c.trigger_position,
                ).where(
                    disclosure_denials.c.trigger_position != disclosure_denials.c.event_position
                )
            )
        ).all()
    rule = ["records-follow-person"]
    assert [tuple(row) for row in followed] == [
        (risk, "hmp-barlinnie", admitted, admitted, rule),
        (high_mappa, "hmp-barlinnie", admitted, admitted, rule),
        (risk, "hmp-glenochil", transfer, transfer, rule),
        (high_mappa, "hmp-glenochil", transfer, transfer, rule),
    ]  # and nothing more for the arrival at the prison the person was already moved to
    assert sorted(tuple(row) for row in refused) == [
        (low_mappa, "hmp-barlinnie", admitted),
        (low_mappa, "hmp-glenochil", transfer),
    ]
    assert arrival not in {row[2] for row in followed}
    assert await recorded_decisions(hub.database.engine) == expected_decisions(
        await all_events(hub.store), TinyPolicy()
    )


@pytest.mark.asyncio
async def test_rebuilding_the_profiles_gives_the_same_profiles(hub: Hub) -> None:
    rng = random.Random(11)
    kinds = sorted(KINDS)
    for _ in range(8):
        await append(hub.store, *(event(rng.choice(kinds), rng.randrange(6)) for _ in range(6)))
    await hub.router(batch_size=9).run_until_idle()
    routed = await hub.routing.all_profiles()
    assert len(routed) == 6

    # Spoil the stored profiles: one gone, one wrong.
    engine = hub.database.engine
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("DELETE FROM person_profiles WHERE person_id = :p"), {"p": routed[0].person_id}
        )
    held = Status("custody", {"custody_status": "in-custody", "establishment": "hmp-perth"})
    stale = PersonProfile(person_id=routed[1].person_id, position=1, statuses=(held,))
    await hub.routing.replace_profiles(CONSUMER, await hub.store.last_position(), [stale])

    assert await rebuild_profiles(hub.store, hub.routing, AUTHORITIES) == 6
    assert await hub.routing.all_profiles() == routed
    assert await rebuild_profiles(hub.store, hub.routing, AUTHORITIES) == 6  # and again
    assert await hub.routing.all_profiles() == routed


@pytest.mark.asyncio
async def test_a_rebuild_overtaken_by_the_router_starts_again(hub: Hub) -> None:
    await append(hub.store, admission(30), event("custody.liberation", 30))
    router = hub.router(batch_size=1)
    await router.run_once()
    checkpoint = await hub.routing.checkpoint(CONSUMER)
    folded = await fold_profiles(hub.store, AUTHORITIES, through=checkpoint, survivors={})
    await router.run_once()  # the router moves on meanwhile
    assert await hub.routing.replace_profiles(CONSUMER, checkpoint, list(folded.values())) is False
    [profile] = await hub.routing.all_profiles()
    assert profile.as_context(as_of=datetime.now(UTC))["custody_status"] == "in-community"


@pytest.mark.asyncio
async def test_run_follows_the_store_until_stopped(hub: Hub) -> None:
    router = hub.router(poll_interval=30)
    stop, wakeup = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(router.run(stop, wakeup))
    try:
        positions = await append(hub.store, admission(40), admission(41))
        wakeup.set()
        async with asyncio.timeout(10):
            while await hub.routing.checkpoint(CONSUMER) != positions[-1]:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    assert task.done()
    assert task.exception() is None


@pytest.mark.asyncio
async def test_decisions_are_append_only(hub: Hub) -> None:
    await append(
        hub.store, admission(50, schedule1_offender=False), event("custody.liberation", 50)
    )
    await hub.router().run_until_idle()
    for table in ("disclosures", "disclosure_denials"):
        for statement in (f"UPDATE {table} SET recipient_id = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(sa.exc.DBAPIError, match=r"append-only|permission denied"):
                async with hub.database.engine.begin() as connection:
                    await connection.execute(sa.text(statement))
        assert await count_rows(hub.database.engine, sa.table(table)) > 0
