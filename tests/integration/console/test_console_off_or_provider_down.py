"""The console without an identity provider configured, and with one that does not answer."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub.settings import Settings
from tests.integration.console.hub_browser import console_browser

pytestmark = pytest.mark.asyncio


def base_settings(data_dir: Path, **console: object) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        router_enabled=False,
        delivery_enabled=False,
        audit_enabled=False,
        **console,  # type: ignore[arg-type]
    )


async def test_without_an_identity_provider_the_console_is_off(tmp_path: Path) -> None:
    async with console_browser(base_settings(tmp_path / "data")) as browser:
        assert (await browser.get("/")).status_code == 404
        assert (await browser.get("/console/login")).status_code == 404
        assert (await browser.get("/healthz")).status_code == 200


async def test_a_provider_that_does_not_answer_gives_a_clear_page(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = base_settings(
        tmp_path / "data",
        oidc_issuer=f"http://127.0.0.1:{port}/realms/pph",
        oidc_client_id="pph-console",
        console_role_map={"hub-dpo": "dpo"},
    )
    async with console_browser(settings) as browser:
        assert (await browser.get("/")).status_code == 200  # the sign-in page needs no provider
        answer = await browser.get("/console/login")
        assert answer.status_code == 502
        assert f"the identity provider at http://127.0.0.1:{port}/realms/pph did not answer" in (
            answer.text
        )


async def test_the_console_serves_its_vendored_stylesheet_and_nothing_else(
    tmp_path: Path,
) -> None:
    settings = base_settings(
        tmp_path / "data",
        oidc_issuer="http://127.0.0.1:9/realms/pph",
        oidc_client_id="pph-console",
        console_role_map={"hub-dpo": "dpo"},
    )
    async with console_browser(settings) as browser:
        page = await browser.get("/")
        assert "/console/static/sgds/design-system.min.css" in page.text
        css = await browser.get("/console/static/sgds/design-system.min.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert ".ds_button" in css.text
        for other in ("sgds/LICENSE.txt", "../routes.py", "sgds/../../routes.py", "nothing.css"):
            assert (await browser.get(f"/console/static/{other}")).status_code == 404, other
