"""How far the router is behind intake: its checkpoint against the store's head, in events and
in seconds (how long the oldest event it has still to route has waited). Read from the
database, so any process of the hub sees the same figure, whether the router runs in it, in
another process, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["RouterLag", "RouterLagReader"]


@dataclass(frozen=True, slots=True)
class RouterLag:
    """The router's checkpoint against the store's last position."""

    #: The position of the last event the router has recorded its decisions for.
    checkpoint: int
    #: The store's last position.
    head: int
    #: When the oldest event still to route was stored (None when there is none).
    oldest_waiting_since: datetime | None

    @property
    def events(self) -> int:
        """Positions the router has still to route."""
        return max(self.head - self.checkpoint, 0)

    def seconds(self, now: datetime) -> float:
        """How long the oldest event still to route has waited (0 when none waits)."""
        if self.oldest_waiting_since is None:
            return 0.0
        return max((now - self.oldest_waiting_since).total_seconds(), 0.0)


class RouterLagReader(Protocol):
    async def router_lag(self, consumer: str) -> RouterLag:
        """The lag of `consumer` (a router's name in `consumer_checkpoints`)."""
        ...
