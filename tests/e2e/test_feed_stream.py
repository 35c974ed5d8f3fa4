"""The streaming feed as a recipient's system uses it, against a real `hub serve`: disclosures
arrive as Server-Sent Events within a moment of being pushed, heartbeats show a quiet feed is
alive, a reconnection with `Last-Event-ID` resumes with nothing missed and nothing repeated,
and an open stream does not hold up the hub's shutdown."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HubProcess
from tests.integration.api_helpers import bearer, example

HEARTBEAT_SECONDS = 0.5
GLASGOW_SW = "sw-glasgow-city"


def release_of_a_new_person() -> list[dict[str, Any]]:
    """An admission and a Schedule 1 release notice to Glasgow: one disclosure to its social
    work service (the release)."""
    identifiers = {"sps_number": str(uuid.uuid4().int % 10**9)}
    notifications = []
    for event_type in ("custody.admission", "release.schedule1-notification"):
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"] = identifiers
        notifications.append(notification)
    return notifications


class EventStream:
    """The messages of one open `text/event-stream` response: ("comment", text) or
    ("disclosure", {"id": …, "event": …, "data": …})."""

    def __init__(self, response: httpx.Response) -> None:
        self._messages = self._parse(response.aiter_lines())

    @staticmethod
    async def _parse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
        fields: dict[str, str] = {}
        async for line in lines:
            if line.startswith(":"):
                yield "comment", line[1:].strip()
            elif line == "":
                if fields:
                    yield fields.get("event", "message"), fields
                    fields = {}
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    async def next(self, within: float = 10.0) -> tuple[str, Any]:
        return await asyncio.wait_for(anext(self._messages), within)

    async def disclosures(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """The next `count` disclosures, skipping heartbeats."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        while len(found) < count:
            kind, message = await self.next(max(deadline - time.monotonic(), 0.01))
            if kind == "disclosure":
                found.append(message)
        return found


@pytest.mark.asyncio
async def test_stream_delivers_heartbeats_and_resumes_without_gaps_or_repeats(
    hub_process: HubProcess,
) -> None:
    hub_process.env.update(
        {
            "HUB_FEED_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "HUB_ROUTER_POLL_INTERVAL": "0.1",
        }
    )
    hub_process.start()
    publisher = bearer(hub_process.token(hub_process.register("sps", "events:publish")))
    reader = bearer(hub_process.token(hub_process.register(GLASGOW_SW, "feed:read")))

    async with httpx.AsyncClient(base_url=hub_process.url, timeout=10) as http:

        async def push_people(count: int) -> None:
            for _ in range(count):
                for notification in release_of_a_new_person():
                    answer = await http.post("/v1/events", json=notification, headers=publisher)
                    assert answer.status_code == 201, answer.text

        # 1. Connected to an empty feed: a heartbeat at once, then every HEARTBEAT_SECONDS.
        async with http.stream("GET", "/v1/feed/stream", headers=reader) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = EventStream(response)
            kind, text = await stream.next()
            assert kind == "comment"
            assert text.startswith("heartbeat ")
            assert (await stream.next())[0] == "comment"

            # 2. Two people's releases are pushed: both arrive, in feed order, promptly.
            await push_people(2)
            first_two = await stream.disclosures(2)
            # 3. A quiet feed again: a heartbeat, not a repeat.
            assert (await stream.next())[0] == "comment"

        assert [m["id"] for m in first_two] == ["1", "2"]
        items = [json.loads(m["data"]) for m in first_two]
        assert [i["seq"] for i in items] == [1, 2]
        assert {i["event_type"] for i in items} == {"release.schedule1-notification"}
        assert all("notification" in i and "source" not in i["notification"] for i in items)

        # 4. Disconnected, three more are decided; the client reconnects as an EventSource
        # does: the same URL (here with ?after=0) and Last-Event-ID, which wins.
        await push_people(3)
        resumed_headers = {**reader, "Last-Event-ID": "2"}
        async with http.stream(
            "GET", "/v1/feed/stream?after=0", headers=resumed_headers
        ) as response:
            stream = EventStream(response)
            rest = await stream.disclosures(3)
            # Then nothing more: the next message is a heartbeat.
            kind, _ = await stream.next()
            assert kind == "comment"
        assert [m["id"] for m in rest] == ["3", "4", "5"]

        # The stream gave exactly what the pull feed holds, in the same order.
        feed = (await http.get("/v1/feed", headers=reader)).json()
        streamed = [json.loads(m["data"]) for m in (*first_two, *rest)]
        assert [i["disclosure_id"] for i in streamed] == [i["disclosure_id"] for i in feed["items"]]
        assert feed["last_seq"] == 5
        assert streamed == feed["items"]

        # An invalid cursor is refused before any stream starts.
        bad = await http.get("/v1/feed/stream", headers={**reader, "Last-Event-ID": "five"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["pointer"] == "/header/Last-Event-ID"

        # 5. An open stream does not hold up shutdown.
        async with http.stream("GET", "/v1/feed/stream", headers=reader) as response:
            stream = EventStream(response)
            await stream.next()
            # stop() escalates to SIGKILL after 10 s; a clean exit is what shows the stream
            # did not hold the shutdown up.
            await asyncio.to_thread(hub_process.stop)
            assert hub_process.last_exit_code in (0, -15)
