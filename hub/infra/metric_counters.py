"""Running totals for `/metrics`, and the disclosures awaiting acknowledgement (migration 0021):
what a scrape and an overdue pass read instead of every disclosure.

Each store that records a change `/metrics` counts makes one call here, inside its own write
transaction, so a count is committed with its change or not at all: `count_decided` (the
router's decisions, an approved proposal), `count_received` (the first delivery, by webhook or
feed), `count_acknowledged` (the first acknowledgement) and `count_escalated` (the overdue
monitor's record). The callers pass only what their insert-if-absent actually inserted, so a
replay or a duplicate never counts twice. Each call adds its figures with one prebuilt upsert
executed for its rows in key order: every writer locks the counter rows it touches in that one
order, so two concurrent transactions never wait for each other in a cycle.

`recount` rebuilds both tables from the rows: `hub db recount-metrics`, after a rolling upgrade
during which code older than 0021 wrote changes it did not count (docs/monitoring.md).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.disclosures import Disclosure
from hub.infra.sqltools import at, utc
from hub.infra.tables import (
    awaiting_acknowledgements,
    disclosure_acks,
    disclosure_receipts,
    disclosures,
    events,
    metric_counters,
    overdue_escalations,
)
from hub.infra.unnest_insert import unnest_insert
from hub.services.latency import LATENCY_BUCKETS, Histogram, HistogramSeries, Key
from hub.services.overdue import OVERDUE_EVENT_TYPE

__all__ = [
    "HISTOGRAMS",
    "CounterTotals",
    "Tally",
    "add_tally",
    "awaiting_not_yet_due",
    "count_acknowledged",
    "count_decided",
    "count_delivered",
    "count_escalated",
    "count_received",
    "overdue_gauge",
    "read_totals",
    "recount",
]

DISCLOSED: Final = "disclosures"
#: `delivered:<channel>`: the channel that got there first (`disclosure_receipts.channel`).
DELIVERED: Final = "delivered:"
ACKNOWLEDGED: Final = "acknowledged"
ESCALATED: Final = "escalated"
#: Disclosures with an acknowledgement time not yet acknowledged: +1 when decided, -1 when
#: acknowledged. The overdue gauge is this less those not yet due (a range of the due-time
#: index bounded by the longest acknowledgement time, not by the history).
AWAITING: Final = "awaiting"
EVENT_TO_DECISION: Final = "event_to_decision"
INTAKE_TO_DECISION: Final = "intake_to_decision"
DECISION_TO_DELIVERY: Final = "decision_to_delivery"
DECISION_TO_ACKNOWLEDGEMENT: Final = "decision_to_acknowledgement"
HISTOGRAMS: Final = (
    EVENT_TO_DECISION,
    INTAKE_TO_DECISION,
    DECISION_TO_DELIVERY,
    DECISION_TO_ACKNOWLEDGEMENT,
)
#: The `le` of a plain count's row.
NO_BUCKET: Final = ""
INFINITY: Final = "+Inf"

#: (recipient id, event type, series, le)
CounterKey = tuple[str, str, str, str]


def bound_label(bound: float) -> str:
    """A bucket's stored upper bound: whole seconds as an integer ('60'), else as Python
    writes the float."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def bucket_of(seconds: float, bounds: Sequence[float] = LATENCY_BUCKETS) -> str:
    """The bucket an observation falls in: the first bound it does not exceed, else +Inf."""
    for bound in bounds:
        if seconds <= bound:
            return bound_label(bound)
    return INFINITY


class Tally:
    """Counts and observations to add, per counter row (pure: no I/O)."""

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._bounds = tuple(sorted(bounds))
        self._rows: dict[CounterKey, tuple[int, float]] = {}

    def count(self, recipient_id: str, event_type: str, series: str, n: int = 1) -> None:
        self._add((recipient_id, event_type, series, NO_BUCKET), 0.0, n)

    def observe(self, recipient_id: str, event_type: str, series: str, elapsed: timedelta) -> None:
        # Clocks that disagree (an event stamped in the future) count as no delay.
        seconds = max(elapsed.total_seconds(), 0.0)
        self._add((recipient_id, event_type, series, bucket_of(seconds, self._bounds)), seconds)

    def _add(self, key: CounterKey, seconds: float, n: int = 1) -> None:
        count, total = self._rows.get(key, (0, 0.0))
        self._rows[key] = (count + n, total + seconds)

    def rows(self) -> list[dict[str, Any]]:
        """The rows to add, in key order (the one order every writer locks them in)."""
        return [
            {
                "recipient_id": key[0],
                "event_type": key[1],
                "series": key[2],
                "le": key[3],
                "count": count,
                "seconds": seconds,
            }
            for key, (count, seconds) in sorted(self._rows.items())
        ]


