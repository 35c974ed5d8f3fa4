"""How many events a worker's next batch may take, so that handling one batch takes about a
given time however fast or slow each event is on this machine now.

The router in `hub serve` shares its event loop with intake: while it decides a batch (policy
evaluation is CPU work, with no await between events) no push is answered. A batch of a fixed
size therefore holds intake for as long as that size takes, which under load (when the batch is
always full) is longest exactly when pushes arrive fastest. Sizing each batch from the time the
last ones took per event keeps that hold near `seconds`, while a backlog is still routed in as
many events per transaction as fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from hub.errors import InvalidInput

__all__ = ["BatchBudget"]

#: How far each batch's time per event moves the estimate (an exponential moving average).
WEIGHT: Final = 0.3


class BatchBudget:
    """The next batch's size: as many events as the recent time per event fits in `seconds`,
    never fewer than `least` nor more than `most`; `least` until a batch has been timed."""

    def __init__(
        self,
        seconds: float,
        *,
        most: int,
        least: int = 10,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if seconds <= 0:
            raise InvalidInput(f"a batch's time budget must be positive, not {seconds}")
        if most < 1:
            raise InvalidInput(f"a batch's most events must be at least 1, not {most}")
        self.seconds = seconds
        self.most = most
        self.least = max(1, min(least, most))
        self._clock = clock
        #: The recent time per event (None until a batch has been timed).
        self.per_event: float | None = None

    def limit(self) -> int:
        """How many events the next batch may take."""
        if self.per_event is None:
            return self.least
        # (A hair over, so that 0.03 / 0.01 * 3 is 9 events, not 8.999… of them.)
        fits = int(self.seconds / max(self.per_event, 1e-6) * (1 + 1e-9))
        return max(self.least, min(self.most, fits))

    def spent(self, events: int, seconds: float) -> None:
        """A batch of `events` took `seconds`."""
        if events < 1:
            return
        per_event = max(seconds, 0.0) / events
        if self.per_event is None:
            self.per_event = per_event
        else:
            self.per_event += WEIGHT * (per_event - self.per_event)

    @contextmanager
    def timing(self, events: int) -> Iterator[None]:
        """Time the handling of a batch of `events` (`spent`), unless it fails."""
        started = self._clock()
        yield
        self.spent(events, self._clock() - started)
