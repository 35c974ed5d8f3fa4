"""Webhook subscriptions through the HTTP API, on both backends: a recipient creates, reads,
changes, rotates, disables and deletes its own; never sees another's; is refused internal or
plain-http URLs and event types it can never be entitled to — and a refused request changes
nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.infra.protection import load_kek_ring
from hub.infra.subscriptions import SqlSubscriptionRepository, SubscriptionSecrets
from hub.infra.webhooks import DnsResolver
from hub.services.subscriptions import SubscriptionService, entitled_event_types
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

pytestmark = pytest.mark.asyncio

SOCIAL_WORK = "sw-glasgow-city"
HOUSING = "housing-glasgow-city"
MANAGE = "subscriptions:manage"
LOCAL_URL = "http://127.0.0.1:9/hooks/pph"
PUBLIC_URL = "https://1.1.1.1/hooks/pph"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    """The hub with delivery off (jobs stay pending) and private addresses refused."""
    settings = database.settings.model_copy(
        update={"delivery_enabled": False, "router_poll_interval": 0.05}
    )
    async with running_hub(settings) as running:
        yield running


@pytest_asyncio.fixture
async def local_hub(database: Database) -> AsyncIterator[RunningHub]:
    """As `hub`, with private addresses allowed (development)."""
    settings = database.settings.model_copy(
        update={
            "delivery_enabled": False,
            "router_poll_interval": 0.05,
            "webhook_allow_private_addresses": True,
        }
    )
    async with running_hub(settings) as running:
        yield running


async def outbox(hub: RunningHub) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was: subscriptions and deliveries."""
    async with hub.container.engine.connect() as connection:
        subscriptions = (await connection.execute(sa.text("SELECT * FROM subscriptions"))).all()
        deliveries = (await connection.execute(sa.text("SELECT * FROM deliveries"))).all()
    return (sorted(map(tuple, subscriptions)), sorted(map(tuple, deliveries)))


def assert_problem(answer: Any, status: int, pointer: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["detail"]
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body["errors"]], body
    return body


async def manager(hub: RunningHub, agency: str = SOCIAL_WORK) -> dict[str, str]:
    return bearer(await hub.token(agency, MANAGE))


async def create(
    hub: RunningHub, headers: dict[str, str], url: str = LOCAL_URL, **fields: Any
) -> dict[str, Any]:
    answer = await hub.http.post("/v1/subscriptions", json={"url": url, **fields}, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_a_recipient_manages_its_subscription(local_hub: RunningHub) -> None:
    hub = local_hub
    headers = await manager(hub)
    created = await create(
        hub, headers, event_types=["release.schedule1-notification", "licence.recall"]
    )
    assert created["secret"].startswith("whsec_")
    assert created["recipient_id"] == SOCIAL_WORK
    assert created["status"] == "active"
    assert created["format"] == "json"
    assert created["event_types"] == ["licence.recall", "release.schedule1-notification"]
    assert created["signing_secrets"] == 1
    sid = created["id"]

    listed = await hub.http.get("/v1/subscriptions", headers=headers)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["subscriptions"]] == [sid]
    one = await hub.http.get(f"/v1/subscriptions/{sid}", headers=headers)
    assert one.status_code == 200
    for answer in (listed, one):
        assert "whsec_" not in answer.text
        assert "secret" not in answer.json().get("id", "")
    assert "secret" not in one.json()

    changed = await hub.http.patch(
        f"/v1/subscriptions/{sid}",
        json={"url": "http://127.0.0.1:9/other", "event_types": None},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "http://127.0.0.1:9/other"
    assert changed.json()["event_types"] is None
    assert changed.json()["format"] == "json"

    disabled = await hub.http.post(f"/v1/subscriptions/{sid}/disable", headers=headers)
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["status_reason"].startswith("disabled by client")
    enabled = await hub.http.patch(
        f"/v1/subscriptions/{sid}", json={"status": "active"}, headers=headers
    )
    assert enabled.json()["status"] == "active"
    assert enabled.json()["status_reason"] is None

    deleted = await hub.http.delete(f"/v1/subscriptions/{sid}", headers=headers)
    assert deleted.status_code == 204
    again = await hub.http.delete(f"/v1/subscriptions/{sid}", headers=headers)
    assert again.status_code == 204
    kept = await hub.http.get(f"/v1/subscriptions/{sid}", headers=headers)
    assert kept.json()["status"] == "deleted"
    assert kept.json()["signing_secrets"] == 0
    assert (await hub.http.get("/v1/subscriptions", headers=headers)).json()["subscriptions"] == []
    with_deleted = await hub.http.get("/v1/subscriptions?include_deleted=true", headers=headers)
    assert [s["id"] for s in with_deleted.json()["subscriptions"]] == [sid]
    refused = await hub.http.patch(
        f"/v1/subscriptions/{sid}", json={"status": "active"}, headers=headers
    )
    assert_problem(refused, 409)


async def test_rotation_keeps_the_previous_secret_until_dropped(local_hub: RunningHub) -> None:
    hub = local_hub
    headers = await manager(hub)
    created = await create(hub, headers)
    sid = created["id"]
    first = await hub.http.post(f"/v1/subscriptions/{sid}/rotate-secret", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["secret"] != created["secret"]
    assert first.json()["signing_secrets"] == 2
    second = await hub.http.post(f"/v1/subscriptions/{sid}/rotate-secret", headers=headers)
    assert second.json()["signing_secrets"] == 2  # never more than two

    stored = await hub.container.subscriptions.get(SOCIAL_WORK, sid)
    assert stored.secrets == (second.json()["secret"], first.json()["secret"])
    assert "whsec_" not in repr(stored)

    dropped = await hub.http.patch(
        f"/v1/subscriptions/{sid}", json={"drop_previous_secrets": True}, headers=headers
    )
    assert dropped.json()["signing_secrets"] == 1
    stored = await hub.container.subscriptions.get(SOCIAL_WORK, sid)
    assert stored.secrets == (second.json()["secret"],)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://LOCALHOST./hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
    ],
)
async def test_internal_addresses_are_refused(hub: RunningHub, url: str) -> None:
    headers = await manager(hub)
    before = await outbox(hub)
    answer = await hub.http.post("/v1/subscriptions", json={"url": url}, headers=headers)
    body = assert_problem(answer, 422, "/url")
    assert body["type"] == "urn:pph:problem:invalid-request"
    assert await outbox(hub) == before