def _upsert(insert: Any) -> Any:
    """The backend's upsert of one counter row: its count and seconds added to the row's."""
    c = metric_counters.c
    return insert.on_conflict_do_update(
        index_elements=[c.recipient_id, c.event_type, c.series, c.le],
        set_={
            "count": c.count + insert.excluded.count,
            "seconds": c.seconds + insert.excluded.seconds,
        },
    )


#: Built once per backend: a multi-row VALUES statement was compiled anew for every call, its
#: hundreds of bind parameters taking more of the router's time than its decisions' rows.
_UPSERTS: Final = {
    "postgresql": _upsert(postgresql.insert(metric_counters)),
    "sqlite": _upsert(sqlite.insert(metric_counters)),
}


async def add_tally(connection: AsyncConnection, tally: Tally) -> None:
    """Add `tally`'s rows with one prebuilt upsert executed for each row, in key order (the
    drivers' executemany: asyncpg pipelines it, SQLite runs it in one call)."""
    rows = tally.rows()
    if rows:
        await connection.execute(_UPSERTS[connection.dialect.name], rows)


def _due_at(decided_at: datetime, within_seconds: int) -> datetime:
    return utc(decided_at) + timedelta(seconds=within_seconds)


# -- the hooks: each called once, in the caller's write transaction ---------------------------


async def count_decided(connection: AsyncConnection, decided: Sequence[Disclosure]) -> None:
    """Count disclosures just recorded, their event-to-decision and intake-to-decision times,
    and list those with an acknowledgement time as awaiting it."""
    if not decided:
        return
    positions = sorted({d.event_position for d in decided})
    found = await connection.execute(
        sa.select(events.c.position, events.c.time, events.c.recorded_at).where(
            events.c.position.in_(positions)
        )
    )
    moments = {int(p): (utc(time), utc(recorded)) for p, time, recorded in found}
    tally = Tally()
    awaiting = []
    for d in decided:
        event_time, recorded_at = moments[d.event_position]
        tally.count(d.recipient_id, d.event_type, DISCLOSED)
        tally.observe(d.recipient_id, d.event_type, EVENT_TO_DECISION, d.decided_at - event_time)
        tally.observe(d.recipient_id, d.event_type, INTAKE_TO_DECISION, d.decided_at - recorded_at)
        if d.acknowledge_within is not None:
            tally.count(d.recipient_id, d.event_type, AWAITING)
            within = round(d.acknowledge_within.total_seconds())  # as `disclosures` keeps it
            awaiting.append(
                {
                    "disclosure_id": d.disclosure_id,
                    "recipient_id": d.recipient_id,
                    "event_type": d.event_type,
                    "due_at": _due_at(d.decided_at, within),
                    "escalate": d.event_type != OVERDUE_EVENT_TYPE,
                }
            )
    await add_tally(connection, tally)
    if awaiting and connection.dialect.name == "postgresql":
        await unnest_insert(awaiting_acknowledgements, tuple(awaiting[0])).execute(
            connection, awaiting
        )
    elif awaiting:
        await connection.execute(awaiting_acknowledgements.insert(), awaiting)


async def count_received(
    connection: AsyncConnection, disclosure_ids: Collection[str], channel: str, at: datetime
) -> None:
    """Count disclosures that just reached their recipient for the first time (only the ids
    the receipt insert actually inserted), and their decision-to-delivery times."""
    if not disclosure_ids:
        return
    await count_delivered(connection, await _disclosed(connection, disclosure_ids), channel, at)


async def count_delivered(
    connection: AsyncConnection,
    received: Iterable[tuple[str, str, datetime]],
    channel: str,
    at: datetime,
) -> None:
    """`count_received` for a caller that holds each received disclosure's recipient, event
    type and decision time already (the webhook outbox has them with its jobs)."""
    tally = Tally()
    for recipient_id, event_type, decided_at in received:
        tally.count(recipient_id, event_type, DELIVERED + channel)
        tally.observe(recipient_id, event_type, DECISION_TO_DELIVERY, at - utc(decided_at))
    await add_tally(connection, tally)


async def count_acknowledged(connection: AsyncConnection, disclosure_id: str, at: datetime) -> None:
    """Count a first acknowledgement and its decision-to-acknowledgement time; the disclosure
    awaits it no longer."""
    tally = Tally()
    for recipient_id, event_type, decided_at in await _disclosed(connection, [disclosure_id]):
        tally.count(recipient_id, event_type, ACKNOWLEDGED)
        tally.observe(recipient_id, event_type, DECISION_TO_ACKNOWLEDGEMENT, at - utc(decided_at))
    w = awaiting_acknowledgements
    awaited = await connection.execute(
        w.delete()
        .where(w.c.disclosure_id == disclosure_id)
        .returning(w.c.recipient_id, w.c.event_type)
    )
    for recipient_id, event_type in awaited:
        tally.count(recipient_id, event_type, AWAITING, -1)
    await add_tally(connection, tally)


