"""A person signs in to the console in a real Chromium, through Keycloak's real login page, sees
their name and roles, and signs out; a person with no hub role is refused with a clear page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import HubProcess, free_port
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def console_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:
    """`hub serve` (embedded SQLite) with the console pointed at the local Keycloak."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_ROUTER_ENABLED": "false",
            "HUB_DELIVERY_ENABLED": "false",
            **keycloak.settings,
        }
    )
    hub = HubProcess(env=env, port=free_port(), log=tmp_path / "hub.log")
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


#: Where to save screenshots of the pages (docs/console/ in the README is made so); unset: none.
SCREENSHOTS = os.environ.get("HUB_CONSOLE_SCREENSHOTS")


#: axe-core's rule tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical WCAG 2.2 AA violation on the page (issue 16)."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    violations = results.response["violations"]
    grave = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not grave, results.generate_report()
    path = urlsplit(page.url).path
    print(f"axe on {path}: {len(violations)} violation(s), none serious or critical")


def console_url(hub: HubProcess) -> str:
    # localhost, which Keycloak's realm accepts as a redirect (http://localhost:*).
    return f"http://localhost:{hub.port}/"


def sign_in_at_keycloak(page: Page, keycloak: KeycloakUnderTest, username: str) -> None:
    expect(page).to_have_url(
        re.compile(re.escape(keycloak.issuer) + "/protocol/openid-connect/auth")
    )
    user = keycloak.users[username]
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign In").click()


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
