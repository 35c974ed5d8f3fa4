"""The outbox relay: follows the event store in position order and publishes every event to the
events topic, keyed by person, so that workers in other processes (router workers in a consumer
group) can consume them. The event store is the outbox: an append writes nothing else.

It reads with `EventStore.read_all` (which never skips an event that commits late) after its
checkpoint in `consumer_checkpoints` (consumer "relay"), publishes the batch, and moves the
checkpoint only once the bus has acknowledged every event of it. A crash between the two
publishes that batch again on restart, and nothing more: the topic may hold an event twice
(the unacknowledged tail, at most one batch), never misses one. Consumers de-duplicate by
event position (`hub.services.bus`).

It reads the events **sealed** (`read_all(sealed=True)`): their sensitive fields go to the topic
as the `events` table holds them, `{"$pph.enc": "v1:<key id>:..."}` under the person's data key,
never in plaintext. Consumers open them against the hub's key store (`hub.services.kafka_router`),
so once a person's keys are destroyed (crypto-shredding) their copies on the topic cannot be read
either.

Several relays on one store are safe but pointless: the checkpoint moves only from where a relay
read it, so they take turns and at worst publish a batch twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from hub.errors import InvalidInput
from hub.services.bus import EventPublisher
from hub.services.ports import EventStore
from hub.services.worker import Backoff, WorkerLoop, drain

__all__ = ["CONSUMER", "Relay", "RelayCheckpoints"]

logger = logging.getLogger("hub.relay")

#: The relay's name in `consumer_checkpoints`.
CONSUMER = "relay"


class RelayCheckpoints(Protocol):
    """Where the relay keeps the position of the last event the bus acknowledged."""

    async def checkpoint(self, consumer: str) -> int:
        """The position of the last event published for `consumer` (0 before the first)."""
        ...

    async def advance(self, consumer: str, after: int, through: int) -> bool:
        """Move `consumer`'s checkpoint from `after` to `through`; False (and nothing moved)
        when it is no longer at `after`."""
        ...


class Relay:
    """Publishes every stored event once acknowledged, in store order, from its checkpoint.

    `run_once` publishes the next batch; `run` keeps going until `stop` is set, waking on
    `wakeup` (set by whoever appends) or every `poll_interval` seconds.
    """

    def __init__(
        self,
        events: EventStore,
        checkpoints: RelayCheckpoints,
        publisher: EventPublisher,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retry_interval: float = 1.0,
        consumer: str = CONSUMER,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        if poll_interval <= 0 or retry_interval <= 0:
            raise InvalidInput("poll_interval and retry_interval must be positive")
        self._events = events
        self._checkpoints = checkpoints
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retry_interval = retry_interval
        self._consumer = consumer
        #: How many batches this relay published that another relay had already recorded.
        self.races_lost = 0

    async def run_once(self) -> int:
        """Publish the events after the checkpoint (at most one batch) and move the checkpoint
        past them; how many were published (0: nothing new)."""
        after = await self._checkpoints.checkpoint(self._consumer)
        stored = await self._events.read_all(after=after, limit=self._batch_size, sealed=True)
        if not stored:
            return 0
        await self._publisher.publish(stored)
        through = stored[-1].position
        if not await self._checkpoints.advance(self._consumer, after, through):
            # Another relay published from the same checkpoint and recorded it first: the
            # events are on the topic twice, which consumers expect.
            self.races_lost += 1
            logger.debug("another relay recorded the events after %d first", after)
        else:
            logger.debug("published events %d-%d", stored[0].position, through)
        return len(stored)

    async def run_until_idle(self) -> int:
        """Publish until nothing is left; how many events this relay published."""
        return await drain(self.run_once)

    def loop(self, wakeup: asyncio.Event | None = None) -> WorkerLoop:
        """This relay in the worker loop, woken by `wakeup` (set by whoever appends) or every
        `poll_interval` seconds. An unavailable database or broker is waited out (the batch is
        published again once it is back); any other error stops the relay, so that no event is
        ever skipped."""
        return WorkerLoop(
            "relay",
            self.run_once,
            idle_seconds=self._poll_interval,
            wakeups=(wakeup,),
            lag=self.lag,
            backoff=Backoff(initial=self._retry_interval, maximum=max(15.0, self._retry_interval)),
        )

    async def run(self, stop: asyncio.Event, wakeup: asyncio.Event | None = None) -> None:
        """Publish until `stop` is set (`loop`)."""
        await self.loop(wakeup).run(stop)

    async def lag(self) -> int:
        """How many stored events are not yet on the topic."""
        last = await self._events.last_position()
        return max(last - await self._checkpoints.checkpoint(self._consumer), 0)
