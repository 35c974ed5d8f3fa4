"""A full disk does not kill the router (issue 13, finding 5).

SQLite is held to a maximum page count (`PRAGMA max_page_count`, set on every connection the
hub checks out), so that writes fail as on a full disk: "database or disk is full". The router,
with events to route, waits it out (`retrying`, its backlog measured) instead of stopping for
good, and routes everything once there is room again, without a restart. On main it stopped at
the first failure (`StoreError`), leaving the acknowledged events undisclosed.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from hub import bootstrap
from hub.domain.notifications import Publisher
from hub.settings import Settings
from tests.integration.api_helpers import bearer, example, running_hub

_numbers = itertools.count(4_000_000)


def admission() -> dict[str, Any]:
    notification = copy.deepcopy(example("custody.admission"))
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(next(_numbers))}
    return notification


async def eventually(condition: Any, what: str) -> None:
    """Poll until `condition()` holds (a generous wait, not a timing asserted)."""
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.asyncio
async def test_the_router_waits_out_a_full_disk_and_catches_up(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path / "data")
    async with bootstrap.running(settings) as container:
        pages: dict[str, int | None] = {"limit": None}

        @event.listens_for(container.engine.sync_engine, "checkout")
        def _limit(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            # 2**31 - 2 pages is SQLite's own ceiling: "no limit".
            cursor.execute(f"PRAGMA max_page_count = {pages['limit'] or 2_147_483_646}")
            cursor.close()

        publisher = Publisher(client_id="c_sps", agency="sps")
        for _ in range(5):
            await container.intake.publish(admission(), publisher, container.policy.directory)
        router = container.router()
        assert await router.run_until_idle() == 5

        # More acknowledged events, then the disk is full: not one more page can be written.
        for _ in range(30):
            await container.intake.publish(admission(), publisher, container.policy.directory)
        async with container.engine.connect() as connection:
            used = (await connection.execute(sa.text("PRAGMA page_count"))).scalar_one()
        pages["limit"] = int(used)

        loop = router.loop(poll_interval=0.05)
        stop = asyncio.Event()
        task = loop.start(stop)
        try:

            async def retrying() -> bool:
                assert not task.done(), task  # on main: the router stopped (StoreError)
                return loop.status().state == "retrying"

            await eventually(retrying, "the router to be retrying")
            status = loop.status()
            assert status.last_error == "StoreUnavailable"
            assert await router.lag() == 30  # nothing of the backlog was recorded

            pages["limit"] = None  # room again

            async def caught_up() -> bool:
                assert not task.done(), task
                return loop.status().state == "running" and await loop.measure_lag() == 0

            await eventually(caught_up, "the router to catch up")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
        assert loop.status().state == "stopped"
        assert loop.status().retries >= 1
        async with container.engine.connect() as connection:
            decided = (
                await connection.execute(
                    sa.text(
                        "SELECT count(DISTINCT event_position) FROM ("
                        "SELECT event_position FROM disclosures UNION ALL "
                        "SELECT event_position FROM disclosure_denials)"
                    )
                )
            ).scalar_one()
        assert decided == 35


@pytest.mark.asyncio
async def test_pushes_to_a_full_disk_get_503_with_retry_after_then_201(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path / "data")
    async with running_hub(settings) as hub:
        pages: dict[str, int | None] = {"limit": None}

        @event.listens_for(hub.container.engine.sync_engine, "checkout")
        def _limit(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {pages['limit'] or 2_147_483_646}")
            cursor.close()

        token = await hub.token()
        async with hub.container.engine.connect() as connection:
            used = (await connection.execute(sa.text("PRAGMA page_count"))).scalar_one()
        pages["limit"] = int(used)

        refused = 0
        for _ in range(20):  # until the free pages left in the file are used up
            single = await hub.http.post("/v1/events", json=admission(), headers=bearer(token))
            batch = await hub.http.post(
                "/v1/events/batch", json=[admission(), admission()], headers=bearer(token)
            )
            for answer in (single, batch):
                assert answer.status_code in (200, 201, 503), answer.text
                if answer.status_code == 503:
                    refused += 1
                    assert int(answer.headers["retry-after"]) > 0
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert answer.json()["type"] == "urn:pph:problem:store-unavailable"
            if refused >= 2:
                break
        assert refused >= 2

        pages["limit"] = None
        answer = await hub.http.post("/v1/events", json=admission(), headers=bearer(token))
        assert answer.status_code == 201, answer.text
