"""The MAPPA dashboard's periods and charts in a real Chromium, signed in through Keycloak's real
login page to a real `hub serve` that routes a release notice to North Lanarkshire: the
co-ordinator changes the period (by mouse, then by keyboard alone), sees the figures, trend and
volume tables, and each chart drawn (a canvas under its table) with no Content-Security-Policy
violation; a wrong day is answered on the page. Every page passes axe-core."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from hub.services.latency_periods import UK_TIME
from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.integration.api_helpers import example
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

REGION = "mappa-lanarkshire"
POLICE = "police-division-q"
CHARTS = ("chart-latency", "chart-acknowledgements", "chart-volumes")


def acknowledged_release(hub: HubProcess) -> dict[str, Any]:
    """Pushes a Schedule 1 release notice with an address in North Lanarkshire, waits until the
    Lanarkshire police division's feed holds it, and acknowledges it; the feed item."""
    sps = hub.token(hub.register("sps", "events:publish"))
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(8_000_000 + uuid.uuid4().int % 1_000_000)}
    notification["data"]["release"]["address"]["council_area"] = "S12000050"
    pushed = httpx.post(
        f"{hub.url}/v1/events",
        json=notification,
        headers={"Authorization": f"Bearer {sps}"},
        timeout=10,
    )
    assert pushed.status_code == 201, pushed.text
    police = {"Authorization": f"Bearer {hub.token(hub.register(POLICE, 'feed:read'))}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        feed = httpx.get(f"{hub.url}/v1/feed", headers=police, timeout=10)
        assert feed.status_code == 200, feed.text
        if items := feed.json()["items"]:
            item: dict[str, Any] = items[0]
            acked = httpx.post(
                f"{hub.url}/v1/disclosures/{item['disclosure_id']}/ack", headers=police, timeout=10
            )
            assert acked.status_code == 201, acked.text
            return item
        time.sleep(0.2)
    raise AssertionError("the router never disclosed the release notice to the police")


def test_a_co_ordinator_changes_the_period_and_sees_tables_and_charts(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    item = acknowledged_release(hub)
    this_month = datetime.now(UTC).astimezone(UK_TIME)  # the dashboard's months are Scotland's
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def kept(message: ConsoleMessage) -> None:
        # A page answered 400 is logged as a failed load too: only refusals are kept.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    try:
        page = context.new_page()
        page.on("console", kept)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "coordinator-lanarkshire")
        page.get_by_role("link", name=f"Oversight dashboard: {REGION}").click()

        figures = page.get_by_role("table", name="Per agency and notification type")
        expect(figures).to_contain_text("Police Scotland Q Division (Lanarkshire)")
        row = page.locator(f'[id="row-{POLICE}-{item["event_type"]}"]')
        # Disclosed 1, acknowledged 1, on time 1 (columns 3, 5 and 7).
        expect(row.locator("td").nth(1)).to_have_text("1")
        expect(row.locator("td").nth(3)).to_have_text("1")
        expect(row.locator("td").nth(5)).to_have_text("1")

        # This month: SGDS draws the radio on its label, as a person clicks it.
        began = time.monotonic()
        # (The first choice's radio is `#period`, where the error summary points.)
        page.locator('label[for="period"]').click()
        page.get_by_role("button", name="Show the figures").click()
        expect(page).to_have_url(re.compile(r"period=this-month"))
        expect(page.locator("#period-label")).to_contain_text(f"{this_month:%B %Y}")
        expect(figures).to_contain_text("Police Scotland Q Division (Lanarkshire)")
        trends = page.get_by_role("table", name="Per month")
        # This month's trend counts what the period's table counts for every agency.
        disclosed = page.locator("#row-total td").nth(1).inner_text()
        assert int(disclosed) >= 1
        expect(trends.locator(f"#month-{this_month:%Y-%m} td").first).to_have_text(disclosed)
        volumes = page.get_by_role("table", name="Disclosures per month and notification type")
        expect(volumes).to_contain_text(item["event_type"])
        # Each chart is drawn: uPlot's canvas inside the chart's element.
        for chart in CHARTS:
            expect(page.locator(f"#{chart} canvas")).to_have_count(1)
        print(f"MAPPA dashboard, this month, charts drawn in {time.monotonic() - began:.2f} s")
        screenshot(page, "mappa-trends")
        assert_accessible(page)

        # Last month, by keyboard alone: from the checked radio, the arrow key chooses the next
        # and Enter sends the form. Nothing was decided then; the trends are still drawn.
        page.locator("#period").focus()
        page.keyboard.press("ArrowDown")
        expect(page.locator("#period-last-month")).to_be_checked()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"period=last-month"))
        expect(page.locator("#no-figures")).to_be_visible()
        expect(page.locator("#chart-volumes canvas")).to_have_count(1)
        assert_accessible(page)

        # Chosen days, the last one wrong: told which, nothing shown.
        page.locator('label[for="period-custom"]').click()
        page.get_by_label("From (chosen days)").fill("2026-01-01")
        page.get_by_label("To (chosen days)").fill("31/12/2026")
        page.get_by_role("button", name="Show the figures").click()
        expect(page.get_by_role("alert")).to_contain_text("The last day must be a date")
        expect(page.locator("#nothing-read")).to_be_visible()
        expect(page.locator("canvas")).to_have_count(0)
        assert_accessible(page)
        page.get_by_label("To (chosen days)").fill(f"{this_month:%Y-%m-%d}")
        page.get_by_role("button", name="Show the figures").click()
        expect(figures).to_contain_text("Police Scotland Q Division (Lanarkshire)")
        expect(page.locator("#chart-latency canvas")).to_have_count(1)
    finally:
        context.close()
    assert problems == [], problems
