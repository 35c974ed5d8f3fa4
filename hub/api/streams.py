"""Open feed streams (`GET /v1/feed/stream`): how many one client may hold, and when one must
end.

A stream outlives the check its request passed: without a limit one client's idle streams take
the connections and polls everyone else's reads need, and without a guard a stream goes on
delivering after its token expired or its client was disabled. `StreamSlots` counts each
client's open streams in this process (one more is refused, 429 with Retry-After);
`StreamGuards` gives each stream a guard that ends it at its token's expiry, and soon after its
client is disabled, loses the scope `feed:read` or changes agency. The client's state is read at
most once per `HUB_FEED_STREAM_RECHECK_SECONDS` per client, however many streams it holds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from hub.api.security import Caller
from hub.errors import TooManyRequests
from hub.services.clients import ClientRepository, RegisteredClient
from hub.services.feed import StreamEnded, StreamGuard
from hub.settings import Settings

__all__ = ["FeedStreams", "SlotReleasingResponse", "StreamGuards", "StreamSlot", "StreamSlots"]

#: The scope a stream needs, as when it was opened.
_FEED_SCOPE: Final = "feed:read"


class StreamSlot:
    """One client's hold on one stream; `release` gives it back (once, however often called)."""

    def __init__(self, slots: StreamSlots, client_id: str) -> None:
        self._slots = slots
        self.client_id = client_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots.release(self.client_id)


class StreamSlots:
    """How many streams each client holds open in this process, up to `per_client`."""

    def __init__(self, per_client: int, *, retry_after: int) -> None:
        if per_client < 1:
            raise ValueError(f"per_client must be at least 1, not {per_client}")
        self._per_client = per_client
        self._retry_after = max(1, retry_after)
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, client_id: str) -> StreamSlot:
        """A slot for one more stream of `client_id`; `TooManyRequests` when it holds all."""
        with self._lock:
            held = self._open.get(client_id, 0)
            if held >= self._per_client:
                raise TooManyRequests(
                    f"this client already holds {held} open feed streams, the most one client "
                    f"may (HUB_FEED_MAX_STREAMS_PER_CLIENT={self._per_client}); close one, or "
                    "read the pull feed GET /v1/feed",
                    retry_after=self._retry_after,
                )
            self._open[client_id] = held + 1
        return StreamSlot(self, client_id)

    def release(self, client_id: str) -> None:
        with self._lock:
            held = self._open.get(client_id, 0) - 1
            if held > 0:
                self._open[client_id] = held
            else:
                self._open.pop(client_id, None)

    def held(self, client_id: str) -> int:
        with self._lock:
            return self._open.get(client_id, 0)


class SlotReleasingResponse(EventSourceResponse):
    """An event stream that gives its slot back however it ends: the stream finished, the
    client went away, or the server is shutting down."""

    def __init__(self, *args: object, slot: StreamSlot, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


def why_not_allowed(client: RegisteredClient | None, caller: Caller) -> StreamEnded | None:
    """Why `caller` may no longer read its feed, as its client now stands; None if it may."""
    if client is None:
        return StreamEnded("client-removed", "the token's client is no longer registered")
    if not client.is_enabled:
        return StreamEnded("client-disabled", "the token's client has been disabled")
    if client.agency != caller.agency:
        return StreamEnded("agency-changed", "the token's client now acts for another agency")
    if _FEED_SCOPE not in client.scopes:
        return StreamEnded("scope-withdrawn", f"the client no longer holds {_FEED_SCOPE}")
    return None


class StreamGuards:
    """Guards for open streams, sharing one cached read of each client's state."""

    def __init__(
        self,
        clients: ClientRepository,
        *,
        recheck_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if recheck_seconds <= 0:
            raise ValueError(f"recheck_seconds must be positive, not {recheck_seconds}")
        self._clients = clients
        self._recheck = recheck_seconds
        self._clock = clock
        self._now = now
        #: client id -> (when it was read, what it was).
        self._seen: dict[str, tuple[float, RegisteredClient | None]] = {}

    def guard(self, caller: Caller) -> StreamGuard:
        """The guard of one stream opened by `caller`."""

        async def ends() -> StreamEnded | None:
            if caller.expires_at is not None and self._now() >= caller.expires_at:
                return StreamEnded(
                    "token-expired",
                    "the access token expired; get a new one and reconnect with Last-Event-ID",
                )
            return why_not_allowed(await self._client(caller.client_id), caller)

        return ends

    async def _client(self, client_id: str) -> RegisteredClient | None:
        now = self._clock()
        seen = self._seen.get(client_id)
        if seen is not None and now - seen[0] < self._recheck:
            return seen[1]
        client = await self._clients.get(client_id)
        # Forget clients not asked about lately, so the cache holds only open streams' clients.
        self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._recheck * 2}
        self._seen[client_id] = (now, client)
        return client


class FeedStreams:
    """This process's open streams: their slots and their guards (`app.state.streams`)."""

    def __init__(self, slots: StreamSlots, guards: StreamGuards) -> None:
        self.slots = slots
        self.guards = guards

    @classmethod
    def from_settings(cls, settings: Settings, clients: ClientRepository) -> FeedStreams:
        return cls(
            StreamSlots(
                settings.feed_max_streams_per_client,
                # A held stream lasts at least until its next heartbeat shows it gone.
                retry_after=math.ceil(settings.feed_heartbeat_seconds),
            ),
            StreamGuards(clients, recheck_seconds=settings.feed_stream_recheck_seconds),
        )