async def test_a_name_that_does_not_resolve_is_refused(hub: RunningHub) -> None:
    headers = await manager(hub)
    before = await outbox(hub)
    answer = await hub.http.post(
        "/v1/subscriptions", json={"url": "https://no-such-host.invalid/hook"}, headers=headers
    )
    body = assert_problem(answer, 422, "/url")
    assert "does not resolve" in body["detail"]
    assert await outbox(hub) == before


async def test_a_public_address_is_accepted_and_private_ones_only_when_allowed(
    hub: RunningHub, local_hub: RunningHub
) -> None:
    await create(hub, await manager(hub), PUBLIC_URL)
    await create(local_hub, await manager(local_hub), "http://127.0.0.1:8080/hook")
    await create(local_hub, await manager(local_hub), "http://localhost:8080/hook")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"url": "ftp://1.1.1.1/hook"}, "/url"),
        ({"url": "/relative/hook"}, "/url"),
        ({"url": "https://user:pass@1.1.1.1/hook"}, "/url"),
        ({"url": "https://1.1.1.1/hook#part"}, "/url"),
        ({"url": "https://1.1.1.1/" + "a" * 2100}, "/url"),
        ({"url": PUBLIC_URL, "format": "xml"}, "/format"),
        ({"url": PUBLIC_URL, "event_types": []}, "/event_types"),
        ({"url": PUBLIC_URL, "event_types": ["no.such-type"]}, "/event_types/0"),
        ({"url": PUBLIC_URL, "colour": "blue"}, "/colour"),
        ({"event_types": None}, "/url"),
        ({"url": 7}, "/url"),
    ],
)
async def test_invalid_subscriptions_are_refused_and_change_nothing(
    hub: RunningHub, body: dict[str, Any], pointer: str
) -> None:
    headers = await manager(hub)
    await create(hub, headers, PUBLIC_URL)
    before = await outbox(hub)
    answer = await hub.http.post("/v1/subscriptions", json=body, headers=headers)
    assert_problem(answer, 422, pointer)
    assert await outbox(hub) == before