async def count_escalated(connection: AsyncConnection, disclosure_id: str) -> None:
    """Count an escalation just recorded; the monitor looks at the disclosure no more (it is
    still overdue, for the gauge, until acknowledged)."""
    tally = Tally()
    for recipient_id, event_type, _ in await _disclosed(connection, [disclosure_id]):
        tally.count(recipient_id, event_type, ESCALATED)
    await connection.execute(
        awaiting_acknowledgements.update()
        .where(awaiting_acknowledgements.c.disclosure_id == disclosure_id)
        .values(escalate=False)
    )
    await add_tally(connection, tally)


async def _disclosed(
    connection: AsyncConnection, disclosure_ids: Collection[str]
) -> list[tuple[str, str, datetime]]:
    d = disclosures.c
    found = await connection.execute(
        sa.select(d.recipient_id, d.event_type, d.decided_at).where(
            d.disclosure_id.in_(sorted(disclosure_ids))
        )
    )
    return [(r, e, t) for r, e, t in found]


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterTotals:
    """The counters as `/metrics` gives them."""

    disclosures: dict[Key, int]
    #: Not acknowledged, with an acknowledgement time (due or not).
    awaiting: dict[Key, int]
    delivered: dict[tuple[str, str, str], int]
    acknowledged: dict[Key, int]
    escalated: dict[Key, int]
    histograms: dict[str, Histogram]


def totals(rows: Iterable[Sequence[Any]], bounds: Sequence[float]) -> CounterTotals:
    """Counter rows (recipient, event type, series, le, count, seconds) as counts and cumulative
    histograms over `bounds` (pure: no I/O). A stored bucket counts towards every bound at or
    above its own, and +Inf towards none but the total."""
    ordered = tuple(sorted(bounds))
    counts: dict[str, dict[Key, int]] = {
        DISCLOSED: {},
        ACKNOWLEDGED: {},
        ESCALATED: {},
        AWAITING: {},
    }
    delivered: dict[tuple[str, str, str], int] = {}
    buckets: dict[str, dict[Key, _Buckets]] = {h: {} for h in HISTOGRAMS}
    slots = _Slots(ordered)
    for recipient_id, event_type, series, le, count, seconds in rows:
        key = (recipient_id, event_type)
        if series in counts:
            counted = counts[series]
            counted[key] = counted.get(key, 0) + count
        elif series.startswith(DELIVERED):
            channel_key = (recipient_id, event_type, series.removeprefix(DELIVERED))
            delivered[channel_key] = delivered.get(channel_key, 0) + count
        elif series in buckets:
            by_key = buckets[series]
            observed = by_key.get(key)
            if observed is None:
                observed = by_key[key] = _Buckets(len(ordered))
            observed.add(slots.of(le), count, seconds)
    histograms = {
        name: Histogram(
            buckets=ordered,
            series={key: observed.series() for key, observed in by_key.items()},
        )
        for name, by_key in buckets.items()
    }
    return CounterTotals(
        disclosures=counts[DISCLOSED],
        awaiting={key: n for key, n in counts[AWAITING].items() if n},
        delivered=delivered,
        acknowledged=counts[ACKNOWLEDGED],
        escalated=counts[ESCALATED],
        histograms=histograms,
    )


class _Slots:
    """Which of the sorted bounds a stored bucket first counts towards: its index among them
    (the bounds' count for +Inf, and for a bound above them all), each label worked out once."""

    def __init__(self, ordered: tuple[float, ...]) -> None:
        self._ordered = ordered
        self._known: dict[str, int] = {}

    def of(self, le: str) -> int:
        slot = self._known.get(le)
        if slot is None:
            upper = float("inf") if le == INFINITY else float(le)
            slot = self._known[le] = bisect.bisect_left(self._ordered, upper)
        return slot


class _Buckets:
    """One key's stored buckets, added up by slot: the cumulative series is a running sum over
    the slots (summing every stored bucket for each bound made a scrape quadratic in them)."""

    __slots__ = ("_by_slot", "_count", "_seconds")

    def __init__(self, bounds: int) -> None:
        self._by_slot = [0] * (bounds + 1)
        self._count = 0
        self._seconds = 0.0

    def add(self, slot: int, count: int, seconds: float) -> None:
        self._by_slot[slot] += count
        self._count += count
        self._seconds += seconds

    def series(self) -> HistogramSeries:
        return HistogramSeries(
            cumulative=tuple(itertools.accumulate(self._by_slot[:-1])),
            total=self._seconds,
            count=self._count,
        )


