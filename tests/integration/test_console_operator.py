"""The operator's console pages over real HTTP, on both backends, signed in through the real
Keycloak: the registered clients, each agency's subscriptions (the receiver's host, never its
path or query) and the policy bundle in force; the dead deliveries (ids, recipient, attempts,
the kind of the last error, never the notification) and a replay through the API's own service
with the page's CSRF token. Bad input gets a clear message and replays nothing; only the
operator role gets in."""

# The `keycloak` fixture is imported by name; each test's parameter of that name is the fixture,
# not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.api.app import create_app
from hub.domain.audit.entries import AuditEntry
from hub.infra import tables
from hub.services.client_admin import Operator
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer
from tests.integration.console.hub_browser import CONSOLE_URL, ConsoleBrowser
from tests.integration.test_console_dpo import (
    GLASGOW_NAME,
    GLASGOW_SW,
    a_person_told_to_glasgow,
    signed_in,
)
from tests.integration.test_console_dpo import Console as DpoConsole
from tests.integration.webhook_receiver import Receiver, running_receiver
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
    provider_browser,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

#: A path and query a receiver may use as a bearer secret: never on the operator's page.
HOOK_PATH = "/hooks/glasgow"
HOOK_QUERY = "token=s3cret-in-the-url"


@dataclass
class Operated:
    console: DpoConsole
    receiver: Receiver


@pytest_asyncio.fixture
async def operated(database: Database, keycloak: KeycloakUnderTest) -> AsyncIterator[Operated]:
    settings: Settings = database.settings.model_copy(
        update={
            "router_poll_interval": 0.05,
            # The test runs the delivery worker itself; one failed attempt makes a job dead.
            "delivery_enabled": False,
            "webhook_retry_schedule": (),
            "webhook_allow_private_addresses": True,
            "webhook_timeout_seconds": 5.0,
            **keycloak.hub_settings,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), running_receiver() as receiver:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as http,
            provider_browser() as provider,
        ):
            console = DpoConsole(
                ConsoleBrowser(http, provider),
                RunningHub(http, app.state.container),
                keycloak.issuer,
            )
            yield Operated(console, receiver)


async def subscribed(operated: Operated) -> str:
    """Glasgow social work subscribes a webhook at the test receiver; its id."""
    hub = operated.console.hub
    headers = bearer(await hub.token(GLASGOW_SW, "subscriptions:manage"))
    url = f"{operated.receiver.url(HOOK_PATH)}?{HOOK_QUERY}"
    answer = await hub.http.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": ["release.schedule1-notification"]},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    subscription_id: str = answer.json()["id"]
    return subscription_id


async def a_dead_delivery(operated: Operated) -> tuple[str, dict[str, str]]:
    """A disclosure to Glasgow whose one attempt the receiver answers 503: dead. Its delivery
    id and the person's identifiers."""
    operated.receiver.answer(HOOK_PATH, 503)
    await subscribed(operated)
    identifiers = await a_person_told_to_glasgow(operated.console.hub)
    container = operated.console.hub.container
    await container.delivery_worker().run_until_idle()
    (dead,) = await container.deliveries.find(None, status="dead")
    assert dead.last_error is not None
    assert dead.last_error.startswith("HTTP 503")
    return dead.delivery_id, identifiers


async def status_of(operated: Operated, delivery_id: str) -> str:
    delivery, _ = await operated.console.hub.container.deliveries.get(None, delivery_id)
    return delivery.status


