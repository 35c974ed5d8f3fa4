"""Request rate limits (`hub.api.ratelimit`) on both backends, by counting, never timing: with a
refill rate so small that nothing refills during the test, a burst of N + 5 requests gets exactly
5 answers of 429 (problem details with `Retry-After`), whose requests change nothing."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from hub.api.ratelimit import TokenBuckets
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

BURST = 8
#: One request per ~11.5 days: nothing refills while a test runs.
TRICKLE = 1e-6


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={
            "rate_limit_per_second": TRICKLE,
            "rate_limit_burst": BURST,
            "token_rate_limit_per_second": TRICKLE,
            "token_rate_limit_burst": BURST,
        }
    )
    async with running_hub(settings) as running:
        yield running


def assert_rate_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == "urn:pph:problem:too-many-requests"
    assert body["status"] == 429
    assert "Traceback" not in answer.text
    assert int(answer.headers["retry-after"]) >= 1


@pytest.mark.asyncio
async def test_a_client_over_its_burst_gets_429_for_exactly_the_excess(hub: RunningHub) -> None:
    # Tokens come from the token endpoint, which has its own (per-address) bucket.
    reader = bearer(await hub.token("sw-glasgow-city", "feed:read"))
    other = bearer(await hub.token("sw-fife", "feed:read"))

    answers = [await hub.http.get("/v1/feed", headers=reader) for _ in range(BURST + 5)]

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: BURST, 429: 5}
    for answer in answers[BURST:]:
        assert_rate_limited(answer)
    # Another client has its own bucket.
    assert (await hub.http.get("/v1/feed", headers=other)).status_code == 200


@pytest.mark.asyncio
async def test_a_rate_limited_publish_stores_nothing(hub: RunningHub) -> None:
    publisher = bearer(await hub.token("sps", "events:publish"))
    for _ in range(BURST):
        notification = example("custody.admission")
        notification["id"] = str(uuid.uuid4())
        answer = await hub.http.post("/v1/events", json=notification, headers=publisher)
        assert answer.status_code == 201, answer.text
    before = await hub.snapshot()

    refused = await hub.http.post(
        "/v1/events", json=example("custody.admission"), headers=publisher
    )

    assert_rate_limited(refused)
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_requests_without_a_valid_token_are_not_counted_against_a_client(
    hub: RunningHub,
) -> None:
    reader = bearer(await hub.token("sw-glasgow-city", "feed:read"))
    for _ in range(BURST + 5):
        answer = await hub.http.get("/v1/feed", headers={"Authorization": "Bearer forged"})
        assert answer.status_code == 401
    assert (await hub.http.get("/v1/feed", headers=reader)).status_code == 200


@pytest.mark.asyncio
async def test_token_requests_are_limited_per_address(database: Database) -> None:
    settings = database.settings.model_copy(
        update={"token_rate_limit_per_second": TRICKLE, "token_rate_limit_burst": BURST}
    )
    async with running_hub(settings) as hub:
        answers = [
            await hub.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("cl_guess", f"guess-{n}"),
            )
            for n in range(BURST + 5)
        ]
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {401: BURST, 429: 5}
    for answer in answers[BURST:]:
        assert_rate_limited(answer)


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one request every half second
    assert buckets.take("b") == 0.0
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    now[0] = 100.0
    taken = [buckets.take("a") for _ in range(4)]
    assert taken[:3] == [0.0, 0.0, 0.0]
    assert taken[3] > 0  # idle for long, still never more than the burst
