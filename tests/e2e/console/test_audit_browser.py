"""A data protection officer in a real Chromium, signed in through Keycloak's real login page to
a real `hub serve` that has routed a person's notifications: opens the audit status page (the
latest recorded run of `hub audit verify`, run here as the scheduled job runs it) and queries the
disclosures to Glasgow, first without saying why (the form answers), then with a purpose;
axe-core finds nothing serious on any of them, and the query is in the audit trail under the
officer's name."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.e2e.console.test_dpo_browser import GLASGOW_NAME, _audit, a_person_told_to_glasgow
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

QUERY_PURPOSE = "audit of disclosures to Glasgow, Q4 2026"


def test_a_dpo_sees_the_audit_status_and_queries_disclosures(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    auditor = hub.token(hub.register("hub-dpo", "audit:read"))
    a_person_told_to_glasgow(hub, auditor)
    hub.cli("audit", "checkpoint")
    assert hub.cli("audit", "verify").startswith("OK:")
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "dpo")

        page.get_by_role(
            "link", name="See the audit log's latest checkpoint and verification"
        ).click()
        expect(page.get_by_role("heading", name="Audit log status")).to_be_visible()
        expect(page.locator("#verification-result")).to_have_attribute("data-result", "verified")
        expect(page.locator("#verification-result")).to_contain_text("Verified")
        expect(page.locator("#run-by")).to_be_visible()
        screenshot(page, "audit-status")
        assert_accessible(page)

        page.get_by_role("link", name="Back to the console's home page").click()
        page.get_by_role(
            "link", name="Query disclosures by recipient, rule, purpose and period"
        ).click()
        expect(page.get_by_role("heading", name="Disclosure queries")).to_be_visible()
        assert_accessible(page)
        page.get_by_label("Recipient").select_option(label=GLASGOW_NAME)
        page.get_by_role("button", name="Find the disclosures").click()
        expect(page.get_by_role("alert")).to_contain_text("Say why you are looking")
        assert_accessible(page)

        page.get_by_label("Recipient").select_option(label=GLASGOW_NAME)
        page.get_by_label("Why you are making this query").fill(QUERY_PURPOSE)
        page.get_by_role("button", name="Find the disclosures").click()
        results = page.get_by_role("table", name="Disclosure decisions matching the query")
        expect(results).to_be_visible()
        expect(results).to_contain_text(GLASGOW_NAME)
        expect(results).to_contain_text("release.schedule1-notification")
        assert "glasgow" not in page.url
        screenshot(page, "dpo-disclosure-query")
        assert_accessible(page)
    finally:
        context.close()

    consulted = _audit(hub, auditor, "entries", kind="consultation", limit="500")["entries"]
    queries = [c for c in consulted if c["actor"].endswith("(Dana Ogilvie)")]
    assert queries, consulted
    assert {c["purpose"] for c in queries} == {QUERY_PURPOSE}