async def test_an_operator_sees_the_clients_subscriptions_and_bundle_in_force(
    operated: Operated, keycloak: KeycloakUnderTest
) -> None:
    console = operated.console
    subscription_id = await subscribed(operated)
    container = console.hub.container
    [manager] = await container.client_administration().list_clients(agency=GLASGOW_SW)

    await signed_in(console, keycloak, "operator")
    home = (await console.browser.get("/")).text
    assert 'id="operator-overview"' in home
    assert 'id="operator-deliveries"' in home
    shown = await console.browser.get("/console/operator")
    assert shown.status_code == 200, shown.text
    page = shown.text

    policy = container.policy
    assert f'<dd id="bundle-name">{policy.name}</dd>' in page
    assert f'<code id="bundle-version">{policy.version}</code>' in page
    assert f'<dd id="bundle-rules">{len(policy.rules)}</dd>' in page
    assert len(policy.rules) > 0

    row = re.search(rf'<tr id="client-{manager.client_id}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, page
    assert manager.name in row.group(1)
    assert GLASGOW_NAME in row.group(1)
    assert "<code>subscriptions:manage</code>" in row.group(1)
    assert "Enabled" in row.group(1)
    assert "Client secret" in row.group(1)
    assert manager.secret_hash not in page

    sub = re.search(rf'<tr id="subscription-{subscription_id}">(.*?)</tr>', page, re.DOTALL)
    assert sub is not None, page
    assert f"<code>127.0.0.1:{operated.receiver.port}</code>" in sub.group(1)
    assert "<code>release.schedule1-notification</code>" in sub.group(1)
    assert "active" in sub.group(1)
    # The receiver's host only: a path or query may carry a secret.
    assert HOOK_PATH not in page
    assert HOOK_QUERY not in page

    # A disabled client shows as disabled, with when.
    await container.client_administration().update(
        manager.client_id, enabled=False, by=Operator("cli:test", "hub-operator")
    )
    again = (await console.browser.get("/console/operator")).text
    row = re.search(rf'<tr id="client-{manager.client_id}">(.*?)</tr>', again, re.DOTALL)
    assert row is not None
    assert "Disabled" in row.group(1)
    assert re.search(r"<td>\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC</td>\s*</tr>", row.group(0))


async def test_a_dead_delivery_is_listed_without_its_notification_and_replayed(
    operated: Operated, keycloak: KeycloakUnderTest
) -> None:
    console = operated.console
    delivery_id, identifiers = await a_dead_delivery(operated)
    csrf = await signed_in(console, keycloak, "operator")

    listed = await console.browser.get("/console/operator/deliveries")
    assert listed.status_code == 200, listed.text
    row = re.search(rf'<tr id="dead-{delivery_id}">(.*?)</tr>', listed.text, re.DOTALL)
    assert row is not None, listed.text
    assert GLASGOW_NAME in row.group(1)
    assert "<td><code>release.schedule1-notification</code></td>" in row.group(1)
    assert "<td>HTTP 503</td>" in row.group(1)
    assert "<td>1</td>" in row.group(1)  # one attempt
    # Ids, recipient, attempts: never the person the notification is about.
    for value in identifiers.values():
        assert value not in listed.text

    # A forged form, no id, an unknown id: a clear answer each time, nothing replayed.
    forged = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": delivery_id, "csrf_token": "not-the-token"},
    )
    assert forged.status_code == 403
    assert "Nothing was replayed" in forged.text
    empty = await console.browser.post(
        "/console/operator/deliveries/replay", data={"delivery_id": " ", "csrf_token": csrf}
    )
    assert empty.status_code == 400
    assert "Give the id of the delivery to replay" in empty.text
    unknown = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": "no-such-delivery", "csrf_token": csrf},
    )
    assert unknown.status_code == 404
    assert "there is no delivery no-such-delivery" in unknown.text
    assert await status_of(operated, delivery_id) == "dead"
    assert len(operated.receiver.at(HOOK_PATH)) == 1

    # The replay: pending again at once, then sent with the same webhook-id.
    operated.receiver.answer(HOOK_PATH, 200)
    replayed = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": delivery_id, "csrf_token": csrf},
    )
    assert replayed.status_code == 200, replayed.text
    assert f'<code id="replayed-id">{delivery_id}</code>' in replayed.text
    assert f'id="dead-{delivery_id}"' not in replayed.text
    assert 'id="no-dead"' in replayed.text
    assert await status_of(operated, delivery_id) == "pending"
    # In the audit trail under the signed-in operator's name (and only the accepted replay).
    async with console.hub.container.engine.connect() as connection:
        logged = [
            AuditEntry.from_canonical(text.encode())
            for text in (
                await connection.execute(
                    sa.select(tables.audit_entries.c.entry).where(
                        tables.audit_entries.c.kind == "delivery"
                    )
                )
            ).scalars()
        ]
    (asked,) = [e for e in logged if e.state == "replayed"]
    assert asked.actor.startswith("console:"), asked.actor
    assert "(Omar Reid)" in asked.actor, asked.actor
    assert asked.details["delivery_id"] == delivery_id
    await console.hub.container.delivery_worker().run_until_idle()
    assert await status_of(operated, delivery_id) == "delivered"
    first, second = operated.receiver.at(HOOK_PATH)
    assert first.webhook_id == second.webhook_id

    # A delivered one is not replayed again; the page says why.
    again = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": delivery_id, "csrf_token": csrf},
    )
    assert again.status_code == 409
    assert "only dead or cancelled deliveries are replayed" in again.text
    assert len(operated.receiver.at(HOOK_PATH)) == 2


async def test_only_the_operator_role_gets_in(
    operated: Operated, keycloak: KeycloakUnderTest
) -> None:
    console = operated.console
    delivery_id, _ = await a_dead_delivery(operated)
    pages = ("/console/operator", "/console/operator/deliveries")
    for path in pages:
        assert (await console.browser.get(path)).status_code == 303  # to sign in

    for username in ("dpo", "coordinator-lanarkshire"):
        csrf = await signed_in(console, keycloak, username)
        assert 'id="operator-overview"' not in (await console.browser.get("/")).text
        for path in pages:
            refused = await console.browser.get(path)
            assert refused.status_code == 403, (username, path)
            assert "You cannot see this page" in refused.text
            assert "Operator" in refused.text
            assert GLASGOW_NAME not in refused.text
        replay = await console.browser.post(
            "/console/operator/deliveries/replay",
            data={"delivery_id": delivery_id, "csrf_token": csrf},
        )
        assert replay.status_code == 403
        assert await status_of(operated, delivery_id) == "dead"
