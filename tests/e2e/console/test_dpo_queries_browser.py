"""A data protection officer's disclosure query in a real Chromium, signed in through Keycloak's
real login page, against a real `hub serve` that has routed more disclosures than one page holds:
the first page comes with the whole page; "Next page of disclosures" replaces only the results
(htmx, under the pages' strict Content-Security-Policy: the page is not loaded again, the query
form keeps what was typed), shows the rows after the first page's and moves the focus to them;
each page is a query in the audit trail under the officer's name and purpose."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.e2e.console.test_dpo_browser import _audit, a_person_told_to_glasgow
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

PURPOSE = "audit of disclosures, browser test of the next page"
#: hub.api.console.query_pages.PAGE_SIZE: the rows one page shows.
PAGE_SIZE = 25


def result_rows(page: Page) -> list[str]:
    return [
        " | ".join(row.split("\t")) for row in page.locator("#results tbody tr").all_inner_texts()
    ]


def test_a_dpo_pages_through_disclosures_without_the_page_reloading(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    auditor = hub.token(hub.register("hub-dpo", "audit:read"))
    # Enough people routed for more than one page of disclosures.
    while len(_audit(hub, auditor, "disclosures", limit=str(PAGE_SIZE + 1))["entries"]) <= (
        PAGE_SIZE
    ):
        a_person_told_to_glasgow(hub, auditor)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    refused_by_policy: list[str] = []

    def kept(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused_by_policy.append(message.text)

    try:
        page = context.new_page()
        page.on("console", kept)
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "dpo")
        page.get_by_role(
            "link", name="Query disclosures by recipient, rule, purpose and period"
        ).click()
        expect(page.get_by_role("heading", name="Disclosure queries")).to_be_visible()

        page.get_by_label("Why you are making this query").fill(PURPOSE)
        page.get_by_role("button", name="Find the disclosures").click()
        expect(page.locator("#results")).to_be_visible()
        first = result_rows(page)
        assert len(first) == PAGE_SIZE
        assert_accessible(page)
        screenshot(page, "dpo-disclosures-first-page")

        # The next page replaces the results alone: what a script left on `window` survives,
        # the form keeps its purpose, and the focus moves to the new results.
        page.evaluate("window.pphNotReloaded = true")
        after = int(page.locator('input[name="after"]').input_value())
        page.get_by_role("button", name="Next page of disclosures").click()
        expect(page.locator("#results caption")).to_contain_text("(continued)")
        assert page.evaluate("window.pphNotReloaded === true")
        expect(page.locator("#results-heading")).to_be_focused()
        expect(page.get_by_label("Why you are making this query")).to_have_value(PURPOSE)
        second = result_rows(page)
        assert 0 < len(second) <= PAGE_SIZE
        assert second != first
        # Another page after this one starts after its rows, not again after the first page's.
        if page.locator('input[name="after"]').count():
            assert int(page.locator('input[name="after"]').input_value()) > after
        assert_accessible(page)
        screenshot(page, "dpo-disclosures-next-page")
        assert not refused_by_policy, refused_by_policy
    finally:
        context.close()

    # Both pages are queries in the trail, by the officer, for the purpose given.
    consulted = _audit(hub, auditor, "entries", kind="consultation", limit="200")["entries"]
    queries = [c for c in consulted if c["actor"].endswith("(Dana Ogilvie)")]
    queries = [c for c in queries if c["purpose"] == PURPOSE]
    assert len(queries) >= 2, consulted
