"""A person signs in to the console in a real Chromium, through Keycloak's real login page, sees
their name and roles, and signs out; a person with no hub role is refused with a clear page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def console_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:
    hub = console_hub_process(keycloak, tmp_path)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def test_a_dpo_signs_in_through_keycloak_and_signs_out(
    chromium: Browser, console_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(console_hub))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        screenshot(page, "sign-in")
        assert_accessible(page)
        page.get_by_role("link", name="Sign in with your agency account").click()

        sign_in_at_keycloak(page, keycloak, "dpo-operator")

        expect(page).to_have_url(console_url(console_hub))
        expect(page.locator("#person-name")).to_have_text("Morag Fraser")
        expect(page.locator("#roles li")).to_have_text(["Data protection officer", "Operator"])
        screenshot(page, "signed-in")
        assert_accessible(page)
        session = [c for c in context.cookies() if c["name"] == "pph_console"]
        assert len(session) == 1
        assert session[0]["httpOnly"] is True
        assert session[0]["secure"] is True

        page.get_by_role("button", name="Sign out").click()
        # Keycloak ends its session (RP-initiated logout) and sends the browser back.
        expect(page).to_have_url(console_url(console_hub))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "pph_console"]

        # Signed out at Keycloak too: signing in again asks for the password.
        page.get_by_role("link", name="Sign in with your agency account").click()
        expect(page.get_by_label("Password", exact=True)).to_be_visible()
    finally:
        context.close()


def test_a_person_with_no_hub_role_is_refused_with_a_clear_page(
    chromium: Browser, console_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(console_hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "no-role")

        heading = page.get_by_role("heading", name="You do not have access to the hub's console")
        expect(heading).to_be_visible()
        expect(page.locator("main")).to_contain_text("Nina Rowe")
        screenshot(page, "refused")
        assert_accessible(page)
        assert not [c for c in context.cookies() if c["name"] == "pph_console"]
        page.goto(console_url(console_hub))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        context.close()
