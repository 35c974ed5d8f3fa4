"""The figures of periods of time (`SqlLatencyPeriodStore` through `LatencyPeriodService`) on
both backends, against a known set of disclosures with chosen decision, delivery and
acknowledgement times: every count and histogram equals a recount of that set by the documented
rules (`since <= decided_at < until`; on time when acknowledged at or before the due time;
overdue when not acknowledged and past it), the bounds are inclusive and exclusive as
documented, and the disclosures of recipients not asked about are never counted."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hub.infra import tables
from hub.infra.latency_periods import SqlLatencyPeriodStore
from hub.services.latency import LATENCY_BUCKETS, Histogram, Key
from hub.services.latency_periods import (
    UK_TIME,
    LatencyPeriodService,
    Period,
    PeriodCounts,
    PeriodFigures,
)
from tests.conftest import Database

pytestmark = pytest.mark.asyncio

#: Calendar months in Scotland: March ends at 23:00 UTC on 31 March (British Summer Time).
MARCH = Period(datetime(2026, 3, 1, tzinfo=UK_TIME), datetime(2026, 4, 1, tzinfo=UK_TIME))
APRIL = Period(MARCH.until, datetime(2026, 5, 1, tzinfo=UK_TIME))
#: When the figures are asked for: half an hour into April.
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UK_TIME)
OURS = ("sw-a", "police-a")
THEIRS = "sw-other-region"
RELEASE = "release.schedule1-notification"
ADMISSION = "custody.admission"
HOUR = timedelta(hours=1)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Made:
    """A disclosure as the test chose it."""

    recipient_id: str
    event_type: str
    event_time: datetime
    decided_at: datetime
    within: int | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None


def made(
    recipient_id: str,
    decided_at: datetime,
    *,
    event_type: str = RELEASE,
    within: int | None = 3600,
    delivered: timedelta | None = None,
    acknowledged: timedelta | None = None,
    event_before: timedelta = timedelta(days=2),
) -> Made:
    decided_at = decided_at.astimezone(UTC)  # as the hub stores it (SQLite keeps no offset)
    return Made(
        recipient_id,
        event_type,
        decided_at - event_before,
        decided_at,
        within,
        None if delivered is None else decided_at + delivered,
        None if acknowledged is None else decided_at + acknowledged,
    )


def known_set() -> list[Made]:
    start, end = MARCH.since, MARCH.until
    µs = timedelta(microseconds=1)
    return [
        # At the period's first moment (in), acknowledged at its due time exactly (on time).
        made("sw-a", start, delivered=timedelta(seconds=10), acknowledged=HOUR),
        # A millisecond after its due time: late.
        made(
            "sw-a",
            start + timedelta(days=1),
            delivered=timedelta(seconds=30),
            acknowledged=HOUR + timedelta(milliseconds=1),
        ),
        # Hours late, delivered days after the decision.
        made(
            "sw-a",
            start + timedelta(days=3, hours=5),
            delivered=timedelta(days=2),
            acknowledged=timedelta(days=4),
        ),
        # No acknowledgement time: acknowledged, neither on time nor late.
        made("police-a", start + timedelta(days=4), within=None, acknowledged=timedelta(minutes=5)),
        # Not acknowledged, past its due time at NOW: overdue.
        made("police-a", end - HOUR, within=600, delivered=timedelta(seconds=1)),
        # The period's last microsecond (in); not acknowledged, not yet due at NOW.
        made("police-a", end - µs, event_type=ADMISSION),
        # Stamped in the future by its sender: no delay, not a negative one.
        made("sw-a", start + timedelta(days=9), event_before=-timedelta(minutes=3)),
        # A microsecond before the period (out: February), and at its end (out: April).
        made("sw-a", start - µs, acknowledged=timedelta(minutes=1)),
        made("sw-a", end, event_type=ADMISSION, acknowledged=timedelta(minutes=2)),
        made("police-a", end + timedelta(minutes=10), within=60),
        # Another region's recipient, in the period: never counted.
        made(THEIRS, start + timedelta(days=2), acknowledged=timedelta(minutes=1)),
        made(THEIRS, end - HOUR, within=600),
    ]


async def recorded(database: Database, disclosures: list[Made]) -> None:
    """Each disclosure as the router and the feed record one: its notification, the disclosure,
    its first delivery and its acknowledgement."""
    async with database.engine.begin() as connection:
        for d in disclosures:
            n = next(_numbers)
            position = (
                await connection.execute(
                    sa.insert(tables.events)
                    .values(
                        source="test",
                        event_id=str(uuid.uuid4()),
                        type=d.event_type,
                        version=1,
                        time=d.event_time,
                        specversion="1.0",
                        datacontenttype="application/json",
                        identifiers={},
                        data={},
                        content_hash=f"h{n}",
                        person_id=f"p{n}",
                        stream_version=1,
                        publisher_client_id="sps",
                        publisher_agency="sps",
                        recorded_at=d.event_time,
                    )
                    .returning(tables.events.c.position)
                )
            ).scalar_one()
            disclosure_id = f"d_{n}"
            await connection.execute(
                sa.insert(tables.disclosures).values(
                    disclosure_id=disclosure_id,
                    event_position=position,
                    event_id=f"e{n}",
                    source="test",
                    event_type=d.event_type,
                    person_id=f"p{n}",
                    recipient_id=d.recipient_id,
                    fields=[],
                    rules=["r"],
                    purposes=["p"],
                    legal_bases=["l"],
                    policy_version="v",
                    profile_position=position,
                    trigger_position=position,
                    acknowledge_within_seconds=d.within,
                    decided_at=d.decided_at,
                )
            )
            if d.delivered_at is not None:
                await connection.execute(
                    sa.insert(tables.disclosure_receipts).values(
                        disclosure_id=disclosure_id,
                        first_delivered_at=d.delivered_at,
                        channel="feed",
                    )
                )
            if d.acknowledged_at is not None:
                await connection.execute(
                    sa.insert(tables.disclosure_acks).values(
                        disclosure_id=disclosure_id,
                        recipient_id=d.recipient_id,
                        client_id=d.recipient_id,
                        acknowledged_at=d.acknowledged_at,
                    )
                )


# -- the recount: the documented rules, applied to the known set in Python -------------------


def recount(
    disclosures: list[Made], period: Period, recipients: set[str]
) -> dict[Key, PeriodCounts]:
    found: dict[Key, PeriodCounts] = {}
    for d in disclosures:
        if d.recipient_id not in recipients or not period.holds(d.decided_at):
            continue
        due = None if d.within is None else d.decided_at + timedelta(seconds=d.within)
        acked = d.acknowledged_at
        one = PeriodCounts(
            disclosures=1,
            delivered=int(d.delivered_at is not None),
            acknowledged=int(acked is not None),
            on_time=int(acked is not None and due is not None and acked <= due),
            late=int(acked is not None and due is not None and acked > due),
            overdue=int(acked is None and due is not None and due < NOW),
        )
        key = (d.recipient_id, d.event_type)
        found[key] = found.get(key, PeriodCounts()) + one
    return found


def rehistogram(
    disclosures: list[Made], period: Period, recipients: set[str], latency: str
) -> dict[Key, tuple[int, tuple[int, ...], float]]:
    observed: dict[Key, list[float]] = {}
    for d in disclosures:
        if d.recipient_id not in recipients or not period.holds(d.decided_at):
            continue
        start, end = {
            "event_to_decision": (d.event_time, d.decided_at),
            "decision_to_delivery": (d.decided_at, d.delivered_at),
            "decision_to_acknowledgement": (d.decided_at, d.acknowledged_at),
            "delivery_to_acknowledgement": (d.delivered_at, d.acknowledged_at),
        }[latency]
        if start is not None and end is not None:
            seconds = (end - start).total_seconds()
            observed.setdefault((d.recipient_id, d.event_type), []).append(seconds)
    return {
        key: (
            len(values),
            tuple(sum(1 for v in values if v <= bound) for bound in LATENCY_BUCKETS),
            sum(max(v, 0.0) for v in values),
        )
        for key, values in observed.items()
    }


def as_found(histogram: Histogram) -> dict[Key, tuple[int, tuple[int, ...], float]]:
    assert histogram.buckets == LATENCY_BUCKETS
    return {
        key: (s.count, s.cumulative, pytest.approx(s.total, abs=0.01))
        for key, s in histogram.series.items()
    }


def assert_recounted(figures: PeriodFigures, disclosures: list[Made], recipients: set[str]) -> None:
    period = figures.period
    assert dict(figures.counts) == recount(disclosures, period, recipients)
    for latency in (
        "event_to_decision",
        "decision_to_delivery",
        "decision_to_acknowledgement",
        "delivery_to_acknowledgement",
    ):
        histogram: Histogram = getattr(figures, latency)
        assert as_found(histogram) == rehistogram(disclosures, period, recipients, latency), latency


def service(database: Database) -> LatencyPeriodService:
    return LatencyPeriodService(SqlLatencyPeriodStore(database.engine), clock=lambda: NOW)


async def test_a_period_s_figures_equal_a_recount_of_what_was_decided_in_it(
    database: Database,
) -> None:
    disclosures = known_set()
    await recorded(database, disclosures)
    periods = service(database)

    march = await periods.figures(OURS, MARCH)

    assert march.period == MARCH
    assert march.now == NOW
    assert_recounted(march, disclosures, set(OURS))
    # What the recount says, spelled out: the bounds, on time and late, overdue.
    sw, police = march.counts[("sw-a", RELEASE)], march.counts[("police-a", RELEASE)]
    assert (sw.disclosures, sw.delivered, sw.acknowledged, sw.on_time, sw.late) == (4, 3, 3, 1, 2)
    assert (police.disclosures, police.acknowledged, police.on_time, police.late) == (2, 1, 0, 0)
    assert police.overdue == 1
    assert march.counts[("police-a", ADMISSION)] == PeriodCounts(disclosures=1)
    # The event stamped three minutes after its decision counts as no delay.
    assert march.event_to_decision.series[("sw-a", RELEASE)].cumulative[0] == 1
    assert all(key[0] != THEIRS for key in march.counts)


async def test_another_region_s_recipients_are_never_counted(database: Database) -> None:
    disclosures = known_set()
    await recorded(database, disclosures)
    periods = service(database)

    ours = await periods.figures(OURS, MARCH)
    theirs = await periods.figures([THEIRS], MARCH)
    nobody = await periods.figures([], MARCH)

    assert {key[0] for key in ours.counts} == set(OURS)
    assert set(theirs.counts) == {(THEIRS, RELEASE)}
    assert_recounted(theirs, disclosures, {THEIRS})
    assert nobody.counts == {}
    assert nobody.decision_to_acknowledgement.series == {}
    # Asking for both is the sum of asking for each: nothing of one leaks into the other.
    both = await periods.figures([*OURS, THEIRS], MARCH)
    assert dict(both.counts) == {**ours.counts, **theirs.counts}


async def test_months_are_calendar_months_up_to_this_one_each_as_asked_alone(
    database: Database,
) -> None:
    disclosures = known_set()
    await recorded(database, disclosures)
    periods = service(database)

    months = await periods.months(OURS, count=3)

    assert [m.period for m in months] == [
        Period(datetime(2026, 2, 1, tzinfo=UK_TIME), MARCH.since),
        MARCH,
        APRIL,
    ]
    for month in months:
        assert_recounted(month, disclosures, set(OURS))
        alone = await periods.figures(OURS, month.period)
        assert alone.counts == month.counts
        assert alone.decision_to_delivery == month.decision_to_delivery
    february, _, april = months
    assert sum(c.disclosures for c in february.counts.values()) == 1
    assert sum(c.disclosures for c in april.counts.values()) == 2


async def test_a_year_of_months_crosses_the_new_year(database: Database) -> None:
    periods = LatencyPeriodService(
        SqlLatencyPeriodStore(database.engine),
        clock=lambda: datetime(2027, 1, 15, 12, tzinfo=UTC),
    )
    await recorded(database, [made("sw-a", datetime(2026, 12, 31, 23, 59, tzinfo=UTC))])

    months = await periods.months(OURS)

    assert len(months) == 12
    assert months[0].period.since == datetime(2026, 2, 1, tzinfo=UTC)
    assert months[-1].period == Period(
        datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    )
    assert months[-2].counts == {("sw-a", RELEASE): PeriodCounts(disclosures=1, overdue=1)}


async def test_a_month_is_the_month_in_scotland(database: Database) -> None:
    """Just after midnight on 1 July in Scotland (23:30 UTC on 30 June) is July's."""
    periods = LatencyPeriodService(
        SqlLatencyPeriodStore(database.engine),
        clock=lambda: datetime(2026, 7, 15, 12, tzinfo=UTC),
    )
    await recorded(
        database,
        [
            made("sw-a", datetime(2026, 6, 30, 22, 59, tzinfo=UTC)),
            made("sw-a", datetime(2026, 6, 30, 23, 30, tzinfo=UTC)),
        ],
    )

    june, july = await periods.months(OURS, count=2)

    assert july.period == Period(
        datetime(2026, 6, 30, 23, tzinfo=UTC), datetime(2026, 7, 31, 23, tzinfo=UTC)
    )
    assert june.counts[("sw-a", RELEASE)].disclosures == 1
    assert july.counts[("sw-a", RELEASE)].disclosures == 1