async def test_an_event_type_outside_the_entitlement_is_refused_by_name(hub: RunningHub) -> None:
    entitled = entitled_event_types(hub.container.policy, HOUSING)
    assert entitled is not None
    assert "release.schedule1-notification" in entitled
    assert "health.information-shared" not in entitled
    headers = await manager(hub, HOUSING)
    before = await outbox(hub)
    answer = await hub.http.post(
        "/v1/subscriptions",
        json={
            "url": PUBLIC_URL,
            "event_types": ["release.schedule1-notification", "health.information-shared"],
        },
        headers=headers,
    )
    body = assert_problem(answer, 422, "/event_types/1")
    assert "health.information-shared" in body["detail"]
    assert [e["pointer"] for e in body["errors"]] == ["/event_types/1"]
    assert await outbox(hub) == before

    created = await create(hub, headers, PUBLIC_URL, event_types=["release.schedule1-notification"])
    before = await outbox(hub)
    widened = await hub.http.patch(
        f"/v1/subscriptions/{created['id']}",
        json={"event_types": ["health.information-shared"]},
        headers=headers,
    )
    assert_problem(widened, 422, "/event_types/0")
    assert await outbox(hub) == before


async def test_an_agency_outside_the_directory_cannot_subscribe(hub: RunningHub) -> None:
    headers = await manager(hub, "not-a-recipient")
    answer = await hub.http.post("/v1/subscriptions", json={"url": PUBLIC_URL}, headers=headers)
    assert_problem(answer, 403)


async def test_plain_http_is_refused_in_production(database: Database) -> None:
    production = SubscriptionService(
        SqlSubscriptionRepository(
            database.engine, SubscriptionSecrets(load_kek_ring(database.settings))
        ),
        DnsResolver(),
        lambda recipient: frozenset({"release.schedule1-notification"}),
        require_https=True,
        allow_private=False,
    )
    with pytest.raises(Exception, match="must use https") as refused:
        await production.create(SOCIAL_WORK, url="http://1.1.1.1/hook")
    assert type(refused.value).__name__ == "InvalidRequest"
    assert await production.list_for(SOCIAL_WORK) == []
    created, _ = await production.create(SOCIAL_WORK, url=PUBLIC_URL)
    assert created.url == PUBLIC_URL


async def test_other_recipients_subscriptions_are_invisible(local_hub: RunningHub) -> None:
    hub = local_hub
    owner = await manager(hub)
    stranger = await manager(hub, HOUSING)
    sid = (await create(hub, owner))["id"]
    before = await outbox(hub)
    assert (await hub.http.get("/v1/subscriptions", headers=stranger)).json() == {
        "subscriptions": []
    }
    for method, path, body in [
        ("GET", f"/v1/subscriptions/{sid}", None),
        ("PATCH", f"/v1/subscriptions/{sid}", {"url": "http://127.0.0.1:9/mine"}),
        ("DELETE", f"/v1/subscriptions/{sid}", None),
        ("POST", f"/v1/subscriptions/{sid}/disable", None),
        ("POST", f"/v1/subscriptions/{sid}/rotate-secret", None),
    ]:
        answer = await hub.http.request(method, path, json=body, headers=stranger)
        assert_problem(answer, 404)
    missing = await hub.http.get("/v1/subscriptions/sub_nothing", headers=owner)
    assert_problem(missing, 404)
    assert await outbox(hub) == before


async def test_the_scope_is_required(local_hub: RunningHub) -> None:
    hub = local_hub
    reader = bearer(await hub.token(SOCIAL_WORK, "feed:read"))
    answer = await hub.http.post("/v1/subscriptions", json={"url": LOCAL_URL}, headers=reader)
    assert_problem(answer, 403)
    assert_problem(await hub.http.get("/v1/subscriptions"), 401)


async def test_deleting_or_disabling_cancels_pending_deliveries(local_hub: RunningHub) -> None:
    hub = local_hub
    owner = await manager(hub)
    first = (await create(hub, owner))["id"]
    second = (await create(hub, owner))["id"]
    sps = bearer(await hub.token("sps", "events:publish"))
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    assert (await hub.http.post("/v1/events", json=notification, headers=sps)).status_code == 201
    await hub.container.router().run_until_idle()
    queued = await hub.container.deliveries.find(SOCIAL_WORK, status="pending")
    assert sorted(d.subscription_id for d in queued) == sorted([first, second])

    assert (await hub.http.delete(f"/v1/subscriptions/{first}", headers=owner)).status_code == 204
    assert (
        await hub.http.post(f"/v1/subscriptions/{second}/disable", headers=owner)
    ).status_code == 200
    after = {d.subscription_id: d for d in await hub.container.deliveries.find(SOCIAL_WORK)}
    assert after[first].status == "cancelled"
    assert after[first].last_error == "deleted by the recipient"
    assert after[second].status == "cancelled"
    assert after[second].last_error is not None
    assert after[second].last_error.startswith("disabled by client")