async def read_totals(connection: AsyncConnection, bounds: Sequence[float]) -> CounterTotals:
    c = metric_counters.c
    rows = await connection.execute(
        sa.select(c.recipient_id, c.event_type, c.series, c.le, c.count, c.seconds)
    )
    return totals(rows, bounds)


def overdue_gauge(awaiting: dict[Key, int], not_yet_due: dict[Key, int]) -> dict[Key, int]:
    """Disclosures past their acknowledgement time and not acknowledged, per recipient and event
    type: those awaiting acknowledgement less those not yet due (pure: no I/O)."""
    overdue = {key: n - not_yet_due.get(key, 0) for key, n in awaiting.items()}
    return {key: n for key, n in overdue.items() if n > 0}


def awaiting_not_yet_due(now: datetime) -> sa.Select[Any]:
    """Per recipient and event type, the disclosures awaiting acknowledgement whose time has
    not passed: a range of the due-time index from `now` on, which holds only disclosures
    decided within the longest acknowledgement time, however long the history."""
    w = awaiting_acknowledgements
    return (
        sa.select(w.c.recipient_id, w.c.event_type, sa.func.count())
        .where(w.c.due_at >= at(now))
        .group_by(w.c.recipient_id, w.c.event_type)
    )


# -- rebuilding -------------------------------------------------------------------------------


async def recount(connection: AsyncConnection) -> int:
    """Rebuild both tables from the rows, in the caller's write transaction; how many
    disclosures were read. On PostgreSQL the tables are locked first, so a writer waits and
    then adds to the rebuilt totals (it is counted once: either in the rebuild's reading, when
    it committed before, or by its own upsert after)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text(
                "LOCK TABLE metric_counters, awaiting_acknowledgements IN SHARE ROW EXCLUSIVE MODE"
            )
        )
    await connection.execute(metric_counters.delete())
    await connection.execute(awaiting_acknowledgements.delete())
    d, e, r, a, x = disclosures, events, disclosure_receipts, disclosure_acks, overdue_escalations
    query = sa.select(
        d.c.disclosure_id,
        d.c.recipient_id,
        d.c.event_type,
        d.c.decided_at,
        d.c.acknowledge_within_seconds,
        e.c.time,
        e.c.recorded_at,
        r.c.channel,
        r.c.first_delivered_at,
        a.c.acknowledged_at,
        x.c.disclosure_id.label("escalated"),
    ).select_from(
        d.join(e, e.c.position == d.c.event_position)
        .outerjoin(r, r.c.disclosure_id == d.c.disclosure_id)
        .outerjoin(a, a.c.disclosure_id == d.c.disclosure_id)
        .outerjoin(x, x.c.disclosure_id == d.c.disclosure_id)
    )
    tally = Tally()
    awaiting: list[dict[str, Any]] = []
    read = 0
    result = await connection.stream(query.execution_options(yield_per=5000))
    async for row in result:
        read += 1
        recipient, kind, decided_at = row.recipient_id, row.event_type, utc(row.decided_at)
        tally.count(recipient, kind, DISCLOSED)
        tally.observe(recipient, kind, EVENT_TO_DECISION, decided_at - utc(row.time))
        tally.observe(recipient, kind, INTAKE_TO_DECISION, decided_at - utc(row.recorded_at))
        if row.channel is not None:
            tally.count(recipient, kind, DELIVERED + row.channel)
            tally.observe(
                recipient, kind, DECISION_TO_DELIVERY, utc(row.first_delivered_at) - decided_at
            )
        if row.acknowledged_at is not None:
            tally.count(recipient, kind, ACKNOWLEDGED)
            tally.observe(
                recipient, kind, DECISION_TO_ACKNOWLEDGEMENT, utc(row.acknowledged_at) - decided_at
            )
        elif row.acknowledge_within_seconds is not None:
            tally.count(recipient, kind, AWAITING)
            awaiting.append(
                {
                    "disclosure_id": row.disclosure_id,
                    "recipient_id": recipient,
                    "event_type": kind,
                    "due_at": _due_at(decided_at, int(row.acknowledge_within_seconds)),
                    "escalate": row.escalated is None and kind != OVERDUE_EVENT_TYPE,
                }
            )
        if row.escalated is not None:
            tally.count(recipient, kind, ESCALATED)
    await add_tally(connection, tally)
    for start in range(0, len(awaiting), 5000):
        await connection.execute(awaiting_acknowledgements.insert(), awaiting[start : start + 5000])
    return read
