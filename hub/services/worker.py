"""The one loop every background worker runs in: it calls the worker's step, waits when there is
nothing to do, and outlives transient faults.

A step is an awaitable that does one piece of work and says whether more may be waiting (a
truthy result: step again at once; falsy: wait for a wakeup or the idle interval). A step that
consumes a stream (a Kafka consumer group member) runs until `stop` is set, calling
`progressed` after each batch it handled (so that the loop knows a retry spell is over).

Transient means what the boundary that caught the fault said it is: `StoreUnavailable` (the
database cannot be reached or take more work now: `hub.infra.dberrors` decides) and
`BusUnavailable` (the broker cannot be reached). Waiting may cure those, so the loop retries them
forever, with exponential backoff and jitter, logging every failure. Anything else (a
`StoreError` the database gave for this statement, a checkpoint that does not extend the tree, a
bug) would fail the same way again, or must not be retried blindly: the loop stops, logs it with
its traceback, and `/readyz` says the worker failed. Every worker records how far it got in the
transaction of its effects (CONVENTIONS 4), so a retried step never repeats or skips work.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from hub.errors import BusUnavailable, HubError, InvalidInput, StoreUnavailable

__all__ = [
    "Backoff",
    "Lag",
    "Step",
    "WorkerLoop",
    "WorkerState",
    "WorkerStatus",
    "drain",
    "is_transient",
    "wait_for_any",
]

logger = logging.getLogger("hub.worker")

#: One piece of work; truthy when more may be waiting (go on at once).
Step = Callable[[], Awaitable[object]]
#: How much the worker has still to do (events behind the store, say), where it can tell.
Lag = Callable[[], Awaitable[int]]
#: Waits until one of the events is set or the seconds have passed (injectable for tests).
Wait = Callable[[Sequence[asyncio.Event], float], Awaitable[None]]

WorkerState = Literal["starting", "running", "retrying", "stopped", "failed"]


def is_transient(error: BaseException) -> bool:
    """Whether waiting and trying again may cure `error` (see the module's docstring)."""
    return isinstance(error, StoreUnavailable | BusUnavailable)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: the n-th consecutive failure waits a random time
    between half and all of `min(maximum, initial * multiplier**(n-1))` seconds.

    The jitter spreads the workers (and hub processes) that lost the database at the same moment
    so that they do not all come back in step; the lower half-bound keeps a failing step from
    ever being retried in a tight loop ("equal jitter")."""

    initial: float = 0.5
    maximum: float = 15.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise InvalidInput("backoff needs 0 < initial <= maximum")
        if self.multiplier < 1:
            raise InvalidInput("backoff multiplier must be at least 1")

    def ceiling(self, failures: int) -> float:
        """The longest wait after `failures` consecutive failures (1 or more)."""
        exponent = min(max(failures - 1, 0), 64)  # beyond this the maximum holds anyway
        return min(self.maximum, self.initial * self.multiplier**exponent)

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = self.ceiling(failures)
        return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What `/readyz` and `/metrics` say of one worker."""

    name: str
    state: WorkerState
    #: When the worker entered `state` (a retrying worker: its first failure in a row).
    since: datetime
    #: Consecutive failures of the current retry spell (0 unless retrying).
    failures: int
    #: Failures retried since the worker started.
    retries: int
    #: The class of the last failure (never its message: the probe is unauthenticated).
    last_error: str | None
    #: The last measured lag (None: the worker cannot tell, or it has not been measured).
    lag: int | None


def _now() -> datetime:
    return datetime.now(UTC)


async def wait_for_any(events: Sequence[asyncio.Event], seconds: float) -> None:
    """Sleep for up to `seconds`, waking as soon as any of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


class WorkerLoop:
    """Runs `step` until `stop` is set (`run`), retrying transient failures forever.

    Between steps that found nothing to do it waits `idle_seconds`, or until one of `wakeups`
    is set (they are cleared before each step, so that work arriving during a step is not
    missed). `lag`, when the worker can tell, is measured on demand by `measure_lag`.
    `on_stop` runs when the loop ends, however it ends (to finish work still in flight).
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        idle_seconds: float,
        wakeups: Sequence[asyncio.Event | None] = (),
        lag: Lag | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = _now,
        rng: random.Random | None = None,
        wait: Wait = wait_for_any,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if idle_seconds <= 0:
            raise InvalidInput(f"idle_seconds must be positive, not {idle_seconds}")
        self.name = name
        self._step = step
        self._idle = idle_seconds
        self._wakeups = tuple(w for w in wakeups if w is not None)
        self._lag = lag
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._wait = wait
        self._on_stop = on_stop
        self._state: WorkerState = "starting"
        self._since = clock()
        self._failures = 0
        self._retries = 0
        self._last_error: str | None = None
        self._last_lag: int | None = None
        #: The task `start` made (None until then).
        self.task: asyncio.Task[None] | None = None

    # -- running ---------------------------------------------------------------------------------

    def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Run the loop in a task named `hub-<name>` (kept as `task`)."""
        self.task = asyncio.create_task(self.run(stop), name=f"hub-{self.name}")
        return self.task

    async def run(self, stop: asyncio.Event) -> None:
        """Step until `stop` is set. A transient failure is logged and retried after a backoff;
        any other error is logged and raised (the worker is then `failed`)."""
        self._enter("running")
        try:
            while not stop.is_set():
                for wakeup in self._wakeups:
                    wakeup.clear()
                try:
                    more = await self._step()
                except Exception as error:
                    if not is_transient(error):
                        self._last_error = type(error).__name__
                        self._enter("failed")
                        logger.exception("worker %s stopped by %s", self.name, _describe(error))
                        raise
                    await self._retry_after(error, stop)
                    continue
                self.progressed()
                if not more and not stop.is_set():
                    await self._wait((stop, *self._wakeups), self._idle)
        finally:
            try:
                if self._on_stop is not None:
                    await self._on_stop()
            finally:
                if self._state != "failed":
                    self._enter("stopped")

    async def _retry_after(self, error: Exception, stop: asyncio.Event) -> None:
        self._failures += 1
        self._retries += 1
        self._last_error = type(error).__name__
        if self._failures == 1:
            self._enter("retrying")
        delay = self._backoff.delay(self._failures, self._rng)
        # The hub's messages name what failed, never whose data: safe to log.
        logger.warning(
            "worker %s failed (%d in a row), retrying in %.1f s: %s",
            self.name,
            self._failures,
            delay,
            _describe(error),
        )
        await self._wait((stop,), delay)

    def progressed(self) -> None:
        """The worker did some work: a retry spell is over. The loop calls it after every
        step that returns; a step that runs until `stop` (a consumer) calls it after each
        batch it handled."""
        if self._failures:
            logger.info("worker %s recovered after %d failures", self.name, self._failures)
            self._failures = 0
            self._enter("running")

    def _enter(self, state: WorkerState) -> None:
        self._state = state
        self._since = self._clock()

    # -- what it says of itself -----------------------------------------------------------------

    async def measure_lag(self) -> int | None:
        """Measure the lag now (None if the worker cannot tell); kept for `status`. A failure
        to measure leaves the last measurement: a probe must answer even when the database
        does not."""
        if self._lag is None:
            return None
        try:
            self._last_lag = await self._lag()
        except HubError as error:
            logger.warning("could not measure worker %s's lag: %s", self.name, _describe(error))
        return self._last_lag

    def status(self) -> WorkerStatus:
        state = self._state
        task = self.task
        if task is not None and task.done() and state not in ("stopped", "failed"):
            state = "stopped"  # cancelled before its loop could say so
        return WorkerStatus(
            name=self.name,
            state=state,
            since=self._since,
            failures=self._failures,
            retries=self._retries,
            last_error=self._last_error,
            lag=self._last_lag,
        )


async def drain(step: Callable[[], Awaitable[int]]) -> int:
    """Step until a step does nothing; the total done. For one-shot commands (`--until-idle`):
    no retries, so that a failure reaches the operator at once."""
    total = 0
    while done := await step():
        total += done
    return total


def _describe(error: BaseException) -> str:
    if isinstance(error, HubError):
        text = f"{type(error).__name__}: {error.message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text.splitlines()[0][:300] if text else type(error).__name__
