"""The streaming feed as a recipient's system uses it, against a real `hub serve`: disclosures
arrive as Server-Sent Events within a moment of being pushed, heartbeats show a quiet feed is
alive, a reconnection with `Last-Event-ID` resumes with nothing missed and nothing repeated,
and an open stream does not hold up the hub's shutdown."""

from __future__ import annotations

import asyncio
import base64
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
        # The prison's source is not granted: an opaque one stands in (docs/cloudevents.md).
        assert all(i["notification"]["source"].startswith("urn:pph:hub:event:") for i in items)

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


async def _until_the_stream_ends(stream: EventStream, within: float) -> dict[str, Any]:
    """Read heartbeats and disclosures until the hub's closing `end` event; its data. Fails if
    the stream is still open after `within` seconds, or closes without saying why."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the stream was still delivering"
        try:
            kind, message = await stream.next(left)
        except TimeoutError:
            raise AssertionError("the stream was still open") from None
        except StopAsyncIteration:
            raise AssertionError("the stream closed without an end event") from None
        if kind == "end":
            data: dict[str, Any] = json.loads(message["data"])
            # Then the hub closes the connection.
            with pytest.raises(StopAsyncIteration):
                await stream.next(within)
            return data


@pytest.mark.asyncio
async def test_an_open_stream_ends_when_its_client_is_disabled(hub_process: HubProcess) -> None:
    hub_process.env.update({"HUB_FEED_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)})
    hub_process.start()
    client = hub_process.register(GLASGOW_SW, "feed:read")
    other = bearer(hub_process.token(hub_process.register(GLASGOW_SW, "feed:read")))
    reader = bearer(hub_process.token(client))

    async with (
        httpx.AsyncClient(base_url=hub_process.url, timeout=30) as http,
        http.stream("GET", "/v1/feed/stream", headers=reader) as response,
        http.stream("GET", "/v1/feed/stream", headers=other) as unaffected,
    ):
        assert response.status_code == unaffected.status_code == 200
        stream, other_stream = EventStream(response), EventStream(unaffected)
        assert (await stream.next())[0] == "comment"

        await asyncio.to_thread(hub_process.cli, "clients", "disable", client["client_id"])

        end = await _until_the_stream_ends(stream, within=30)
        assert end["reason"] == "client-disabled"
        assert "disabled" in end["detail"]
        # Another client's stream goes on.
        assert (await other_stream.next())[0] == "comment"
        again = await http.get("/v1/feed", headers=reader)
        assert again.status_code == 401


@pytest.mark.asyncio
async def test_an_open_stream_ends_when_its_token_expires(hub_process: HubProcess) -> None:
    lifetime = 30  # the shortest the settings allow
    hub_process.env.update(
        {
            "HUB_FEED_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "HUB_TOKEN_LIFETIME_SECONDS": str(lifetime),
        }
    )
    hub_process.start()
    token = hub_process.token(hub_process.register(GLASGOW_SW, "feed:read"))
    reader = bearer(token)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))

    async with (
        httpx.AsyncClient(base_url=hub_process.url, timeout=30) as http,
        http.stream("GET", "/v1/feed/stream", headers=reader) as response,
    ):
        assert response.status_code == 200
        stream = EventStream(response)
        end = await _until_the_stream_ends(stream, within=lifetime + 60)
        assert end["reason"] == "token-expired"
        # Not before the token's expiry (an ordering of clocks on this machine, not a timing).
        assert time.time() >= claims["exp"]


@pytest.mark.asyncio
async def test_one_client_may_hold_only_so_many_streams_and_others_still_get_theirs(
    hub_process: HubProcess,
) -> None:
    hub_process.env.update(
        {
            "HUB_FEED_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "HUB_FEED_MAX_STREAMS_PER_CLIENT": "2",
        }
    )
    hub_process.start()
    greedy = bearer(hub_process.token(hub_process.register(GLASGOW_SW, "feed:read")))
    other = bearer(hub_process.token(hub_process.register(GLASGOW_SW, "feed:read")))

    async with httpx.AsyncClient(base_url=hub_process.url, timeout=30) as http:
        async with (
            http.stream("GET", "/v1/feed/stream", headers=greedy) as first,
            http.stream("GET", "/v1/feed/stream", headers=greedy) as second,
        ):
            assert first.status_code == second.status_code == 200
            # Kept: a parser dropped closes its connection (httpx closes an abandoned stream).
            held = [EventStream(first), EventStream(second)]
            for stream in held:
                assert (await stream.next())[0] == "comment"

            refused = await http.get("/v1/feed/stream", headers=greedy)
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert int(refused.headers["retry-after"]) >= 1
            assert "2" in refused.json()["detail"]

            async with http.stream("GET", "/v1/feed/stream", headers=other) as theirs:
                assert theirs.status_code == 200
                assert (await EventStream(theirs).next())[0] == "comment"

            # The pull feed is not a stream: still served; and the held streams go on.
            assert (await http.get("/v1/feed", headers=greedy)).status_code == 200
            for stream in held:
                assert (await stream.next())[0] == "comment"

        # Once its streams are closed, the client may open one again (the hub notices the
        # disconnection shortly).
        deadline = time.monotonic() + 30
        while True:
            async with http.stream("GET", "/v1/feed/stream", headers=greedy) as response:
                if response.status_code == 200:
                    assert (await EventStream(response).next())[0] == "comment"
                    break
                assert response.status_code == 429
            assert time.monotonic() < deadline, "the closed streams were never let go"
            await asyncio.sleep(0.2)
