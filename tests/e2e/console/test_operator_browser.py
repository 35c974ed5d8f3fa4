"""An operator in a real Chromium, signed in through Keycloak's real login page to a real
`hub serve` that routes and delivers: sees the registered clients, Glasgow's subscription (its
receiver's host only) and the policy bundle in force, then the dead delivery to Glasgow (whose
receiver is down) and replays it; axe-core finds nothing serious on any of the pages."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_hub_process,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.e2e.console.test_dpo_browser import GLASGOW_NAME, a_person_told_to_glasgow
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

GLASGOW_SW = "sw-glasgow-city"


def closed_port() -> int:
    """A local port nothing listens on: every webhook to it fails to connect."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def delivering_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:
    hub = console_hub_process(keycloak, tmp_path, router=True)
    # One attempt per job, to a receiver on this machine: a failure makes the job dead at once.
    hub.env.update(
        {
            "HUB_DELIVERY_ENABLED": "true",
            "HUB_WEBHOOK_RETRY_SCHEDULE": "[]",
            "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        }
    )
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def dead_delivery_to_glasgow(hub: HubProcess) -> str:
    """Glasgow subscribes a receiver that is down; a release is told to Glasgow; the delivery's
    id once it is dead."""
    manager = {
        "Authorization": f"Bearer {hub.token(hub.register(GLASGOW_SW, 'subscriptions:manage'))}"
    }
    answer = httpx.post(
        f"{hub.url}/v1/subscriptions",
        json={"url": f"http://127.0.0.1:{closed_port()}/hooks?token=s3cret"},
        headers=manager,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    a_person_told_to_glasgow(hub, hub.token(hub.register("hub-dpo", "audit:read")))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = httpx.get(
            f"{hub.url}/v1/deliveries", params={"status": "dead"}, headers=manager, timeout=10
        )
        dead = listed.json()["deliveries"]
        if dead:
            delivery_id: str = dead[0]["id"]
            return delivery_id
        time.sleep(0.2)
    raise AssertionError("the delivery to Glasgow never became dead")


def test_an_operator_sees_clients_subscriptions_and_replays_a_dead_delivery(
    chromium: Browser, delivering_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = delivering_hub
    delivery_id = dead_delivery_to_glasgow(hub)
    context = chromium.new_context()
    try:
        page = context.new_page()
        # Nothing the pages do may be refused by their Content-Security-Policy (htmx's
        # configuration: no inline styles, no eval).
        refused_by_policy: list[str] = []
        page.on(
            "console",
            lambda message: (
                refused_by_policy.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "operator")

        page.get_by_role(
            "link", name="API clients, webhook subscriptions and the policy bundle in force"
        ).click()
        expect(
            page.get_by_role("heading", name="Clients, subscriptions and policy")
        ).to_be_visible()
        clients = page.locator("#clients")
        expect(clients).to_contain_text("e2e sw-glasgow-city")
        expect(clients).to_contain_text("subscriptions:manage")
        subscriptions = page.locator("#subscriptions")
        expect(subscriptions).to_contain_text(GLASGOW_NAME)
        expect(subscriptions).to_contain_text("127.0.0.1")
        assert "s3cret" not in page.content()
        assert int(page.locator("#bundle-rules").inner_text()) > 0
        screenshot(page, "operator-overview")
        assert_accessible(page)

        page.get_by_role("link", name="Dead deliveries, and replaying one").click()
        expect(page.get_by_role("heading", name="Dead deliveries")).to_be_visible()
        row = page.locator(f"#dead-{delivery_id}")
        expect(row).to_contain_text(GLASGOW_NAME)
        expect(row).to_contain_text("release.schedule1-notification")
        screenshot(page, "operator-dead-deliveries")
        assert_accessible(page)

        # The replay replaces just the list (htmx): the page is not loaded again, so what a
        # script left on `window` survives, and the focus moves to what the replay did.
        page.evaluate("window.pphNotReloaded = true")
        page.get_by_role("button", name=f"Replay delivery {delivery_id}").click()
        expect(page.locator("#replay-done")).to_contain_text(delivery_id)
        assert page.evaluate("window.pphNotReloaded === true")
        expect(page.locator("#replay-done")).to_be_focused()
        expect(page.locator(f"#dead-{delivery_id}")).to_have_count(0)
        assert_accessible(page)
        assert not refused_by_policy, refused_by_policy
    finally:
        context.close()
