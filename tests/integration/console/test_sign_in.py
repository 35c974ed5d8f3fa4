"""Sign-in to the console through a real Keycloak over real HTTP: authorization code with PKCE,
the ID token's groups mapped to hub roles, server-side sessions with CSRF-protected sign-out,
and RP-initiated logout at Keycloak. The hub runs in process; Keycloak is the real server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

from hub.settings import Settings
from tests.integration.console.hub_browser import CONSOLE_URL, ConsoleBrowser, console_browser
from tests.keycloak import KeycloakUnderTest, sign_in_at_keycloak

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]


def console_settings(keycloak: KeycloakUnderTest, data_dir: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        router_enabled=False,
        delivery_enabled=False,
        audit_enabled=False,
        **keycloak.hub_settings,
    )


@pytest_asyncio.fixture
async def browser(keycloak: KeycloakUnderTest, tmp_path: Path) -> AsyncIterator[ConsoleBrowser]:
    async with console_browser(console_settings(keycloak, tmp_path / "data")) as browser:
        yield browser


async def sign_in(browser: ConsoleBrowser, keycloak: KeycloakUnderTest, username: str) -> str:
    """Begins at the console, signs in at Keycloak; the callback URL Keycloak sends back to."""
    begun = await browser.get("/console/login")
    assert begun.status_code == 303, begun.text
    authorization_url = begun.headers["location"]
    assert authorization_url.startswith(keycloak.issuer)
    return await sign_in_at_keycloak(browser.provider, authorization_url, keycloak.users[username])


async def test_a_dpo_signs_in_sees_their_name_and_role_and_signs_out(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    page = await browser.get("/")
    assert page.status_code == 200
    assert "Sign in with your agency account" in page.text

    callback = await sign_in(browser, keycloak, "dpo")
    assert callback.startswith(f"{CONSOLE_URL}/console/callback?")
    landed = await browser.get(callback)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == f"{CONSOLE_URL}/"

    home = await browser.get("/")
    assert home.status_code == 200
    assert 'Signed in as <span id="person-name">Dana Ogilvie</span>' in home.text
    assert "<li>Data protection officer</li>" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token is not None

    # Sign-out without the page's CSRF token is refused and changes nothing.
    forged = await browser.post("/console/logout", data={})
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert "Dana Ogilvie" in (await browser.get("/")).text

    signed_out = await browser.post("/console/logout", data={"csrf_token": token.group(1)})
    assert signed_out.status_code == 303
    end_session = signed_out.headers["location"]
    assert end_session.startswith(f"{keycloak.issuer}/protocol/openid-connect/logout?")
    query = parse_qs(urlsplit(end_session).query)
    assert query["post_logout_redirect_uri"] == [f"{CONSOLE_URL}/"]
    assert query["client_id"] == [keycloak.settings["HUB_OIDC_CLIENT_ID"]]
    assert "id_token_hint" in query
    assert "Sign in with your agency account" in (await browser.get("/")).text

    # Keycloak ends its own session and sends the browser back to the console.
    at_keycloak = await browser.provider.get(end_session)
    assert at_keycloak.status_code == 302, at_keycloak.text[:500]
    assert at_keycloak.headers["location"] == f"{CONSOLE_URL}/"
    # Signed out at Keycloak too: a new sign-in asks for the password again.
    again = await browser.get("/console/login")
    login_page = await browser.provider.get(again.headers["location"])
    assert login_page.status_code == 200
    assert 'id="kc-form-login"' in login_page.text


async def test_a_coordinators_role_names_their_region(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    await browser.get(await sign_in(browser, keycloak, "coordinator-lanarkshire"))
    home = await browser.get("/")
    assert "Lewis Baird" in home.text
    assert "<li>MAPPA co-ordinator, mappa-lanarkshire</li>" in home.text
    assert "Data protection officer" not in home.text


async def test_a_person_with_no_hub_role_is_refused_with_a_clear_page(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    refused = await browser.get(await sign_in(browser, keycloak, "no-role"))
    assert refused.status_code == 403
    assert "You do not have access to the hub" in refused.text
    assert "<code>groups</code>" in refused.text
    # The page's sign-out link carries no ID token (it names the person).
    link = re.search(r'id="sign-out-provider" href="([^"]+)"', refused.text)
    assert link is not None
    assert link.group(1).startswith(f"{keycloak.issuer}/protocol/openid-connect/logout?")
    assert "id_token_hint" not in link.group(1)
    assert "pph_console" not in browser.cookies
    assert "Sign in with your agency account" in (await browser.get("/")).text


async def test_a_person_whose_token_names_no_agency_is_refused(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    """The audit trail records whose officer read a record: a DPO without an agency claim (or
    with one the directory does not hold) gets no session."""
    refused = await browser.get(await sign_in(browser, keycloak, "no-agency"))
    assert refused.status_code == 403
    assert 'id="no-agency"' in refused.text
    assert "<code>agency</code>" in refused.text
    assert "pph_console" not in browser.cookies
    assert "Sign in with your agency account" in (await browser.get("/")).text


async def test_the_home_page_says_which_agency_the_person_acts_for(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    landed = await browser.get(await sign_in(browser, keycloak, "dpo"))
    assert landed.status_code == 303
    home = await browser.get("/")
    assert 'id="person-agency">Scottish Prison Service Headquarters (sps)</strong>' in home.text


async def test_the_session_cookie_is_secure_httponly_and_samesite(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    callback = await sign_in(browser, keycloak, "operator")
    landed = await browser.get(callback)
    cookie = browser.cookies["pph_console"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert "pph_console_signin" not in browser.cookies  # used up by the callback
    assert landed.headers["referrer-policy"] == "no-referrer"
    csp = landed.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert "default-src 'none'" in csp


async def test_a_callback_this_browser_did_not_begin_is_refused(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    callback = await sign_in(browser, keycloak, "dpo")
    browser.cookies.pop("pph_console_signin")  # another browser: no binding cookie
    refused = await browser.get(callback)
    assert refused.status_code == 400
    assert "was not begun in this browser" in refused.text
    assert "pph_console" not in browser.cookies


async def test_a_callback_with_a_forged_state_is_refused(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    callback = await sign_in(browser, keycloak, "dpo")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused = await browser.get(forged)
    assert refused.status_code == 400
    assert "pph_console" not in browser.cookies
    # The pending sign-in is used up: the genuine answer no longer works either.
    assert (await browser.get(callback)).status_code == 400


async def test_a_code_keycloak_did_not_issue_is_refused_by_keycloak(
    browser: ConsoleBrowser, keycloak: KeycloakUnderTest
) -> None:
    callback = await sign_in(browser, keycloak, "dpo")
    bogus = re.sub(r"code=[^&]+", "code=not-a-code", callback)
    refused = await browser.get(bogus)
    assert refused.status_code == 400
    assert "refused the sign-in code" in refused.text
    assert "pph_console" not in browser.cookies


async def test_an_error_answer_from_the_provider_is_shown(browser: ConsoleBrowser) -> None:
    answer = await browser.get(
        "/console/callback?error=access_denied&error_description=User+cancelled"
    )
    assert answer.status_code == 400
    assert "the identity provider answered access_denied: User cancelled" in answer.text
