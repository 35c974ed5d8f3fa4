"""A real database outage in the middle of a burst of pushes (issue 13, findings 5 and 6).

The hub runs on a private PostgreSQL cluster (`private_postgres`), which the test stops for
several seconds while clients push notifications and ask for tokens, then starts again. What a
client may see is 201/200 or 503 with `Retry-After` and a problem document, never a 500; every
notification the hub acknowledged is stored, routed and audited afterwards (the audit tree
complete) without restarting anything, and `/readyz`, which said the workers were retrying,
says ready again.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from hub.infra.db import create_engine, upgrade
from hub.settings import Settings
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.private_postgres import PrivatePostgres, private_postgres

__all__ = ["private_postgres"]  # the fixture, used by name below

#: Pushes acknowledged before the outage, and after it, before the burst ends.
BEFORE, AFTER = 40, 40
#: How long the database stays down (seconds): longer than the first few backoff steps.
OUTAGE_SECONDS = 8.0
_numbers = itertools.count(3_000_000)


def admission() -> dict[str, Any]:
    """A new admission of a person of their own (no identifier shared with any other push)."""
    notification = copy.deepcopy(example("custody.admission"))
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(next(_numbers))}
    return notification


class Burst:
    """Clients pushing single notifications and batches, and asking for tokens, until told to
    stop; every answer is kept."""

    def __init__(self, hub: RunningHub, tokens: list[str], credentials: tuple[str, str]) -> None:
        self.hub = hub
        self.tokens = tokens
        self.credentials = credentials
        self.answers: list[tuple[str, httpx.Response]] = []
        #: (source, id) of every notification the hub acknowledged (201 or 200).
        self.acknowledged: set[tuple[str, str]] = set()
        self.stop = asyncio.Event()

    async def push(self, worker: int) -> None:
        token = self.tokens[worker % len(self.tokens)]
        for n in itertools.count():
            if self.stop.is_set():
                return
            if n % 3 == 2:
                batch = [admission() for _ in range(3)]
                answer = await self._post("/v1/events/batch", json=batch, headers=bearer(token))
                if answer.status_code in (200, 201):
                    self.acknowledged |= {(n["source"], n["id"]) for n in batch}
            else:
                notification = admission()
                answer = await self._post("/v1/events", json=notification, headers=bearer(token))
                if answer.status_code in (200, 201):
                    self.acknowledged.add((notification["source"], notification["id"]))
            await self._pause(answer)

    async def ask_for_tokens(self) -> None:
        while not self.stop.is_set():
            answer = await self._post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=self.credentials
            )
            await self._pause(answer, idle=0.2)

    async def _post(self, path: str, **options: Any) -> httpx.Response:
        try:
            answer = await self.hub.http.post(path, **options)
        except Exception as error:
            # The in-process transport raises what the app let escape, after the server's
            # last-resort handler answered it with a 500: keep it as that 500.
            answer = httpx.Response(500, text=f"{type(error).__name__}: {error}")
        self.answers.append((path, answer))
        return answer

    async def _pause(self, answer: httpx.Response, idle: float = 0.0) -> None:
        # A client honouring Retry-After would wait its seconds; this one comes back sooner,
        # so that the burst keeps knocking through the whole outage.
        await asyncio.sleep(0.1 if answer.status_code == 503 else idle)


async def ready(hub: RunningHub) -> httpx.Response:
    return await hub.http.get("/readyz")


async def wait_for(
    condition: Any, what: str, seen: dict[str, Any] | None = None, within: float = 120.0
) -> Any:
    """Poll `condition()` (async) until it returns something truthy; fail after `within` s
    (generous: a wait, not a timing asserted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}, seen: {seen!r}")


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.postgres
async def test_a_database_outage_in_a_burst_loses_nothing_and_the_workers_catch_up(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=SecretStr(private_postgres.url),
        router_poll_interval=0.05,
        delivery_poll_interval=0.2,
    )
    engine = create_engine(settings)
    await upgrade(engine, settings)
    await engine.dispose()

    async with running_hub(settings) as hub:
        from hub.auth.secrets import hash_secret
        from hub.services.clients import register_client

        client, secret = await register_client(
            hub.container.clients,
            name="outage test sps",
            agency="sps",
            scopes=["events:publish", "events:read"],
            hash_secret=hash_secret,
        )
        tokens = [await hub.token() for _ in range(2)]
        burst = Burst(hub, tokens, (client.client_id, secret))
        clients = [asyncio.create_task(burst.push(n)) for n in range(4)]
        clients.append(asyncio.create_task(burst.ask_for_tokens()))
        try:
            await wait_for(lambda: _at_least(burst, BEFORE), "acknowledgements before")
            await asyncio.to_thread(private_postgres.stop)

            # While it is down the probe says so (503, Retry-After), and the router and the
            # audit sequencer are retrying, not dead.
            async def retrying() -> dict[str, Any] | None:
                answer = await ready(hub)
                assert answer.status_code == 503, answer.text
                assert int(answer.headers["retry-after"]) > 0
                body: dict[str, Any] = answer.json()
                states = {name: w["state"] for name, w in body["workers"].items()}
                wanted = ("router", "audit-sequencer")
                return body if all(states[w] == "retrying" for w in wanted) else None

            during = await wait_for(retrying, "the workers to say they are retrying")
            assert during["checks"]["router"].startswith("retrying since"), during
            assert during["workers"]["router"]["last_error"] == "StoreUnavailable"
            # /metrics still answers, and says the same.
            scraped = await hub.http.get("/metrics")
            assert scraped.status_code == 200, scraped.text
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(scraped.text)
                for sample in family.samples
            }
            assert samples[("pph_database_up", ())] == 0
            router_retrying = (("state", "retrying"), ("worker", "router"))
            assert samples[("pph_worker_state", router_retrying)] == 1
            assert samples[("pph_worker_retries_total", (("worker", "router"),))] >= 1
            await asyncio.sleep(OUTAGE_SECONDS)
            refused = len(burst.answers)
            await asyncio.to_thread(private_postgres.start)
            acknowledged_by_then = len(burst.acknowledged)
            await wait_for(
                lambda: _at_least(burst, acknowledged_by_then + AFTER), "acknowledgements after"
            )
        finally:
            burst.stop.set()
            await asyncio.gather(*clients, return_exceptions=True)
        for task in clients:
            assert task.exception() is None, task.exception()
        assert refused > 0

        # What clients saw: acknowledgements, or 503 + Retry-After + a problem; never a 500.
        statuses = Counter((path, answer.status_code) for path, answer in burst.answers)
        assert {status for _, status in statuses} <= {200, 201, 503}, statuses
        unavailable = [(p, a) for p, a in burst.answers if a.status_code == 503]
        assert {p for p, _ in unavailable} == {"/v1/events", "/v1/events/batch", "/oauth/token"}
        for path, answer in unavailable:
            assert int(answer.headers["retry-after"]) > 0, path
            assert answer.headers["content-type"].startswith("application/problem+json"), path
            problem = answer.json()
            assert problem["status"] == 503
            assert problem["type"] == "urn:pph:problem:store-unavailable", problem

        # The hub is ready again by itself, every worker running and the router caught up.
        seen: dict[str, Any] = {}

        async def caught_up() -> dict[str, Any] | None:
            answer = await ready(hub)
            seen["readyz"] = answer.text
            if answer.status_code != 200:
                return None
            body: dict[str, Any] = answer.json()
            workers = body["workers"]
            running = all(w["state"] == "running" for w in workers.values())
            return body if running and workers["router"]["lag"] == 0 else None

        after = await wait_for(caught_up, "the hub to be ready and the router caught up", seen)
        assert after["status"] == "ok", after
        assert after["workers"]["router"]["retries"] > 0  # it did retry, and recovered

        async def audited() -> bool:
            async with hub.container.engine.connect() as connection:
                entries = (
                    await connection.execute(sa.text("SELECT count(*) FROM audit_entries"))
                ).scalar_one()
                leaves = (
                    await connection.execute(sa.text("SELECT count(*) FROM audit_leaves"))
                ).scalar_one()
            return bool(entries) and entries == leaves

        await wait_for(audited, "every audit entry to be in the tree")

        async with hub.container.engine.connect() as connection:
            stored = {
                (source, event_id): position
                for source, event_id, position in await connection.execute(
                    sa.text("SELECT source, event_id, position FROM events")
                )
            }
            checkpoint = (
                await connection.execute(
                    sa.text("SELECT position FROM consumer_checkpoints WHERE consumer = 'router'")
                )
            ).scalar_one()
            decided = {
                int(position)
                for (position,) in await connection.execute(
                    sa.text(
                        "SELECT event_position FROM disclosures UNION "
                        "SELECT event_position FROM disclosure_denials"
                    )
                )
            }
            collected = set()
            for (entry,) in await connection.execute(
                sa.text("SELECT entry FROM audit_entries WHERE kind = 'collection'")
            ):
                document = json.loads(entry)
                collected.add((document["source"], document["event_id"]))

    lost = burst.acknowledged - set(stored)
    assert not lost, f"{len(lost)} acknowledged notifications not stored"
    positions = {stored[key] for key in burst.acknowledged}
    assert checkpoint >= max(positions)
    assert positions <= decided, "acknowledged notifications the router decided nothing on"
    assert burst.acknowledged <= collected, "acknowledged notifications with no audit entry"


async def _at_least(burst: Burst, count: int) -> bool:
    return len(burst.acknowledged) >= count
