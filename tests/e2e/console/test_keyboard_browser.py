"""A data protection officer who uses only the keyboard, in a real Chromium: signs in at
Keycloak's real login page, finds a person, opens their history, restricts their subject access
report and lifts the restriction, and signs out, with Tab, Shift+Tab, Enter, Space and the arrow
keys alone; the skip link is the first stop on the page, and the focus is visible at every stop
(issue 16: keyboard-only journeys work)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import assert_accessible, console_url
from tests.e2e.console.keyboard import choose_with_arrows, focus_is_visible, focused, tab_to
from tests.e2e.console.test_dpo_browser import GLASGOW_NAME, PURPOSE, a_person_told_to_glasgow
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]


def test_a_dpo_does_the_whole_journey_with_the_keyboard_alone(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    sps_number = a_person_told_to_glasgow(hub, hub.token(hub.register("hub-dpo", "audit:read")))
    user = keycloak.users["dpo"]
    context = chromium.new_context()
    try:
        page = context.new_page()
        keys = page.keyboard
        page.goto(console_url(hub))

        # The skip link is the first stop, and visible when focused; it leads to the content.
        keys.press("Tab")
        skip = page.get_by_role("link", name="Skip to main content")
        assert focused(page, skip)
        assert focus_is_visible(page)
        expect(skip).to_be_in_viewport()
        keys.press("Enter")
        sign_in = page.get_by_role("link", name="Sign in with your agency account")
        assert tab_to(page, sign_in) == 1  # the next stop is in the main content
        keys.press("Enter")

        # Keycloak's own page: the username field has the focus.
        expect(page.get_by_label("Username")).to_be_focused()
        keys.type(user.username)
        tab_to(page, page.get_by_label("Password", exact=True))
        keys.type(user.password)
        keys.press("Enter")

        expect(page.locator("#person-name")).to_have_text("Dana Ogilvie")
        keys.press("Tab")
        assert focused(page, page.get_by_role("link", name="Skip to main content"))
        tab_to(page, page.get_by_role("link", name="Find a person and see their history"))
        keys.press("Enter")

        # The search: the kind chosen with the arrow keys, the rest typed, Enter sends it.
        expect(page.get_by_role("heading", name="Find a person")).to_be_visible()
        scheme = page.get_by_label("Kind of identifier")
        tab_to(page, scheme)
        choose_with_arrows(page, scheme, "sps_number")
        keys.press("Tab")
        expect(page.get_by_label("Identifier", exact=True)).to_be_focused()
        keys.type(sps_number)
        keys.press("Tab")
        expect(page.get_by_label("Why you are looking at this record")).to_be_focused()
        keys.type(PURPOSE)
        began = time.monotonic()
        keys.press("Enter")
        history = page.get_by_role("table", name="What the hub collected")
        expect(history).to_be_visible()
        print(f"keyboard: search to history shown in {time.monotonic() - began:.2f} s")
        expect(page.locator("#identifiers")).to_contain_text(sps_number)
        expect(page.locator("#no-restrictions")).to_be_visible()

        # Restrict: open the details with Enter, the ground with arrows, Glasgow with Space.
        restrict = page.get_by_text("Restrict this person's subject access report")
        tab_to(page, restrict)
        keys.press("Enter")
        ground = page.locator("#ground")
        expect(ground).to_be_visible()
        tab_to(page, ground)
        choose_with_arrows(page, ground, "crime")
        glasgow = page.locator("#recipient-sw-glasgow-city")
        tab_to(page, glasgow)
        keys.press("Space")
        expect(glasgow).to_be_checked()
        # Back one stop and forward again: Shift+Tab works the same way.
        tab_to(page, ground, backwards=True)
        tab_to(page, glasgow)
        expect(glasgow).to_be_checked()
        tab_to(page, page.get_by_role("button", name="Place the restriction"))
        keys.press("Enter")
        expect(page.get_by_role("heading", name="Restriction placed")).to_be_visible()
        expect(page.locator("#restriction-done")).to_contain_text("sw-glasgow-city")
        assert_accessible(page)

        tab_to(page, page.get_by_role("button", name="Back to the person's page"))
        keys.press("Enter")
        restrictions = page.get_by_role("table", name="Restrictions placed")
        expect(restrictions).to_contain_text(GLASGOW_NAME)
        expect(restrictions).to_contain_text("Active")
        tab_to(page, restrictions.get_by_role("button", name="Lift"))
        keys.press("Space")
        expect(page.get_by_role("heading", name="Restriction lifted")).to_be_visible()
        tab_to(page, page.get_by_role("button", name="Back to the person's page"))
        keys.press("Space")
        restrictions = page.get_by_role("table", name="Restrictions placed")
        expect(restrictions).not_to_contain_text("Active")

        # Home (the header's link, the stop after the skip link), and sign out.
        assert tab_to(page, page.get_by_role("link", name="Public Protection Hub")) == 2
        keys.press("Enter")
        expect(page.locator("#person-agency")).to_be_visible()  # home has loaded
        tab_to(page, page.get_by_role("button", name="Sign out"))
        keys.press("Enter")
        expect(page).to_have_url(console_url(hub))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "pph_console"]
    finally:
        context.close()
