"""An overdue acknowledgement appears on the MAPPA co-ordinator's overdue list after its
deadline, in a real Chromium signed in through Keycloak's real login page (issue 16 item 5): a
real `hub serve` routes, delivers and runs the overdue monitor every second, with a bundle whose
Schedule 1 release notices to social work must be acknowledged within a minute (the shortest
time a bundle can say). Before the deadline the list is empty; after it, the co-ordinator sees
the disclosure, and its details."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from hub.settings import PROJECT_ROOT
from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_hub_process,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.integration.api_helpers import example
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

REGION = "mappa-lanarkshire"
NORTH_LANARKSHIRE = "S12000050"
RULE = "schedule1-release-to-social-work"
PURPOSE = "MAPPA oversight: overdue acknowledgements this morning"
#: The rule's time to acknowledge in the test bundle, and how long the test waits past it.
DEADLINE_SECONDS = 60
PATIENCE_SECONDS = 120


def bundle_acknowledged_within_a_minute(tmp_path: Path) -> Path:
    """The Scotland bundle with the release rule to social work due in a minute, not two days."""
    bundle = tmp_path / "bundle"
    shutil.copytree(PROJECT_ROOT / "policies" / "scotland", bundle)
    rules = bundle / "rules" / "release.yaml"
    text = rules.read_text()
    start = text.index(f"id: {RULE}")
    two_days = "    acknowledge_within: 2d\n"
    due = text.index(two_days, start)
    assert due < text.index("  - id: ", start + 1), "the rule's own deadline"
    rules.write_text(text[:due] + "    acknowledge_within: 1m\n" + text[due + len(two_days) :])
    return bundle


@pytest.fixture
def monitored_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:
    hub = console_hub_process(keycloak, tmp_path, router=True)
    hub.env.update(
        {
            # The overdue monitor runs beside the delivery worker.
            "HUB_DELIVERY_ENABLED": "true",
            "HUB_OVERDUE_CHECK_INTERVAL": "1",
            "HUB_POLICY_BUNDLE_DIR": str(bundle_acknowledged_within_a_minute(tmp_path)),
        }
    )
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def a_release_told_to_north_lanarkshire(hub: HubProcess) -> float:
    """Pushes a Schedule 1 release to North Lanarkshire and waits until its disclosure to
    social work is decided; the monotonic time it was (the deadline runs from about then)."""
    sps = hub.token(hub.register("sps", "events:publish"))
    auditor = hub.token(hub.register("hub-dpo", "audit:read"))
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    sps_number = str(7_000_000 + uuid.uuid4().int % 1_000_000)
    notification["identifiers"] = {"sps_number": sps_number}
    notification["data"]["release"]["address"]["council_area"] = NORTH_LANARKSHIRE
    pushed_at = time.monotonic()
    answer = httpx.post(
        f"{hub.url}/v1/events",
        json=notification,
        headers={"Authorization": f"Bearer {sps}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    while time.monotonic() < pushed_at + 30:
        found = httpx.get(
            f"{hub.url}/v1/audit/disclosures",
            params={"person": f"sps_number:{sps_number}", "limit": "10"},
            headers={"Authorization": f"Bearer {auditor}", "X-Purpose": "browser test check"},
            timeout=10,
        )
        assert found.status_code == 200, found.text
        if any(RULE in e.get("rules", []) for e in found.json()["entries"]):
            return pushed_at
        time.sleep(0.2)
    raise AssertionError("the router never decided the disclosure to social work")


def open_the_overdue_list(page: Page) -> None:
    page.get_by_label("Why you are opening the overdue list").fill(PURPOSE)
    page.get_by_role("button", name="Open the overdue list").click()
    expect(page.get_by_role("heading", name="Overdue acknowledgements")).to_be_visible()


def test_an_overdue_acknowledgement_appears_on_the_dashboard_after_its_deadline(
    chromium: Browser, monitored_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = monitored_hub
    pushed_at = a_release_told_to_north_lanarkshire(hub)
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "coordinator-lanarkshire")
        page.get_by_role("link", name=f"Oversight dashboard: {REGION}").click()

        # Before the deadline: nothing overdue.
        open_the_overdue_list(page)
        looked_at = time.monotonic() - pushed_at
        assert looked_at < DEADLINE_SECONDS, f"the first look came {looked_at:.0f} s late"
        expect(page.locator("#no-overdue")).to_be_visible()
        expect(page.locator("#overdue")).to_have_count(0)

        # After it: the monitor escalates it to the region, and it is on the list.
        while True:
            page.get_by_role("link", name="Back to the dashboard").click()
            open_the_overdue_list(page)
            if page.locator("#overdue").count():
                break
            waited = time.monotonic() - pushed_at
            assert waited < DEADLINE_SECONDS + PATIENCE_SECONDS, "never shown as overdue"
            time.sleep(3)
        shown_after = time.monotonic() - pushed_at
        assert shown_after >= DEADLINE_SECONDS
        print(f"overdue list: the item shown {shown_after:.0f} s after the push (due at 60 s)")
        overdue = page.get_by_role("table", name="Escalated disclosures")
        expect(overdue).to_contain_text("release.schedule1-notification")
        expect(overdue).to_contain_text("North Lanarkshire")
        expect(overdue).to_contain_text("Not acknowledged")
        screenshot(page, "mappa-overdue")
        assert_accessible(page)

        overdue.get_by_role("button", name="Details").first.click()
        expect(page.locator("main")).to_contain_text("release.schedule1-notification")
        assert_accessible(page)
    finally:
        context.close()
