"""`POST /oauth/token` (client credentials) and the bearer-token dependencies, over HTTP.

The app is built here from the oauth router, the security dependencies and a plain container
holding a real `SqlClientRepository` on each backend and a real `TokenService`.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from hub.api.routes import oauth
from hub.api.security import Caller, authenticated_caller, require_scopes
from hub.auth.keys import KEY_FILE
from hub.auth.secrets import hash_secret
from hub.auth.tokens import TokenService
from hub.errors import AuthenticationFailed, HubError, PermissionDenied
from hub.infra.audit import SqlAuditLog
from hub.infra.clients import SqlClientRepository
from hub.services.clients import RegisteredClient, register_client
from hub.settings import Settings
from tests.conftest import Database

pytestmark = pytest.mark.asyncio

SPS_SCOPES = ["events:publish", "events:read", "feed:read"]


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Container:
    settings: Settings
    clients: SqlClientRepository
    tokens: TokenService


@dataclass
class Hub:
    http: httpx.AsyncClient
    container: Container
    clock: Clock

    async def register(
        self, scopes: list[str] | None = None, agency: str = "sps"
    ) -> tuple[RegisteredClient, str]:
        return await register_client(
            self.container.clients,
            name=f"{agency} system",
            agency=agency,
            scopes=SPS_SCOPES if scopes is None else scopes,
            hash_secret=hash_secret,
        )

    async def token_response(self, client_id: str, secret: str, **form: str) -> httpx.Response:
        return await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", **form},
            auth=(client_id, secret),
        )

    async def token(self, client_id: str, secret: str, **form: str) -> str:
        answer = await self.token_response(client_id, secret, **form)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


async def hub_error(request: Request, error: Exception) -> JSONResponse:
    """A stand-in for the API's problem-details handler: only what these tests look at."""
    assert isinstance(error, HubError)
    if isinstance(error, AuthenticationFailed):
        challenge = f'Bearer error="invalid_token", error_description="{error.message}"'
        return JSONResponse(
            {"detail": error.message}, status_code=401, headers={"WWW-Authenticate": challenge}
        )
    status = 403 if isinstance(error, PermissionDenied) else 500
    return JSONResponse({"detail": error.message}, status_code=status)


def build_app(container: Container) -> FastAPI:
    app = FastAPI()
    app.state.container = container
    app.add_exception_handler(HubError, hub_error)
    app.include_router(oauth.router)

    @app.get("/whoami")
    async def whoami(caller: Annotated[Caller, Depends(authenticated_caller)]) -> dict[str, Any]:
        return {
            "client_id": caller.client_id,
            "agency": caller.agency,
            "scopes": sorted(caller.scopes),
        }

    @app.get("/audit")
    async def audit(caller: Annotated[Caller, Depends(require_scopes("audit:read"))]) -> str:
        return caller.client_id

    return app


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[Hub]:
    clock = Clock()
    container = Container(
        database.settings,
        SqlClientRepository(database.engine, SqlAuditLog(database.engine)),
        TokenService.from_settings(database.settings, clock=clock),
    )
    transport = httpx.ASGITransport(app=build_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield Hub(http, container, clock)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return loaded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_client(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }
    assert answer.headers["www-authenticate"].startswith("Basic ")
    assert answer.headers["cache-control"] == "no-store"


# --- issuing tokens -------------------------------------------------------------------------


async def test_a_client_gets_a_token_with_http_basic(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.token_response(client.client_id, secret)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == hub.container.settings.token_lifetime_seconds
    assert body["scope"] == "events:publish events:read feed:read"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    assert answer.headers["content-type"] == "application/json"
    claims = claims_of(body["access_token"])
    assert claims["client_id"] == claims["sub"] == client.client_id
    assert claims["agency"] == "sps"


async def test_a_client_gets_a_token_with_form_credentials(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    assert answer.status_code == 200, answer.text
    assert claims_of(answer.json()["access_token"])["client_id"] == client.client_id


async def test_a_wrong_secret_is_invalid_client(hub: Hub) -> None:
    client, secret = await hub.register()
    assert_invalid_client(await hub.token_response(client.client_id, secret[:-1] + "x"))
    assert_invalid_client(
        await hub.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": "wrong",
            },
        )
    )


async def test_an_unknown_client_looks_like_a_wrong_secret(hub: Hub) -> None:
    assert_invalid_client(await hub.token_response("cl_nobody", "whatever"))
    assert_invalid_client(
        await hub.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "cl_x", "client_secret": "y"},
        )
    )
    assert_invalid_client(await hub.token_response("cl_\x00", "whatever"))


