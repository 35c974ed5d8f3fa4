"""The console's parts for one running app, built from the settings inside the app's lifespan
(nothing is built or contacted at import). Off (None) when no identity provider is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from hub.api.console.agencies import AgencyClaim
from hub.api.console.oidc import RelyingParty
from hub.api.console.roles import RoleMap
from hub.api.console.sessions import SessionStore
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class Console:
    relying_party: RelyingParty
    sessions: SessionStore
    roles: RoleMap
    agencies: AgencyClaim
    cookie_secure: bool

    @property
    def provider_origin(self) -> str:
        """The identity provider's origin, which the console's forms may lead to (sign-out)."""
        parts = urlsplit(self.relying_party.issuer)
        return f"{parts.scheme}://{parts.netloc}"


@asynccontextmanager
async def running(settings: Settings, agencies: Collection[str]) -> AsyncIterator[Console | None]:
    """The console, if an identity provider is configured; `agencies` are the ids a person's
    agency claim may name (the directory's organisations and the hub's operator)."""
    if settings.oidc_issuer is None or settings.oidc_client_id is None:
        yield None
        return
    secret = settings.oidc_client_secret
    async with httpx.AsyncClient(follow_redirects=False) as http:
        yield Console(
            relying_party=RelyingParty(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=secret.get_secret_value() if secret is not None else None,
                http=http,
            ),
            sessions=SessionStore(
                idle_seconds=settings.console_session_idle_seconds,
                max_seconds=settings.console_session_max_seconds,
            ),
            roles=RoleMap(settings.console_role_claim, settings.console_role_map),
            agencies=AgencyClaim(
                settings.console_agency_claim, issuer=settings.oidc_issuer, known=agencies
            ),
            cookie_secure=settings.console_cookie_secure,
        )
