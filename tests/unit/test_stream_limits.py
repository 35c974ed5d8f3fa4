"""Open feed streams (`hub.api.streams`): a client's slots, released once, and the guard that
ends a stream at its token's expiry or when its client may no longer read (read once per
interval however many streams ask)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.api.security import Caller
from hub.api.streams import StreamGuards, StreamSlots
from hub.errors import TooManyRequests
from hub.services.clients import RegisteredClient

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_client_holds_at_most_its_slots_and_a_slot_is_given_back_once() -> None:
    slots = StreamSlots(2, retry_after=15)
    first, _second = slots.acquire("cl_a"), slots.acquire("cl_a")
    with pytest.raises(TooManyRequests) as refused:
        slots.acquire("cl_a")
    assert refused.value.retry_after == 15
    assert "HUB_FEED_MAX_STREAMS_PER_CLIENT=2" in refused.value.message
    slots.acquire("cl_b")  # another client is not held up
    first.release()
    first.release()  # again: nothing more is given back
    assert slots.held("cl_a") == 1
    slots.acquire("cl_a")
    with pytest.raises(TooManyRequests):
        slots.acquire("cl_a")


class Clients:
    """The client repository's `get`, counting reads."""

    def __init__(self, client: RegisteredClient | None) -> None:
        self.client = client
        self.reads = 0

    async def get(self, client_id: str) -> RegisteredClient | None:
        self.reads += 1
        return self.client


def _client() -> RegisteredClient:
    return RegisteredClient(
        client_id="cl_a",
        name="Glasgow",
        agency="sw-glasgow-city",
        scopes=frozenset({"feed:read"}),
        secret_hash="x",
        created_at=NOW,
    )


def _guards(clients: Clients, monotonic: list[float], now: list[datetime]) -> StreamGuards:
    clock: Callable[[], float] = lambda: monotonic[0]  # noqa: E731
    return StreamGuards(
        clients,  # type: ignore[arg-type]
        recheck_seconds=5,
        clock=clock,
        now=lambda: now[0],
    )


@pytest.mark.asyncio
async def test_the_guard_ends_a_stream_at_expiry_and_after_a_disable() -> None:
    clients = Clients(_client())
    monotonic, now = [100.0], [NOW]
    guards = _guards(clients, monotonic, now)
    expires = NOW + timedelta(seconds=60)
    caller = Caller("cl_a", "sw-glasgow-city", frozenset({"feed:read"}), expires)
    ends = [guards.guard(caller) for _ in range(3)]
    for guard in ends:
        assert await guard() is None
    assert clients.reads == 1  # three streams, one read

    assert clients.client is not None
    clients.client = replace(clients.client, disabled_at=NOW)
    assert await ends[0]() is None  # still the cached state
    monotonic[0] += 5
    ended = await ends[0]()
    assert ended is not None
    assert ended.reason == "client-disabled"

    clients.client = replace(clients.client, disabled_at=None)
    monotonic[0] += 5
    now[0] = expires
    ended = await ends[1]()
    assert ended is not None
    assert ended.reason == "token-expired"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"scopes": frozenset({"events:read"})}, "scope-withdrawn"),
        ({"agency": "police-scotland"}, "agency-changed"),
    ],
)
async def test_the_guard_ends_a_stream_whose_client_changed(
    change: dict[str, object], reason: str
) -> None:
    clients = Clients(replace(_client(), **change))  # type: ignore[arg-type]
    guards = _guards(clients, [0.0], [NOW])
    caller = Caller("cl_a", "sw-glasgow-city", frozenset({"feed:read"}), None)
    ended = await guards.guard(caller)()
    assert ended is not None
    assert ended.reason == reason
    clients.client = None
    guards = _guards(clients, [0.0], [NOW])
    ended = await guards.guard(caller)()
    assert ended is not None
    assert ended.reason == "client-removed"