async def test_no_credentials_is_invalid_client(hub: Hub) -> None:
    answer = await hub.http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert_invalid_client(answer)


async def test_a_disabled_client_gets_no_token(hub: Hub) -> None:
    client, secret = await hub.register()
    await hub.container.clients.disable(client.client_id)
    assert_invalid_client(await hub.token_response(client.client_id, secret))


async def test_a_client_may_ask_for_some_of_its_scopes(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.token_response(client.client_id, secret, scope="events:read")
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "events:read"
    assert claims_of(answer.json()["access_token"])["scope"] == "events:read"


@pytest.mark.parametrize(
    ("scope", "description"),
    [
        ("events:read audit:read", "Scope not granted to this client: audit:read."),
        ("events:read superuser", "Unknown scope: superuser."),
        ("events:read  feed:read", "The scope parameter is malformed."),
        ('events:read "x"', "The scope parameter is malformed."),
        ("évents:read", "The scope parameter is malformed."),
    ],
)
async def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    hub: Hub, scope: str, description: str
) -> None:
    client, secret = await hub.register()
    answer = await hub.token_response(client.client_id, secret, scope=scope)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "invalid_scope", "error_description": description}


async def test_an_unknown_grant_type_is_unsupported(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.http.post(
        "/oauth/token", data={"grant_type": "password"}, auth=(client.client_id, secret)
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("content", "headers", "description"),
    [
        ("scope=events%3Aread", {}, "Missing grant_type."),
        ("grant_type=", {}, "Missing grant_type."),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            {},
            "The parameter grant_type is repeated.",
        ),
        (
            '{"grant_type": "client_credentials"}',
            {"Content-Type": "application/json"},
            "Content-Type must be application/x-www-form-urlencoded.",
        ),
        ("grant_type=client_credentials&%22%C3%A9=1&%22%C3%A9=2", {}, "A parameter is repeated."),
        (
            "grant_type=client_credentials&" + "x=1&" * 20,
            {},
            "The request body is not a valid form.",
        ),
        ("grant_type=client_credentials&pad=" + "x" * 9000, {}, "The request body is too large."),
        (b"grant_type=\xff", {}, "The request body is not a valid form."),
    ],
)
async def test_a_malformed_request_is_invalid_request(
    hub: Hub, content: str | bytes, headers: dict[str, str], description: str
) -> None:
    client, secret = await hub.register()
    answer = await hub.http.post(
        "/oauth/token",
        content=content,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        auth=(client.client_id, secret),
    )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "invalid_request", "error_description": description}
    assert answer.headers["cache-control"] == "no-store"


