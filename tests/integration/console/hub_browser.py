"""A plain-HTTP stand-in for a person's browser on the console: keeps the console's cookies as a
browser does (httpx's own jar sends no `Secure` cookie over http://localhost, browsers do), and a
second client, with its own jar, for the identity provider's pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie

import httpx

from hub.api.app import create_app
from hub.settings import Settings
from tests.keycloak import provider_browser

#: Keycloak's realm accepts redirects to http://localhost:* (deploy/local/keycloak/realm-pph.json).
CONSOLE_URL = "http://localhost:8000"


@dataclass
class ConsoleBrowser:
    hub: httpx.AsyncClient
    provider: httpx.AsyncClient
    cookies: dict[str, Morsel[str]] = field(default_factory=dict)

    def _keep(self, answer: httpx.Response) -> None:
        for header in answer.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value.strip('"'):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{n}={m.value}" for n, m in self.cookies.items())}

    async def get(self, url: str) -> httpx.Response:
        answer = await self.hub.get(url, headers=self._cookie_header())
        self._keep(answer)
        return answer

    async def post(
        self, url: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        answer = await self.hub.post(
            url, data=data, headers=self._cookie_header() | (headers or {})
        )
        self._keep(answer)
        return answer


@asynccontextmanager
async def console_browser(settings: Settings) -> AsyncIterator[ConsoleBrowser]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as hub,
            provider_browser() as provider,
        ):
            yield ConsoleBrowser(hub, provider)
