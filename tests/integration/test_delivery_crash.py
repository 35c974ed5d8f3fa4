"""A delivery worker survives being killed: `hub deliveries run` is SIGKILLed while sends are in
flight to a receiver that answers slowly, then restarted until idle. Every job ends delivered;
every disclosure reached its receiver; and only those not confirmed at the kill were sent twice,
with the same webhook-id — on each backend."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from asyncio.subprocess import PIPE, STDOUT
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, running_hub
from tests.integration.webhook_receiver import running_receiver

ROOT = Path(__file__).resolve().parents[2]
HUB = [sys.executable, "-m", "hub.cli"]
RELEASES = 40
RECIPIENTS = {"sw-glasgow-city": "/sw", "police-division-g": "/police"}
JOBS = RELEASES * len(RECIPIENTS)


def environment(database: Database) -> dict[str, str]:
    """A `hub` process on the test's database, sending to a local receiver."""
    settings = database.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "HUB_DELIVERY_CONCURRENCY": "8",
            "HUB_DELIVERY_POLL_INTERVAL": "0.05",
            "HUB_DELIVERY_CLAIM_SECONDS": "3",
            "HUB_WEBHOOK_TIMEOUT_SECONDS": "2",
        }
    )
    if settings.database_url is not None:
        env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.database_schema is not None:
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def statuses(database: Database) -> dict[str, str]:
    """Each job's status, by its disclosure id (its webhook-id)."""
    async with database.engine.connect() as connection:
        found = await connection.execute(sa.text("SELECT disclosure_id, status FROM deliveries"))
        return {disclosure_id: status for disclosure_id, status in found}


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_killed_worker_resends_only_what_was_not_confirmed(database: Database) -> None:
    async with running_receiver() as receiver:
        for path in RECIPIENTS.values():
            receiver.answer(path, 200, delay=0.1, jitter=0.5)

        # The jobs: the router queues one per release and subscription; nothing sends in-process.
        settings = database.settings.model_copy(
            update={"delivery_enabled": False, "webhook_allow_private_addresses": True}
        )
        async with running_hub(settings) as hub:
            for agency, path in RECIPIENTS.items():
                token = await hub.token(agency, "subscriptions:manage")
                answer = await hub.http.post(
                    "/v1/subscriptions", json={"url": receiver.url(path)}, headers=bearer(token)
                )
                assert answer.status_code == 201, answer.text
            publisher = bearer(await hub.token("sps", "events:publish"))
            for number in range(RELEASES):
                notification = example("release.schedule1-notification")
                notification["id"] = str(uuid.uuid4())
                notification["identifiers"] = {"sps_number": str(7_000_000 + number)}
                answer = await hub.http.post("/v1/events", json=notification, headers=publisher)
                assert answer.status_code == 201, answer.text
            await hub.container.router().run_until_idle()
        assert set((await statuses(database)).values()) == {"pending"}
        assert len(await statuses(database)) == JOBS

        env = environment(database)
        worker = await asyncio.create_subprocess_exec(
            *HUB, "deliveries", "run", env=env, cwd=ROOT, stdout=PIPE, stderr=STDOUT
        )
        try:
            async with asyncio.timeout(60):
                # Kill it a quarter of the way through, with sends in flight.
                while True:
                    assert worker.returncode is None, "the worker exited early"
                    now = await statuses(database)
                    delivered = {d for d, status in now.items() if status == "delivered"}
                    sent = {r.webhook_id for r in receiver.received}
                    if len(delivered) >= JOBS // 4 and sent - delivered:
                        break
                    await asyncio.sleep(0.005)
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGKILL)
            output, _ = await worker.communicate()
        assert worker.returncode == -signal.SIGKILL, output.decode()

        at_kill = await statuses(database)
        confirmed = {d for d, status in at_kill.items() if status == "delivered"}
        unconfirmed = set(at_kill) - confirmed
        assert unconfirmed, "killed after the end"
        await asyncio.sleep(0.3)  # requests the worker wrote just before it died
        in_flight = {r.webhook_id for r in receiver.received} - confirmed
        assert in_flight, "killed with nothing in flight"

        process = await asyncio.create_subprocess_exec(
            *HUB, "deliveries", "run", "--until-idle", env=env, cwd=ROOT, stdout=PIPE, stderr=PIPE
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert "nothing due" in out.decode()

        final = await statuses(database)
        assert set(final.values()) == {"delivered"}
        received = Counter(r.webhook_id for r in receiver.received)
        assert set(received) == set(final), "a disclosure never reached its receiver"
        assert max(received.values()) <= 2
        sent_twice = {webhook_id for webhook_id, times in received.items() if times == 2}
        assert sent_twice <= unconfirmed, "a delivery confirmed before the kill was sent again"
        # Exactly those the receiver had but the hub had not recorded went again.
        assert sent_twice == in_flight

        # The CLI lists them, and finds no dead letters.
        process = await asyncio.create_subprocess_exec(
            *HUB, "deliveries", "list", "--status", "dead", "--json",
            env=env, cwd=ROOT, stdout=PIPE, stderr=PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert out.decode() == ""