async def test_two_authentication_methods_at_once_is_invalid_request(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
        auth=(client.client_id, secret),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


async def test_production_requires_https(database: Database) -> None:
    settings = database.settings.model_copy(update={"environment": "production"})
    container = Container(
        settings,
        SqlClientRepository(database.engine, SqlAuditLog(database.engine)),
        TokenService.from_settings(database.settings),
    )
    client, secret = await register_client(
        container.clients, name="PR2", agency="sps", scopes=["events:read"], hash_secret=hash_secret
    )
    transport = httpx.ASGITransport(app=build_app(container))
    form = {"grant_type": "client_credentials"}
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        plain = await http.post("/oauth/token", data=form, auth=(client.client_id, secret))
    assert plain.status_code == 400
    assert plain.json()["error_description"] == "The token endpoint must be called over HTTPS."
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as https:
        secure = await https.post("/oauth/token", data=form, auth=(client.client_id, secret))
    assert secure.status_code == 200, secure.text


async def test_the_generated_signing_key_is_private(hub: Hub) -> None:
    path = hub.container.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- using tokens ---------------------------------------------------------------------------


async def test_a_token_identifies_its_caller(hub: Hub) -> None:
    client, secret = await hub.register(agency="police-scotland")
    token = await hub.token(client.client_id, secret, scope="events:read feed:read")
    verified = hub.container.tokens.verify(token)
    assert (verified.client_id, verified.agency) == (client.client_id, "police-scotland")
    answer = await hub.http.get("/whoami", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "client_id": client.client_id,
        "agency": "police-scotland",
        "scopes": ["events:read", "feed:read"],
    }


async def test_a_token_without_the_scope_is_permission_denied(hub: Hub) -> None:
    client, secret = await hub.register()
    answer = await hub.http.get("/audit", headers=bearer(await hub.token(client.client_id, secret)))
    assert answer.status_code == 403
    assert "audit:read" in answer.json()["detail"]


async def test_a_token_with_the_scope_passes(hub: Hub) -> None:
    client, secret = await hub.register(["audit:read"], agency="dpo")
    answer = await hub.http.get("/audit", headers=bearer(await hub.token(client.client_id, secret)))
    assert answer.status_code == 200
    assert answer.json() == client.client_id


async def refused(hub: Hub, headers: dict[str, str]) -> str:
    answer = await hub.http.get("/whoami", headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    detail: str = answer.json()["detail"]
    return detail


async def test_requests_without_a_usable_bearer_token_are_refused(hub: Hub) -> None:
    _client, secret = await hub.register()
    assert await refused(hub, {}) == "missing bearer token"
    assert "Bearer <token>" in await refused(hub, {"Authorization": f"Basic {secret}"})
    assert "Bearer <token>" in await refused(hub, {"Authorization": "Bearer"})
    assert await refused(hub, bearer("not-a-token")) == "malformed token"


async def test_an_expired_token_is_refused(hub: Hub) -> None:
    client, secret = await hub.register()
    token = await hub.token(client.client_id, secret)
    hub.clock.offset = hub.container.settings.token_lifetime_seconds + 60
    assert await refused(hub, bearer(token)) == "token expired"


async def test_a_token_for_another_audience_is_refused(hub: Hub, database: Database) -> None:
    client, _secret = await hub.register()
    elsewhere = database.settings.model_copy(update={"token_audience": "urn:pph:elsewhere"})
    token = TokenService.from_settings(elsewhere).issue(
        client_id=client.client_id, agency="sps", scopes=["events:read"]
    )
    assert await refused(hub, bearer(token.access_token)) == "wrong audience"


async def test_a_tampered_token_is_refused(hub: Hub) -> None:
    client, secret = await hub.register()
    header, payload, signature = (await hub.token(client.client_id, secret)).split(".")
    claims = claims_of(f"{header}.{payload}.{signature}")
    claims["scope"] = "admin audit:read"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert await refused(hub, bearer(f"{header}.{forged}.{signature}")) == "invalid token signature"
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    assert await refused(hub, bearer(f"{header}.{payload}.{flipped}")) == "invalid token signature"


async def test_a_token_stops_working_when_its_client_is_disabled(hub: Hub) -> None:
    client, secret = await hub.register()
    token = await hub.token(client.client_id, secret)
    assert (await hub.http.get("/whoami", headers=bearer(token))).status_code == 200
    await hub.container.clients.disable(client.client_id)
    assert await refused(hub, bearer(token)) == "the token's client is disabled"


async def test_a_token_for_a_client_that_is_not_registered_is_refused(hub: Hub) -> None:
    token = hub.container.tokens.issue(client_id="cl_ghost", agency="sps", scopes=["events:read"])
    assert await refused(hub, bearer(token.access_token)) == "the token's client is not registered"


async def test_the_token_endpoint_is_documented(hub: Hub) -> None:
    schema = (await hub.http.get("/openapi.json")).json()
    operation = schema["paths"]["/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
    flows = schema["components"]["securitySchemes"]["agency_client"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert schema["paths"]["/audit"]["get"]["security"] == [{"agency_client": ["audit:read"]}]
