"""The router's batch budget: each batch takes as many events as recent batches handled in the
budget's time, between its least and most (a fake clock: no timing is measured)."""

from __future__ import annotations

import pytest

from hub.errors import InvalidInput
from hub.services.batch_budget import BatchBudget


class Ticks:
    """A clock that each batch finds `seconds` later than when it began."""

    def __init__(self) -> None:
        self.now = 0.0
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.now

    def took(self, seconds: float) -> None:
        self.now += seconds


def test_an_untimed_budget_starts_with_its_least() -> None:
    assert BatchBudget(0.03, most=100).limit() == 10
    assert BatchBudget(0.03, most=100, least=4).limit() == 4
    assert BatchBudget(0.03, most=3).limit() == 3  # never more than its most


def test_a_batch_takes_as_many_events_as_fit_in_the_budget() -> None:
    budget = BatchBudget(0.03, most=100)
    budget.spent(10, 0.010)  # 1 ms an event: 30 fit
    assert budget.limit() == 30


def test_slower_events_shrink_the_next_batch_and_quicker_ones_grow_it() -> None:
    budget = BatchBudget(0.03, most=100)
    budget.spent(30, 0.030)
    assert budget.limit() == 30
    budget.spent(30, 0.300)  # a batch ten times slower
    shrunk = budget.limit()
    assert shrunk < 30
    for _ in range(100):
        budget.spent(shrunk, shrunk * 0.001)
    assert budget.limit() == 30  # back once the events are quick again


def test_the_limit_stays_between_least_and_most() -> None:
    budget = BatchBudget(0.03, most=50, least=5)
    budget.spent(5, 5.0)  # a second an event
    assert budget.limit() == 5
    quick = BatchBudget(0.03, most=50, least=5)
    quick.spent(50, 0.0)  # too quick to measure
    assert quick.limit() == 50


def test_timing_a_batch_measures_it_with_the_clock() -> None:
    ticks = Ticks()
    budget = BatchBudget(0.03, most=100, clock=ticks)
    with budget.timing(20):
        ticks.took(0.010)  # half a millisecond an event: 60 fit
    assert budget.limit() == 60


def test_a_failed_batch_is_not_timed() -> None:
    ticks = Ticks()
    budget = BatchBudget(0.03, most=100, clock=ticks)
    with pytest.raises(RuntimeError), budget.timing(20):
        ticks.took(10.0)
        raise RuntimeError("the batch failed")
    assert budget.per_event is None
    assert budget.limit() == 10


def test_an_empty_batch_teaches_nothing() -> None:
    budget = BatchBudget(0.03, most=100)
    budget.spent(0, 1.0)
    assert budget.per_event is None


@pytest.mark.parametrize(
    ("seconds", "most", "problem"),
    [(0.0, 100, "time budget must be positive"), (0.03, 0, "most events must be at least 1")],
)
def test_a_budget_that_could_never_route_is_refused(
    seconds: float, most: int, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        BatchBudget(seconds, most=most)
