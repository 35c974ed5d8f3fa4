"""The latest signed audit checkpoint travels with every webhook delivery and every feed
response (`Pph-Audit-Checkpoint`: base64url of the C2SP signed note), so each recipient holds
a checkpoint no insider with the hub's database can take back. Real HTTP: a webhook receiver
on a socket and the app over ASGI, on both backends."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from hub.domain.audit.checkpoint import Checkpoint, parse_signed_checkpoint
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.test_webhooks import (
    SOCIAL_WORK,
    eventually,
    hub_settings,
    push_release,
    subscribe,
)
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    # Checkpoints every 0.1 s (and so a header at most 0.1 s old).
    settings = hub_settings(database, audit_checkpoint_interval=0.1)
    async with running_hub(settings) as running:
        yield running


def signed(hub: RunningHub, value: str) -> Checkpoint:
    """The header's checkpoint, verified with the hub's key."""
    note = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    signer = hub.container.audit_signer
    return parse_signed_checkpoint(note, signer.trusted_keys, expected_origin=signer.origin)


async def signed_at_least(hub: RunningHub, size: int) -> None:
    async def reached() -> bool:
        latest = await hub.container.audit_log.latest_checkpoint()
        return latest is not None and latest.tree_size >= size

    await eventually(reached)


async def test_every_webhook_delivery_carries_the_latest_signed_checkpoint(
    hub: RunningHub, receiver: Receiver
) -> None:
    await subscribe(hub, SOCIAL_WORK, receiver.url("/glasgow"))
    await push_release(hub)
    await receiver.wait_for(lambda: bool(receiver.at("/glasgow")), within=30.0)
    await signed_at_least(hub, 1)
    await push_release(hub)
    await receiver.wait_for(lambda: len(receiver.at("/glasgow")) == 2, within=30.0)
    # The second was sent after a checkpoint was signed: it carries one, signed by the hub.
    second = receiver.at("/glasgow")[1]
    checkpoint = signed(hub, second.headers["pph-audit-checkpoint"])
    assert checkpoint.tree_size >= 1
    stored = await hub.container.audit_log.checkpoint(checkpoint.tree_size)
    assert stored is not None
    assert stored.root_hash == checkpoint.root_hash


async def test_every_feed_response_carries_the_latest_signed_checkpoint(hub: RunningHub) -> None:
    await push_release(hub)
    await signed_at_least(hub, 1)
    reader = await hub.token(SOCIAL_WORK, "feed:read")
    answer = await hub.http.get("/v1/feed", headers=bearer(reader))
    assert answer.status_code == 200, answer.text
    checkpoint = signed(hub, answer.headers["Pph-Audit-Checkpoint"])
    assert checkpoint.tree_size >= 1
    # A refused read carries it too (checkpoints are public), and other routes do not.
    refused = await hub.http.get("/v1/feed", headers=bearer("not-a-token"))
    assert refused.status_code == 401
    assert signed(hub, refused.headers["Pph-Audit-Checkpoint"]).tree_size >= 1
    health = await hub.http.get("/healthz")
    assert "Pph-Audit-Checkpoint" not in health.headers
