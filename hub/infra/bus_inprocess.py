"""The event bus inside one process (the embedded default): `hub.services.bus` without a broker.

A partitioned log in memory, with consumer groups that behave as Kafka's do where the ports say
so: events are placed on a partition by their person id, a group's members share the partitions
(each member's batches are its partitions' events in order), offsets move only after the handler
returned, and a member that leaves, however abruptly, hands its partitions to the others from the
last committed offset. Nothing survives the process: it is a bus, not a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Sequence

from hub.domain.notifications import StoredEvent
from hub.errors import InvalidInput
from hub.services.bus import EventHandler

__all__ = ["InProcessBus", "InProcessConsumer", "InProcessPublisher"]


class _Member:
    def __init__(self) -> None:
        self.partitions: tuple[int, ...] = ()
        #: Held while the member reads, handles and commits a batch; a rebalance takes it, so
        #: it never moves a partition away in the middle of a batch.
        self.busy = asyncio.Lock()


class _Group:
    def __init__(self, partitions: int) -> None:
        #: The next offset to deliver, per partition.
        self.committed = [0] * partitions
        self.members: list[_Member] = []


class InProcessBus:
    """A partitioned, in-memory events log shared by the publishers and consumers made from it."""

    def __init__(self, partitions: int = 1) -> None:
        if partitions < 1:
            raise InvalidInput(f"partitions must be at least 1, not {partitions}")
        self._log: list[list[StoredEvent]] = [[] for _ in range(partitions)]
        self._groups: dict[str, _Group] = {}
        #: One rebalance at a time.
        self._membership = asyncio.Lock()
        #: Bumped (and waiters woken) whenever there is something new to read.
        self._version = 0
        self._changed = asyncio.Condition()

    @property
    def partitions(self) -> int:
        return len(self._log)

    def partition_of(self, person_id: str) -> int:
        """The partition a person's events go to (stable across runs)."""
        return zlib.crc32(person_id.encode("utf-8")) % len(self._log)

    def publisher(self) -> InProcessPublisher:
        return InProcessPublisher(self)

    def consumer(
        self, group: str, *, batch_size: int = 100, poll_interval: float = 0.5
    ) -> InProcessConsumer:
        return InProcessConsumer(self, group, batch_size=batch_size, poll_interval=poll_interval)

    def committed(self, group: str) -> list[int]:
        """The group's committed offset per partition (what it has consumed)."""
        found = self._groups.get(group)
        return list(found.committed) if found else [0] * len(self._log)

    # -- for the publisher and consumers ---------------------------------------------------------

    async def _append(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            self._log[self.partition_of(event.person_id)].append(event)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def _wait(self, seen: int, seconds: float) -> None:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._version != seen), seconds
                )

    def _read(
        self, group: _Group, partitions: Sequence[int], limit: int
    ) -> tuple[list[StoredEvent], dict[int, int]]:
        """Up to `limit` events after the committed offsets of `partitions`, and the offsets
        to commit once they are handled."""
        batch: list[StoredEvent] = []
        through: dict[int, int] = {}
        for partition in partitions:
            if len(batch) >= limit:
                break
            start = group.committed[partition]
            taken = self._log[partition][start : start + limit - len(batch)]
            if taken:
                batch.extend(taken)
                through[partition] = start + len(taken)
        return batch, through

    async def _join(self, name: str, member: _Member) -> _Group:
        group = self._groups.setdefault(name, _Group(len(self._log)))
        await self._rebalance(group, [*group.members, member])
        return group

    async def _leave(self, group: _Group, member: _Member) -> None:
        await self._rebalance(group, [m for m in group.members if m is not member])

    async def _rebalance(self, group: _Group, members: list[_Member]) -> None:
        """Give the partitions round-robin to `members`, once no member is inside a batch."""
        async with self._membership, contextlib.AsyncExitStack() as held:
            for member in group.members:
                await held.enter_async_context(member.busy)
            for gone in group.members:
                gone.partitions = ()
            group.members = members
            for index, member in enumerate(members):
                member.partitions = tuple(range(index, len(self._log), len(members)))
        await self._notify()


class InProcessPublisher:
    """`EventPublisher` onto an `InProcessBus`: acknowledged as soon as it is in the log."""

    def __init__(self, bus: InProcessBus) -> None:
        self._bus = bus

    async def start(self) -> None:
        pass

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        await self._bus._append(events)

    async def close(self) -> None:
        pass


class InProcessConsumer:
    """`EventConsumer` on an `InProcessBus`: one member of a consumer group."""

    def __init__(
        self, bus: InProcessBus, group: str, *, batch_size: int = 100, poll_interval: float = 0.5
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        if poll_interval <= 0:
            raise InvalidInput(f"poll_interval must be positive, not {poll_interval}")
        self._bus = bus
        self._group_name = group
        self._batch_size = batch_size
        self._poll_interval = poll_interval

    async def run(self, handler: EventHandler, stop: asyncio.Event) -> None:
        bus = self._bus
        member = _Member()
        group = await bus._join(self._group_name, member)
        try:
            while not stop.is_set():
                seen = bus._version
                async with member.busy:
                    batch, through = bus._read(group, member.partitions, self._batch_size)
                    if batch:
                        await handler(batch)
                        for partition, offset in through.items():
                            group.committed[partition] = offset
                if not batch:
                    await bus._wait(seen, self._poll_interval)
        finally:
            # Shielded: a cancelled member (the in-process image of a killed process) still
            # hands its partitions over, from the offsets it last committed.
            await asyncio.shield(bus._leave(group, member))
