"""The local Keycloak the console's tests sign in through: started once per test run with
`deploy/local/keycloak.sh start` (idempotent: a Keycloak already up is used as it is, and is
left running afterwards, as `make test` leaves PostgreSQL and Kafka). In CI (`CI=true`) a
Keycloak that cannot be started fails the tests; elsewhere they are skipped with the reason.

The realm's users (deploy/local/keycloak/realm-pph.json) and the hub settings that point the
console at it (`keycloak.sh env`) are read from the script and the realm file, one source each.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from hub.settings import PROJECT_ROOT

IN_CI = os.environ.get("CI", "").lower() == "true"
SCRIPT = PROJECT_ROOT / "deploy" / "local" / "keycloak.sh"
REALM_FILE = PROJECT_ROOT / "deploy" / "local" / "keycloak" / "realm-pph.json"


@dataclass(frozen=True)
class RealmUser:
    username: str
    password: str
    name: str


@dataclass(frozen=True)
class KeycloakUnderTest:
    #: `keycloak.sh env`: HUB_OIDC_ISSUER, HUB_OIDC_CLIENT_ID, HUB_CONSOLE_ROLE_MAP, ...
    settings: dict[str, str]
    users: dict[str, RealmUser]
    #: Seconds `keycloak.sh start` took in this run (about 0 when it was already up).
    start_seconds: float

    @property
    def issuer(self) -> str:
        return self.settings["HUB_OIDC_ISSUER"]

    @property
    def hub_settings(self) -> dict[str, Any]:
        """The same settings as `Settings` fields, for a hub built in the test's process."""
        return {
            "oidc_issuer": self.settings["HUB_OIDC_ISSUER"],
            "oidc_client_id": self.settings["HUB_OIDC_CLIENT_ID"],
            "console_role_claim": self.settings["HUB_CONSOLE_ROLE_CLAIM"],
            "console_role_map": json.loads(self.settings["HUB_CONSOLE_ROLE_MAP"]),
            "console_agency_claim": self.settings["HUB_CONSOLE_AGENCY_CLAIM"],
        }


def _env_settings() -> dict[str, str]:
    printed = subprocess.run(
        [str(SCRIPT), "env"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    settings: dict[str, str] = {}
    for line in printed.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            settings[name] = value
    return settings


def _users() -> dict[str, RealmUser]:
    realm = json.loads(REALM_FILE.read_text())
    users = {}
    for user in realm["users"]:
        password = user["credentials"][0]["value"]
        name = f"{user['firstName']} {user['lastName']}"
        users[user["username"]] = RealmUser(user["username"], password, name)
    return users


@pytest.fixture(scope="session")
def keycloak() -> KeycloakUnderTest:
    began = time.monotonic()
    done = subprocess.run(
        ["nice", "-n", "19", str(SCRIPT), "start"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        message = f"Keycloak could not be started: {done.stderr.strip()[-2000:]}"
        if IN_CI:
            pytest.fail(message + "; the console's tests are never skipped in CI")
        pytest.skip(message)
    return KeycloakUnderTest(_env_settings(), _users(), time.monotonic() - began)


def provider_browser() -> httpx.AsyncClient:
    """An HTTP client that keeps the identity provider's cookies as a browser on loopback does.
    Keycloak marks its sign-in cookies `Secure`; browsers send those to http://127.0.0.1 and
    http://localhost (a secure context), httpx's jar does not, so once stored they are kept
    without the flag (httpx copies the jar, with its default policy, for every request)."""
    client = httpx.AsyncClient(timeout=30)

    async def keep_loopback_secure_cookies(response: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            if cookie.domain in ("127.0.0.1", "localhost", "localhost.local"):
                cookie.secure = False

    client.event_hooks["response"].append(keep_loopback_secure_cookies)
    return client


class _LoginForm(HTMLParser):
    """The action of Keycloak's login form (`<form id="kc-form-login" action=...>`)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and values.get("id") == "kc-form-login":
            self.action = values.get("action")


def login_form_action(page: str) -> str:
    form = _LoginForm()
    form.feed(page)
    assert form.action, f"no Keycloak login form in the page: {page[:500]}"
    return form.action


async def sign_in_at_keycloak(
    browser: httpx.AsyncClient, authorization_url: str, user: RealmUser
) -> str:
    """Plays the person at Keycloak's real login page over HTTP: opens it, submits the user's
    credentials, and returns where Keycloak sends the browser back (the console's callback)."""
    page = await browser.get(authorization_url)
    assert page.status_code == 200, page.text[:500]
    answer = await browser.post(
        login_form_action(page.text),
        data={"username": user.username, "password": user.password, "credentialId": ""},
    )
    assert answer.status_code == 302, f"{answer.status_code}: {answer.text[:500]}"
    location = answer.headers["location"]
    assert re.match(r"https?://", location), location
    return location
