"""How late information arrives: for every disclosure, the time from the occurrence to the hub's
decision, from intake to decision, from decision to first delivery and to acknowledgement; and
the same as counts and histograms per recipient and event type, for `/metrics`.

Information latency is the measure of the problem the 2009 inspection found (a trial judge's
report three years after admission, 4.11; records days or weeks behind a recalled prisoner,
4.12) and what MAPPA boards need to monitor (4.39-4.40, recommendation 19). Everything here is
read from the database when asked (the figures from running totals kept with each change), so
every process of a scaled-out hub gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from hub.errors import NotFound

__all__ = [
    "LATENCY_BUCKETS",
    "DeliveryMetrics",
    "DisclosureTimes",
    "Histogram",
    "HistogramSeries",
    "LatencyService",
    "LatencyStore",
]

_MINUTE: Final = 60.0
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR

#: Histogram upper bounds in seconds, from a second to a year: a live feed answers in seconds, a
#: rule's acknowledgement time is hours or days, and the inspection found weeks and years.
LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    1.0,
    5.0,
    15.0,
    _MINUTE,
    5 * _MINUTE,
    15 * _MINUTE,
    _HOUR,
    4 * _HOUR,
    12 * _HOUR,
    _DAY,
    2 * _DAY,
    4 * _DAY,
    7 * _DAY,
    14 * _DAY,
    30 * _DAY,
    90 * _DAY,
    365 * _DAY,
)

#: (recipient id, event type)
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DisclosureTimes:
    """The moments in one disclosure's life, as far as it has got."""

    disclosure_id: str
    recipient_id: str
    event_type: str
    #: When the occurrence happened, as its sender said (the notification's `time`).
    event_time: datetime
    #: When the hub stored the notification.
    recorded_at: datetime
    decided_at: datetime
    acknowledge_within_seconds: int | None
    first_delivered_at: datetime | None
    delivery_channel: str | None
    acknowledged_at: datetime | None
    escalated_at: datetime | None

    @property
    def due_at(self) -> datetime | None:
        if self.acknowledge_within_seconds is None:
            return None
        return self.decided_at + timedelta(seconds=self.acknowledge_within_seconds)

    @property
    def event_to_decision(self) -> timedelta:
        return self.decided_at - self.event_time

    @property
    def intake_to_decision(self) -> timedelta:
        return self.decided_at - self.recorded_at

    @property
    def decision_to_delivery(self) -> timedelta | None:
        if self.first_delivered_at is None:
            return None
        return self.first_delivered_at - self.decided_at

    @property
    def decision_to_acknowledgement(self) -> timedelta | None:
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.decided_at

    def overdue(self, now: datetime) -> bool:
        """Not acknowledged, and its acknowledgement time has passed."""
        due = self.due_at
        return self.acknowledged_at is None and due is not None and due < now


@dataclass(frozen=True, slots=True)
class HistogramSeries:
    """One label set's observations: cumulative counts per bucket bound, their sum and count."""

    cumulative: tuple[int, ...]
    total: float
    count: int


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: tuple[float, ...]
    series: Mapping[Key, HistogramSeries] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryMetrics:
    """Counts and latencies of every disclosure ever made, per recipient and event type."""

    disclosures: Mapping[Key, int]
    #: Per (recipient, event type, channel): disclosures that reached their recipient.
    delivered: Mapping[tuple[str, str, str], int]
    acknowledged: Mapping[Key, int]
    escalated: Mapping[Key, int]
    #: Not acknowledged and past their acknowledgement time, as of `now`.
    overdue_unacknowledged: Mapping[Key, int]
    event_to_decision: Histogram
    intake_to_decision: Histogram
    decision_to_delivery: Histogram
    decision_to_acknowledgement: Histogram
    now: datetime


class LatencyStore(Protocol):
    """Reads the moments of disclosures from the hub's database."""

    async def times(self, disclosure_id: str) -> DisclosureTimes | None:
        """One disclosure's moments, if it exists."""
        ...

    async def metrics(self, now: datetime, buckets: Sequence[float]) -> DeliveryMetrics:
        """Every count and histogram (negative durations, from clocks that disagree, count as
        0), from running totals the database keeps with each change it counts."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class LatencyService:
    def __init__(self, store: LatencyStore, *, clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._clock = clock

    async def of_disclosure(self, recipient_id: str, disclosure_id: str) -> DisclosureTimes:
        """The moments of a disclosure made to `recipient_id` (any other is not found)."""
        times = await self._store.times(disclosure_id)
        if times is None or times.recipient_id != recipient_id:
            raise NotFound(f"no disclosure {disclosure_id!r} was made to {recipient_id}")
        return times

    async def metrics(self) -> DeliveryMetrics:
        return await self._store.metrics(self._clock(), LATENCY_BUCKETS)
