"""What the console's browser tests share: a `hub serve` pointed at the local Keycloak, signing
in at Keycloak's real login page, axe-core's WCAG 2.2 AA check, and screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import HubProcess, free_port
from tests.keycloak import KeycloakUnderTest

#: Where to save screenshots of the pages (docs/console/ in the README is made so); unset: none.
SCREENSHOTS = os.environ.get("HUB_CONSOLE_SCREENSHOTS")

#: axe-core's rule tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def console_hub_process(
    keycloak: KeycloakUnderTest, tmp_path: Path, *, router: bool = False
) -> HubProcess:
    """`hub serve` (embedded SQLite) with the console pointed at the local Keycloak; with
    `router`, it routes what is pushed (not started: the caller starts and stops it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_ROUTER_ENABLED": "true" if router else "false",
            "HUB_DELIVERY_ENABLED": "false",
            **keycloak.settings,
        }
    )
    return HubProcess(env=env, port=free_port(), log=tmp_path / "hub.log")


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


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
