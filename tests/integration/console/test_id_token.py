"""The relying party against the real Keycloak: the ID token is checked (nonce, audience,
signature) and the code is bound to its PKCE verifier and usable once."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio

from hub.api.console.oidc import RelyingParty, SignInFailed
from hub.api.console.sessions import PendingSignIn, SessionStore
from tests.integration.console.hub_browser import CONSOLE_URL
from tests.keycloak import KeycloakUnderTest, provider_browser, sign_in_at_keycloak

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def relying_party(
    keycloak: KeycloakUnderTest, http: httpx.AsyncClient, client_id: str | None = None
) -> RelyingParty:
    return RelyingParty(
        issuer=keycloak.issuer,
        client_id=client_id or keycloak.settings["HUB_OIDC_CLIENT_ID"],
        client_secret=None,
        http=http,
    )


async def code_for(
    keycloak: KeycloakUnderTest, party: RelyingParty, username: str = "dpo"
) -> tuple[str, PendingSignIn]:
    """Signs `username` in at Keycloak's login page; the code it answers and the sign-in."""
    sessions = SessionStore(idle_seconds=60, max_seconds=600)
    _binding, pending = sessions.begin_sign_in(f"{CONSOLE_URL}/console/callback")
    async with provider_browser() as browser:
        callback = await sign_in_at_keycloak(
            browser, await party.authorization_url(pending), keycloak.users[username]
        )
    return parse_qs(urlsplit(callback).query)["code"][0], pending


async def test_a_code_gives_a_verified_id_token_once(
    keycloak: KeycloakUnderTest, http: httpx.AsyncClient
) -> None:
    party = relying_party(keycloak, http)
    code, pending = await code_for(keycloak, party)
    identity = await party.redeem(code, pending)
    assert identity.display_name == "Dana Ogilvie"
    assert identity.claims["nonce"] == pending.nonce
    assert identity.claims["groups"] == ["hub-dpo"]
    with pytest.raises(SignInFailed, match="refused the sign-in code: invalid_grant"):
        await party.redeem(code, pending)


async def test_a_code_is_refused_without_its_pkce_verifier(
    keycloak: KeycloakUnderTest, http: httpx.AsyncClient
) -> None:
    party = relying_party(keycloak, http)
    code, pending = await code_for(keycloak, party)
    wrong = dataclasses.replace(pending, code_verifier="x" * 64)
    with pytest.raises(SignInFailed, match="refused the sign-in code: invalid_grant"):
        await party.redeem(code, wrong)


async def test_an_id_token_with_another_nonce_audience_or_payload_is_refused(
    keycloak: KeycloakUnderTest, http: httpx.AsyncClient
) -> None:
    party = relying_party(keycloak, http)
    code, pending = await code_for(keycloak, party)
    id_token = (await party.redeem(code, pending)).id_token

    with pytest.raises(SignInFailed, match=r"not valid for this console.*nonce"):
        await party.verify_id_token(id_token, nonce="replayed-from-another-sign-in")

    other_client = relying_party(keycloak, http, client_id="another-client")
    with pytest.raises(SignInFailed, match=r"not valid for this console.*aud"):
        await other_client.verify_id_token(id_token, nonce=pending.nonce)

    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["hub-dpo", "hub-operator"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SignInFailed, match="does not verify"):
        await party.verify_id_token(f"{header}.{forged}.{signature}", nonce=pending.nonce)
