"""`RouterLag`: events behind and seconds waited, from the checkpoint and the store's head."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.services.routing_lag import RouterLag

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_level_with_the_store_is_no_lag() -> None:
    lag = RouterLag(checkpoint=7, head=7, oldest_waiting_since=None)
    assert (lag.events, lag.seconds(NOW)) == (0, 0.0)


def test_behind_counts_positions_and_the_oldest_wait() -> None:
    lag = RouterLag(checkpoint=3, head=10, oldest_waiting_since=NOW - timedelta(seconds=90))
    assert (lag.events, lag.seconds(NOW)) == (7, 90.0)


def test_a_clock_behind_the_database_never_gives_negative_seconds() -> None:
    lag = RouterLag(checkpoint=0, head=1, oldest_waiting_since=NOW + timedelta(seconds=1))
    assert lag.seconds(NOW) == 0.0
