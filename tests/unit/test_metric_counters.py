"""The pure part of `/metrics`' running totals: which bucket an observation falls in, the rows a
change adds (in the one key order every writer locks them in), and stored rows read back as
cumulative Prometheus histograms."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from hub.infra.metric_counters import (
    DECISION_TO_DELIVERY,
    DISCLOSED,
    INFINITY,
    Tally,
    bound_label,
    bucket_of,
    overdue_gauge,
    totals,
)
from hub.services.latency import LATENCY_BUCKETS


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0.0, "1"),
        (1.0, "1"),  # a bound is inclusive (`le`)
        (1.000001, "5"),
        (59.9, "60"),
        (60.0, "60"),
        (365 * 86400.0, "31536000"),
        (365 * 86400.0 + 1, "+Inf"),
    ],
)
def test_an_observation_falls_in_the_first_bound_it_does_not_exceed(
    seconds: float, bucket: str
) -> None:
    assert bucket_of(seconds) == bucket


def test_bounds_are_stored_as_whole_seconds_unless_fractional() -> None:
    assert [bound_label(b) for b in (1.0, 60.0, 0.5)] == ["1", "60", "0.5"]


def test_a_tally_adds_up_per_row_and_gives_its_rows_in_key_order() -> None:
    tally = Tally()
    tally.observe("sw", "release", DECISION_TO_DELIVERY, timedelta(seconds=3))
    tally.count("police", "release", DISCLOSED)
    tally.observe("sw", "release", DECISION_TO_DELIVERY, timedelta(seconds=4))
    # Clocks that disagree count as no delay, in the first bucket.
    tally.observe("sw", "release", DECISION_TO_DELIVERY, timedelta(seconds=-7))
    tally.count("police", "release", DISCLOSED)

    rows = tally.rows()

    keys = [(r["recipient_id"], r["event_type"], r["series"], r["le"]) for r in rows]
    assert keys == sorted(keys)
    assert rows == [
        {
            "recipient_id": "police",
            "event_type": "release",
            "series": DISCLOSED,
            "le": "",
            "count": 2,
            "seconds": 0.0,
        },
        {
            "recipient_id": "sw",
            "event_type": "release",
            "series": DECISION_TO_DELIVERY,
            "le": "1",
            "count": 1,
            "seconds": 0.0,
        },
        {
            "recipient_id": "sw",
            "event_type": "release",
            "series": DECISION_TO_DELIVERY,
            "le": "5",
            "count": 2,
            "seconds": 7.0,
        },
    ]


def test_stored_rows_read_back_as_cumulative_histograms_equal_to_direct_counting() -> None:
    rng = random.Random(19)
    observed = [rng.choice([-3.0, 0.2, 30.0, 7200.0, 9e7, rng.uniform(0, 4e7)]) for _ in range(500)]
    tally = Tally()
    for seconds in observed:
        tally.observe("sw", "release", DECISION_TO_DELIVERY, timedelta(seconds=seconds))
    tally.count("sw", "release", "delivered:webhook")
    tally.count("sw", "release", "delivered:webhook")
    tally.count("sw", "release", "delivered:poll")
    stored = [
        (r["recipient_id"], r["event_type"], r["series"], r["le"], r["count"], r["seconds"])
        for r in tally.rows()
    ]

    read = totals(stored, LATENCY_BUCKETS)

    series = read.histograms[DECISION_TO_DELIVERY].series[("sw", "release")]
    assert series.count == len(observed)
    assert series.cumulative == tuple(
        sum(1 for s in observed if s <= bound) for bound in LATENCY_BUCKETS
    )
    assert series.total == pytest.approx(sum(max(s, 0.0) for s in observed))
    assert read.delivered == {("sw", "release", "webhook"): 2, ("sw", "release", "poll"): 1}
    assert read.disclosures == {}
    assert read.histograms["event_to_decision"].series == {}


def test_stored_buckets_count_towards_every_reading_bound_at_or_above_their_own() -> None:
    """Buckets stored under other bounds (a deployment that changed them) read as a cumulative
    series over the reading's bounds: each at the first bound not below it, +Inf and buckets
    above every bound only in the total."""
    stored = [
        ("sw", "release", DECISION_TO_DELIVERY, "0.5", 1, 0.25),
        ("sw", "release", DECISION_TO_DELIVERY, "2", 2, 3.0),
        ("sw", "release", DECISION_TO_DELIVERY, "5", 4, 16.0),
        ("sw", "release", DECISION_TO_DELIVERY, "120", 8, 800.0),
        ("sw", "release", DECISION_TO_DELIVERY, INFINITY, 16, 1e6),
        ("sw", "release", DECISION_TO_DELIVERY, "2", 32, 40.0),
    ]

    series = totals(stored, (10.0, 1.0, 5.0)).histograms[DECISION_TO_DELIVERY].series

    assert series[("sw", "release")].cumulative == (1, 1 + 2 + 4 + 32, 1 + 2 + 4 + 32)
    assert series[("sw", "release")].count == 63
    assert series[("sw", "release")].total == pytest.approx(0.25 + 3 + 16 + 800 + 1e6 + 40)


def test_the_overdue_gauge_is_those_awaiting_less_those_not_yet_due() -> None:
    awaiting = {("sw", "release"): 5, ("police", "release"): 2, ("mappa", "overdue"): 1}
    not_yet_due = {("sw", "release"): 3, ("police", "release"): 2}

    assert overdue_gauge(awaiting, not_yet_due) == {("sw", "release"): 2, ("mappa", "overdue"): 1}
