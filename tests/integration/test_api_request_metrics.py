"""The API's own technical metrics on `/metrics`, on both backends: requests counted and timed
by the route template they matched (never the raw path, which may hold an identifier) and their
status; the process's figures; the webhook outbox and the audit trail's gauges."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Database
from tests.integration.api_helpers import running_hub
from tests.integration.test_webhooks import (
    SOCIAL_WORK,
    eventually,
    hub_settings,
    push_release,
    subscribe,
)
from tests.integration.test_worker_listener import sample
from tests.integration.webhook_receiver import running_receiver

pytestmark = pytest.mark.asyncio


async def test_requests_are_counted_by_route_template_and_status(database: Database) -> None:
    async with running_hub(database.settings) as hub:
        event_id = str(uuid.uuid4())
        for _ in range(2):
            answer = await hub.http.get(f"/v1/events/{event_id}")
            assert answer.status_code == 401
        assert (await hub.http.get(f"/no-such-page/{event_id}")).status_code == 404
        assert (await hub.http.get("/healthz")).status_code == 200

        scraped = (await hub.http.get("/metrics")).text

    template = 'method="GET",route="/v1/events/{event_id}"'
    assert sample(scraped, f'pph_api_requests_total{{{template},status="401"}}') == 2
    assert sample(scraped, f"pph_api_request_duration_seconds_count{{{template}}}") == 2
    unmatched = 'pph_api_requests_total{method="GET",route="unmatched",status="404"}'
    assert sample(scraped, unmatched) == 1
    healthz = 'pph_api_requests_total{method="GET",route="/healthz",status="200"}'
    assert sample(scraped, healthz) == 1
    assert event_id not in scraped
    assert sample(scraped, "process_open_fds") > 0
    assert sample(scraped, "pph_delivery_queue_depth") == 0
    assert sample(scraped, "pph_webhook_deliveries_failing") == 0
    assert sample(scraped, "pph_audit_sequencer_lag") >= 0


async def test_the_outbox_gauges_count_failing_jobs_and_dead_letters(database: Database) -> None:
    async with running_receiver() as receiver:
        receiver.answer("/down", 503)
        # A retry an hour away: the job waits, failing, in the queue.
        waiting = hub_settings(database, webhook_retry_schedule=(3600.0,))
        async with running_hub(waiting) as hub:
            await subscribe(hub, SOCIAL_WORK, receiver.url("/down"))
            await push_release(hub)

            async def failing() -> bool:
                text = (await hub.http.get("/metrics")).text
                return sample(text, "pph_webhook_deliveries_failing") == 1

            await eventually(failing)
            scraped = (await hub.http.get("/metrics")).text
            assert sample(scraped, "pph_delivery_queue_depth") == 1
            assert sample(scraped, "pph_webhook_dead_letters") == 0

        # A schedule spent at once: the next job ends in the dead-letter queue.
        async with running_hub(hub_settings(database, webhook_retry_schedule=(0.2,))) as hub:
            await push_release(hub)

            async def dead() -> bool:
                text = (await hub.http.get("/metrics")).text
                return sample(text, "pph_webhook_dead_letters") == 1

            await eventually(dead)
            scraped = (await hub.http.get("/metrics")).text
            # The first job still waits for its retry, an hour away.
            assert sample(scraped, "pph_delivery_queue_depth") == 1
            assert sample(scraped, "pph_webhook_deliveries_failing") == 1
