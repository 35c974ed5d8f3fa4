"""A MAPPA co-ordinator in a real Chromium, signed in through Keycloak's real login page to a
real `hub serve` whose bundle holds Schedule 1 release notices to social work for the MAPPA
co-ordinator's review: opens their region's dashboard and sees the region's agencies' figures,
is told why when opening the overdue list without a purpose, opens it with one, then approves
the proposal waiting in their review queue with a reason; the decision is in the review list
under their name. Every page passes axe-core."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.integration.api_helpers import example
from tests.integration.test_console_mappa import reviewed_bundle
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

REGION = "mappa-lanarkshire"
PURPOSE = "MAPPA oversight: weekly review of overdue acknowledgements"


@pytest.fixture
def reviewing_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:
    hub = console_hub_process(keycloak, tmp_path, router=True)
    hub.env["HUB_POLICY_BUNDLE_DIR"] = str(reviewed_bundle(tmp_path))
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def _reviews(hub: HubProcess, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{hub.url}/v1/reviews", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["reviews"]
    return found


def a_release_to_north_lanarkshire(hub: HubProcess, reviewer: str) -> dict[str, Any]:
    """Pushes a Schedule 1 release notice with an address in North Lanarkshire and waits until
    its proposal to social work is in the region's review list; the proposal."""
    sps = hub.token(hub.register("sps", "events:publish"))
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(7_000_000 + uuid.uuid4().int % 1_000_000)}
    notification["data"]["release"]["address"]["council_area"] = "S12000050"
    answer = httpx.post(
        f"{hub.url}/v1/events",
        json=notification,
        headers={"Authorization": f"Bearer {sps}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if found := _reviews(hub, reviewer):
            return found[0]
        time.sleep(0.2)
    raise AssertionError("the router never proposed the disclosure for review")


def test_a_co_ordinator_oversees_their_region_and_approves_a_proposal(
    chromium: Browser, reviewing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = reviewing_hub
    reviewer = hub.token(hub.register(REGION, "reviews:decide"))
    proposal = a_release_to_north_lanarkshire(hub, reviewer)
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "coordinator-lanarkshire")
        began = time.monotonic()
        page.get_by_role("link", name=f"Oversight dashboard: {REGION}").click()

        figures = page.get_by_role("table", name="Per agency and notification type")
        expect(figures).to_be_visible()
        print(f"MAPPA dashboard: shown in {time.monotonic() - began:.2f} s")
        expect(figures).to_contain_text("Police Scotland Q Division (Lanarkshire)")
        expect(figures).to_contain_text("release.schedule1-notification")
        screenshot(page, "mappa-dashboard")
        assert_accessible(page)

        page.get_by_role("button", name="Open the overdue list").click()
        expect(page.get_by_role("alert")).to_contain_text("Say why you are looking")
        assert_accessible(page)
        page.get_by_label("Why you are opening the overdue list").fill(PURPOSE)
        page.get_by_role("button", name="Open the overdue list").click()
        expect(page.get_by_role("heading", name="Overdue acknowledgements")).to_be_visible()
        expect(page.locator("#purpose-read")).to_have_text(PURPOSE)
        assert_accessible(page)

        page.get_by_role("link", name="Back to the dashboard").click()
        page.get_by_role("link", name="Proposed disclosures awaiting your review").click()
        card = page.locator(f"#proposal-{proposal['proposal_id']}")
        expect(card).to_contain_text("release.schedule1-notification to")
        screenshot(page, "mappa-reviews")
        assert_accessible(page)
        # No reason: told why, nothing decided. SGDS draws the radio on its label, as a person
        # clicks it.
        approve = f'label[for="approve-{proposal["proposal_id"]}"]'
        card.locator(approve).click()
        card.get_by_role("button", name="Record the decision").click()
        expect(page.get_by_role("alert")).to_contain_text("A review decision needs a reason")
        assert_accessible(page)
        card = page.locator(f"#proposal-{proposal['proposal_id']}")
        card.locator(approve).click()
        card.get_by_label("Reason").fill("address checked at the MAPPA meeting")
        card.get_by_role("button", name="Record the decision").click()
        expect(page.locator("#decided")).to_contain_text("approved")
        assert_accessible(page)
    finally:
        context.close()

    [decided] = _reviews(hub, reviewer)
    assert decided["state"] == "approved"
    assert decided["decided_by"].endswith("(Lewis Baird)")
    assert decided["reason"] == "address checked at the MAPPA meeting"
