"""The console in a real browser: Debian's Chromium driven by Playwright, signing in through the
real Keycloak (tests/keycloak.py) to a real `hub serve`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import console_hub_process
from tests.keycloak import (
    IN_CI,
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
)

#: Debian's package; Playwright cannot download its own browsers here.
CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps calling Google's hosts, which this
#: machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One browser per test module. Not per session: Playwright's sync API runs an event loop in
    this thread while it is started, and every later test that calls `asyncio.run` would fail
    ("cannot be called from a running event loop") until it stops."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + "; the browser tests are never skipped in CI")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def routing_hub(keycloak: KeycloakUnderTest, tmp_path: Path) -> Iterator[HubProcess]:  # noqa: F811
    """`hub serve` (embedded SQLite) with the console on the local Keycloak, routing what is
    pushed; stopped after the test."""
    hub = console_hub_process(keycloak, tmp_path, router=True)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
