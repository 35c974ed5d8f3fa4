"""Every endpoint by every kind of caller, with the answer each must get, on both backends.

The table below is the authorisation contract of the API. `test_every_route_is_in_the_table`
enumerates the running app's routes and fails on any route the table does not list, so a new
endpoint cannot ship without saying who may call it. `test_authorization_table` then calls each
endpoint as each kind of caller:

- no token, a malformed token, an expired token, a token for another audience, a token signed by
  a key that is not the hub's: 401 everywhere but the public endpoints;
- a valid token lacking the endpoint's scope: 403;
- a valid token with the scope, for an agency that does not own the resource (another
  recipient's disclosure, subscription or delivery; another publisher's notification): 404 for
  one resource (its existence is not confirmed), or 200 without the resource for a list;
- a valid token with the scope, of the owning agency: the endpoint's success status (409 for a
  replay of a delivery that is not dead: the caller got past authorisation).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from hub.api.app import create_app
from hub.auth.keys import generate_pem, load_signing_key, signing_key_from_pem
from hub.auth.secrets import hash_secret
from hub.auth.tokens import TokenService
from hub.bootstrap import Container
from hub.cli import _parser as cli_parser
from hub.domain.reviews import Proposal, disclosure_from_document
from hub.errors import HubError
from hub.infra import tables
from hub.infra.review_records import record_proposals
from hub.infra.sqltools import utc
from hub.services.clients import register_client
from hub.services.intake import source_belongs_to
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, examples_dir

PUBLISHER = "sps"
OTHER_PUBLISHER = "police-scotland"
RECIPIENT = "sw-glasgow-city"
OPERATOR = "hub-operator"
OTHER_RECIPIENT = "sw-fife"
DPO = "hub-dpo"
REVIEWER = "mappa-glasgow"
OTHER_REVIEWER = "mappa-tayside"
LOCAL_URL = "http://127.0.0.1:9/hooks/pph"
PURPOSE = {"X-Purpose": "authorisation table test"}

#: Endpoints anyone may call without a token, and why that is safe.
PUBLIC = {
    ("GET", "/healthz"): "liveness; says nothing about data",
    ("GET", "/readyz"): "readiness; says nothing about data",
    ("POST", "/oauth/token"): "authenticates the client itself (secret or private_key_jwt)",
    ("GET", "/.well-known/jwks.json"): "the hub's public token-verification keys",
    ("GET", "/metrics"): "counts per recipient id and event type; never a person",
    ("GET", "/openapi.json"): "the published API contract",
    ("GET", "/asyncapi.json"): "the published Kafka contract",
    ("GET", "/v1/webhook-keys"): "the hub's public webhook-signing keys (v1a)",
    ("GET", "/events/{name}"): "the published event schemas the Kafka contract refers to",
    ("GET", "/docs"): "API documentation",
    ("GET", "/docs/oauth2-redirect"): "API documentation",
    ("GET", "/redoc"): "API documentation",
}


@dataclass
class World:
    """What the table's requests refer to, made once per test run."""

    event_id: str = ""
    event_source: str = ""
    person: str = ""
    disclosure_id: str = ""
    delivery_id: str = ""
    subscriptions: dict[str, str] = field(default_factory=dict)
    restriction_id: str = ""
    #: A client the client-administration rows look at, change and rotate (nobody else's).
    client_id: str = ""
    #: Proposed disclosures Glasgow's MAPPA coordinator reviews, by what the table does to each.
    proposals: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """One row: how to call the endpoint, the scope it needs, who owns what it names, and the
    answers of the agency-bound callers. `wrong_agency` is None when nothing the endpoint
    names belongs to an agency; "absent" means 200 with the owner's resource left out."""

    method: str
    path: str
    scope: str
    owner: str
    right: int
    wrong_agency: int | str | None
    other_agency: str = ""
    url: Callable[[World], str] | None = None
    body: Callable[[World], Any] | None = None
    absent: Callable[[World], str] | None = None
    stream: bool = False

    def target(self, world: World) -> str:
        return self.url(world) if self.url else self.path


def _notification(source: str | None = None) -> dict[str, Any]:
    notification = example("custody.admission")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(uuid.uuid4().int % 10_000_000)}
    if source is not None:
        notification["source"] = source
    return notification


def _other_source() -> dict[str, Any]:
    return _notification("urn:pph:police-scotland:visor")


TABLE: list[Endpoint] = [
    # -- intake: a publisher publishes from its own sources and reads back what it published --
    Endpoint(
        "POST",
        "/v1/events",
        "events:publish",
        PUBLISHER,
        201,
        403,
        OTHER_PUBLISHER,
        body=lambda w: _notification(),
    ),
    Endpoint(
        "POST",
        "/v1/events/batch",
        "events:publish",
        PUBLISHER,
        200,
        403,
        OTHER_PUBLISHER,
        body=lambda w: [_notification()],
    ),
    Endpoint(
        "GET",
        "/v1/events/{event_id}",
        "events:read",
        PUBLISHER,
        200,
        404,
        OTHER_PUBLISHER,
        url=lambda w: f"/v1/events/{w.event_id}",
    ),
    Endpoint(
        "POST",
        "/v1/policy/explain",
        "policy:explain",
        PUBLISHER,
        200,
        404,
        OTHER_PUBLISHER,
        body=lambda w: {"stored": {"source": w.event_source, "id": w.event_id}},
    ),
    # -- subscriptions: a recipient's own --
    Endpoint(
        "POST",
        "/v1/subscriptions",
        "subscriptions:manage",
        RECIPIENT,
        201,
        None,
        body=lambda w: {"url": LOCAL_URL},
    ),
    Endpoint(
        "GET",
        "/v1/subscriptions",
        "subscriptions:manage",
        RECIPIENT,
        200,
        "absent",
        OTHER_RECIPIENT,
        absent=lambda w: w.subscriptions["main"],
    ),
    Endpoint(
        "GET",
        "/v1/subscriptions/{subscription_id}",
        "subscriptions:manage",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/subscriptions/{w.subscriptions['main']}",
    ),
    Endpoint(
        "PATCH",
        "/v1/subscriptions/{subscription_id}",
        "subscriptions:manage",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/subscriptions/{w.subscriptions['main']}",
        body=lambda w: {"url": LOCAL_URL + "/changed"},
    ),
    Endpoint(
        "POST",
        "/v1/subscriptions/{subscription_id}/rotate-secret",
        "subscriptions:manage",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/subscriptions/{w.subscriptions['main']}/rotate-secret",
    ),
    Endpoint(
        "POST",
        "/v1/subscriptions/{subscription_id}/disable",
        "subscriptions:manage",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/subscriptions/{w.subscriptions['disable']}/disable",
    ),
    Endpoint(
        "DELETE",
        "/v1/subscriptions/{subscription_id}",
        "subscriptions:manage",
        RECIPIENT,
        204,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/subscriptions/{w.subscriptions['delete']}",
    ),
    # -- deliveries: a recipient's own (admin: everyone's) --
    Endpoint(
        "GET",
        "/v1/deliveries",
        "subscriptions:manage",
        RECIPIENT,
        200,
        "absent",
        OTHER_RECIPIENT,
        absent=lambda w: w.delivery_id,
    ),
    Endpoint(
        "GET",
        "/v1/deliveries/{delivery_id}",
        "subscriptions:manage",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/deliveries/{w.delivery_id}",
    ),
    Endpoint(
        "POST",
        "/v1/deliveries/{delivery_id}/replay",
        "subscriptions:manage",
        RECIPIENT,
        409,  # pending, not dead: past authorisation, refused on its state
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/deliveries/{w.delivery_id}/replay",
    ),
    # -- what was disclosed to a recipient --
    Endpoint(
        "GET",
        "/v1/feed",
        "feed:read",
        RECIPIENT,
        200,
        "absent",
        OTHER_RECIPIENT,
        absent=lambda w: w.disclosure_id,
    ),
    Endpoint(
        "GET",
        "/v1/feed/stream",
        "feed:read",
        RECIPIENT,
        200,
        "absent",
        OTHER_RECIPIENT,
        absent=lambda w: w.disclosure_id,
        stream=True,
    ),
    Endpoint(
        "GET",
        "/v1/disclosures/{disclosure_id}",
        "feed:read",
        RECIPIENT,
        200,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/disclosures/{w.disclosure_id}",
    ),
    Endpoint(
        "POST",
        "/v1/disclosures/{disclosure_id}/ack",
        "feed:read",
        RECIPIENT,
        201,
        404,
        OTHER_RECIPIENT,
        url=lambda w: f"/v1/disclosures/{w.disclosure_id}/ack",
    ),
    # -- case-by-case review: the reviewer agencies a proposal names (the disclosing side) --
    Endpoint(
        "GET",
        "/v1/reviews",
        "reviews:decide",
        REVIEWER,
        200,
        "absent",
        OTHER_REVIEWER,
        absent=lambda w: w.proposals["approve"],
    ),
    Endpoint(
        "POST",
        "/v1/reviews/{proposal_id}/approve",
        "reviews:decide",
        REVIEWER,
        200,
        404,
        OTHER_REVIEWER,
        url=lambda w: f"/v1/reviews/{w.proposals['approve']}/approve",
        body=lambda w: {"reason": "authorisation table"},
    ),
    Endpoint(
        "POST",
        "/v1/reviews/{proposal_id}/decline",
        "reviews:decide",
        REVIEWER,
        200,
        404,
        OTHER_REVIEWER,
        url=lambda w: f"/v1/reviews/{w.proposals['decline']}/decline",
        body=lambda w: {"reason": "authorisation table"},
    ),
    # -- the audit trail: the hub's data protection officer, not an agency's resource --
    Endpoint("GET", "/v1/audit/public-key", "audit:verify", DPO, 200, None),
    Endpoint("GET", "/v1/audit/checkpoint", "audit:verify", DPO, 200, None),
    Endpoint("GET", "/v1/audit/checkpoints", "audit:verify", DPO, 200, None),
    Endpoint(
        "GET",
        "/v1/audit/proofs/consistency",
        "audit:verify",
        DPO,
        200,
        None,
        url=lambda w: "/v1/audit/proofs/consistency?old_size=1&new_size=1",
    ),
    Endpoint(
        "GET",
        "/v1/audit/proofs/inclusion",
        "audit:read",
        DPO,
        200,
        None,
        url=lambda w: "/v1/audit/proofs/inclusion?leaf_index=0",
    ),
    Endpoint("GET", "/v1/audit/disclosures", "audit:read", DPO, 200, None),
    Endpoint("GET", "/v1/audit/entries", "audit:read", DPO, 200, None),
    Endpoint(
        "GET",
        "/v1/audit/persons/{person:path}/history",
        "audit:read",
        DPO,
        200,
        None,
        url=lambda w: f"/v1/audit/persons/{w.person}/history",
    ),
    Endpoint(
        "GET",
        "/v1/audit/persons/{person:path}/restrictions",
        "audit:read",
        DPO,
        200,
        None,
        url=lambda w: f"/v1/audit/persons/{w.person}/restrictions",
    ),
    Endpoint(
        "POST",
        "/v1/audit/persons/{person:path}/restrictions",
        "audit:restrict",
        DPO,
        201,
        None,
        url=lambda w: f"/v1/audit/persons/{w.person}/restrictions",
        body=lambda w: {"ground": "crime", "recipients": [RECIPIENT]},
    ),
    Endpoint(
        "POST",
        "/v1/audit/restrictions/{restriction_id}/lift",
        "audit:restrict",
        DPO,
        200,
        None,
        url=lambda w: f"/v1/audit/restrictions/{w.restriction_id}/lift",
    ),
    # -- client administration: the hub operator's alone (no agency may hold clients:manage) --
    Endpoint(
        "POST",
        "/v1/admin/clients",
        "clients:manage",
        OPERATOR,
        201,
        None,
        body=lambda w: {"name": "table client", "agency": RECIPIENT, "scopes": ["feed:read"]},
    ),
    Endpoint("GET", "/v1/admin/clients", "clients:manage", OPERATOR, 200, None),
    Endpoint(
        "GET",
        "/v1/admin/clients/{client_id}",
        "clients:manage",
        OPERATOR,
        200,
        None,
        url=lambda w: f"/v1/admin/clients/{w.client_id}",
    ),
    Endpoint(
        "PATCH",
        "/v1/admin/clients/{client_id}",
        "clients:manage",
        OPERATOR,
        200,
        None,
        url=lambda w: f"/v1/admin/clients/{w.client_id}",
        body=lambda w: {"scopes": ["feed:read", "events:read"]},
    ),
    Endpoint(
        "POST",
        "/v1/admin/clients/{client_id}/credentials",
        "clients:manage",
        OPERATOR,
        200,
        None,
        url=lambda w: f"/v1/admin/clients/{w.client_id}/credentials",
        body=lambda w: {},
    ),
]

#: Endpoints any authenticated client may call, whatever its scopes, and why that is safe.
ANY_SCOPE = {
    (
        "GET",
        "/v1/directory",
    ): "recipients, their roles and areas (the bundle's directory); no person",
}

#: The console's routes (served only where an identity provider is configured): for people signed
#: in through OpenID Connect, never for API tokens; who may open each, tested in
#: tests/integration/console/ and tests/integration/test_console_dpo.py.
CONSOLE = {
    ("GET", "/"): "the sign-in page, or the signed-in person's home page",
    ("GET", "/console/login"): "anyone: begins a sign-in at the identity provider",
    ("GET", "/console/callback"): "anyone: the provider's answer, checked (state, PKCE, nonce)",
    ("POST", "/console/logout"): "the signed-in person, with the page's CSRF token",
    ("GET", "/console/static/{name:path}"): "anyone: the console's stylesheets",
    ("GET", "/console/dpo"): "the dpo role only (others: a 403 page); no personal data",
    ("POST", "/console/dpo/person"): "the dpo role only, with the CSRF token; logged as read",
    ("POST", "/console/dpo/subject-access-report"): "the dpo role, CSRF token; logged as read",
    ("POST", "/console/dpo/subject-access-report/pdf"): "the dpo role, CSRF token; logged as read",
    ("POST", "/console/dpo/restrictions"): "the dpo role, CSRF token; logged as a change",
    ("POST", "/console/dpo/restrictions/{restriction_id}/lift"): "the dpo role, CSRF token; logged",
    ("GET", "/console/mappa"): "a MAPPA co-ordinator: to their region's dashboard (others: 403)",
    ("GET", "/console/mappa/{region}"): "that region's co-ordinator only; counts, no personal data",
    ("POST", "/console/mappa/{region}/overdue"): "the region's co-ordinator, CSRF; logged as read",
    ("POST", "/console/mappa/{region}/overdue/disclosure"): "the region's co-ordinator, CSRF; read",
    ("GET", "/console/mappa/{region}/reviews"): "the region's co-ordinator only (its reviews)",
    ("POST", "/console/mappa/{region}/reviews/{proposal_id}"): "the co-ordinator, CSRF; audited",
    ("GET", "/console/audit"): "the dpo and operator roles; verifies the log; no personal data",
    ("GET", "/console/dpo/disclosures"): "the dpo role only; the query form, no personal data",
    ("POST", "/console/dpo/disclosures"): "the dpo role, CSRF token; each query logged as read",
    ("GET", "/console/operator"): "the operator role only; clients, subscriptions, bundle; no data",
    ("GET", "/console/operator/deliveries"): "the operator role only; dead deliveries, no payload",
    ("POST", "/console/operator/deliveries/replay"): "the operator role, CSRF token; a replay",
}

#: Callers that never get past authentication.
UNAUTHENTICATED = ("no token", "malformed", "expired", "wrong audience", "other key")


def route_keys(app: FastAPI) -> set[tuple[str, str]]:
    keys = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                keys.add((method, str(route.path)))
    return keys


def test_every_route_is_in_the_table() -> None:
    app = create_app()
    served = route_keys(app)
    listed = {(e.method, e.path) for e in TABLE} | set(PUBLIC) | set(ANY_SCOPE)
    assert len(served) > 30  # the enumeration itself works (FastAPI changed it once)
    assert served - listed == set(), "routes the authorisation table does not list"
    assert listed - served == set(), "table rows for routes that do not exist"
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= {(method, path.replace(":path}", "}")) for method, path in served}


def test_every_console_route_is_in_the_table() -> None:
    with_console = create_app(
        Settings(
            environment="test",
            oidc_issuer="http://127.0.0.1:8180/realms/pph",
            oidc_client_id="pph-console",
            console_role_map={"hub-dpo": "dpo"},
        )
    )
    assert route_keys(with_console) - route_keys(create_app()) == set(CONSOLE)


@dataclass
class Hub:
    app: FastAPI
    http: httpx.AsyncClient
    container: Container
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    client_ids: dict[tuple[str, str], str] = field(default_factory=dict)

    async def token(self, agency: str, scopes: str) -> str:
        """A token of a client of `agency` holding `scopes` (one client per pair)."""
        key = (agency, scopes)
        if key not in self.tokens:
            client, secret = await register_client(
                self.container.clients,
                name=f"table {agency}",
                agency=agency,
                scopes=scopes.split(),
                hash_secret=hash_secret,
            )
            answer = await self.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, secret),
            )
            assert answer.status_code == 200, answer.text
            self.tokens[key] = answer.json()["access_token"]
            self.client_ids[key] = client.client_id
        return self.tokens[key]


@asynccontextmanager
async def running(database: Database) -> AsyncIterator[Hub]:
    settings = database.settings.model_copy(
        update={
            "delivery_enabled": False,
            "router_poll_interval": 0.05,
            "webhook_allow_private_addresses": True,
            "feed_heartbeat_seconds": 0.1,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            yield Hub(app, http, app.state.container)


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[Hub]:
    async with running(database) as running_hub:
        yield running_hub


async def build_world(hub: Hub) -> World:
    world = World()
    manager = bearer(await hub.token(RECIPIENT, "subscriptions:manage"))
    for name in ("main", "disable", "delete"):
        made = await hub.http.post("/v1/subscriptions", json={"url": LOCAL_URL}, headers=manager)
        assert made.status_code == 201, made.text
        world.subscriptions[name] = made.json()["id"]
    release = example("release.schedule1-notification")
    release["id"] = str(uuid.uuid4())
    publisher = bearer(await hub.token(PUBLISHER, "events:publish"))
    pushed = await hub.http.post("/v1/events", json=release, headers=publisher)
    assert pushed.status_code == 201, pushed.text
    world.event_id, world.event_source = release["id"], release["source"]
    world.person = f"sps_number:{release['identifiers']['sps_number']}"
    await hub.container.router().run_until_idle()
    feed = await hub.http.get("/v1/feed", headers=bearer(await hub.token(RECIPIENT, "feed:read")))
    [item] = feed.json()["items"]
    world.disclosure_id = item["disclosure_id"]
    deliveries = await hub.container.deliveries.find(RECIPIENT)
    mine = [d for d in deliveries if d.subscription_id == world.subscriptions["main"]]
    world.delivery_id = mine[0].delivery_id
    await hub.container.audit_sequencer().run_once()
    await hub.container.audit_checkpointer().run_once()
    restricted = await hub.http.post(
        f"/v1/audit/persons/{world.person}/restrictions",
        json={"ground": "crime"},
        headers=bearer(await hub.token(DPO, "audit:restrict")),
    )
    assert restricted.status_code == 201, restricted.text
    world.restriction_id = restricted.json()["restriction_id"]
    world.proposals = await propose(hub, world.disclosure_id)
    await hub.token(RECIPIENT, "feed:read policy:explain")
    world.client_id = hub.client_ids[(RECIPIENT, "feed:read policy:explain")]
    return world


async def propose(hub: Hub, disclosure_id: str) -> dict[str, str]:
    """Two proposals of the same notification to other recipients, reviewed by REVIEWER, as
    the router records them for a rule with `review` (the Scotland bundle has none yet)."""
    async with hub.container.engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    sa.select(tables.disclosures).where(
                        tables.disclosures.c.disclosure_id == disclosure_id
                    )
                )
            )
            .mappings()
            .one()
        )
    disclosed = disclosure_from_document(
        {**row, "decided_at": utc(row["decided_at"]).isoformat(), "supplied_identifiers": None}
    )
    made = {}
    for name, recipient in (("approve", OTHER_RECIPIENT), ("decline", "sw-city-of-edinburgh")):
        proposal = Proposal(
            disclosure=replace(
                disclosed, disclosure_id=f"d_{uuid.uuid4().hex}", recipient_id=recipient
            ),
            rules=tuple(disclosed.rules),
            reviewers=(REVIEWER,),
            escalate_at=None,
        )
        async with hub.container.engine.begin() as connection:
            await record_proposals(
                connection, hub.container.audit_log, [proposal], datetime.now(UTC)
            )
        made[name] = proposal.proposal_id
    return made


async def stream_opening(app: FastAPI, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """The status and first body chunk of a streaming response, then disconnect (httpx's ASGI
    transport waits for the whole body, which a live stream never ends)."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    chunk: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    disconnect = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not hasattr(receive, "sent"):
            receive.sent = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])
        elif message["type"] == "http.response.body" and not chunk.done():
            chunk.set_result(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("hub.test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    try:
        status = await asyncio.wait_for(started, 30)
        body = await asyncio.wait_for(chunk, 30)
    finally:
        disconnect.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return status, body


async def call(
    hub: Hub, world: World, endpoint: Endpoint, headers: dict[str, str]
) -> tuple[int, str]:
    headers = headers | PURPOSE
    if endpoint.stream:
        status, body = await stream_opening(hub.app, endpoint.target(world), headers)
        return status, body.decode("utf-8", "replace")
    body = endpoint.body(world) if endpoint.body else None
    answer = await hub.http.request(
        endpoint.method, endpoint.target(world), json=body, headers=headers
    )
    return answer.status_code, answer.text


def forged_tokens(hub: Hub, client_id: str, agency: str, scope: str) -> dict[str, str]:
    settings = hub.container.settings
    key = load_signing_key(settings)
    expired = TokenService(
        key,
        issuer=settings.issuer,
        audience=settings.token_audience,
        lifetime_seconds=60,
        clock=lambda: time.time() - 3600,
    )
    elsewhere = TokenService(
        key, issuer=settings.issuer, audience="urn:pph:another-api", lifetime_seconds=60
    )
    stranger = TokenService(
        signing_key_from_pem(generate_pem()),
        issuer=settings.issuer,
        audience=settings.token_audience,
        lifetime_seconds=60,
    )

    def issue(service: TokenService) -> str:
        return service.issue(client_id=client_id, agency=agency, scopes=[scope]).access_token

    return {
        "expired": issue(expired),
        "wrong audience": issue(elsewhere),
        "other key": issue(stranger),
    }


@pytest.mark.asyncio
async def test_authorization_table(hub: Hub) -> None:
    world = await build_world(hub)
    failures: list[str] = []

    def expect(endpoint: Endpoint, caller: str, status: int, got: int, text: str) -> None:
        if got != status:
            failures.append(
                f"{endpoint.method} {endpoint.path} as {caller}: {got}, expected {status}: "
                f"{text[:200]}"
            )
        if "Traceback" in text:
            failures.append(f"{endpoint.method} {endpoint.path} as {caller}: a stack trace")

    for endpoint in TABLE:
        right = await hub.token(endpoint.owner, endpoint.scope)
        client_id = hub.client_ids[(endpoint.owner, endpoint.scope)]
        forged = forged_tokens(hub, client_id, endpoint.owner, endpoint.scope)
        unauthenticated = {
            "no token": {},
            "malformed": {"Authorization": "Bearer not.a-token"},
            **{name: bearer(token) for name, token in forged.items()},
        }
        for caller, headers in unauthenticated.items():
            got, text = await call(hub, world, endpoint, headers)
            expect(endpoint, caller, 401, got, text)

        lacking = "events:read" if endpoint.scope == "policy:explain" else "policy:explain"
        got, text = await call(
            hub, world, endpoint, bearer(await hub.token(endpoint.owner, lacking))
        )
        expect(endpoint, "missing scope", 403, got, text)

        if endpoint.wrong_agency is not None:
            other = bearer(await hub.token(endpoint.other_agency, endpoint.scope))
            got, text = await call(hub, world, endpoint, other)
            if endpoint.wrong_agency == "absent":
                expect(endpoint, "wrong agency", 200, got, text)
                assert endpoint.absent is not None
                if endpoint.absent(world) in text:
                    failures.append(f"{endpoint.method} {endpoint.path}: leaks to another agency")
            else:
                assert isinstance(endpoint.wrong_agency, int)
                expect(endpoint, "wrong agency", endpoint.wrong_agency, got, text)

        got, text = await call(hub, world, endpoint, bearer(right))
        expect(endpoint, "right", endpoint.right, got, text)
        if endpoint.absent is not None and endpoint.absent(world) not in text:
            failures.append(f"{endpoint.method} {endpoint.path}: the owner does not see its own")

    assert not failures, "\n".join(failures)


@pytest.mark.asyncio
async def test_public_endpoints_answer_without_a_token(hub: Hub) -> None:
    for method, path in PUBLIC:
        if path == "/oauth/token":
            continue  # its own tests: test_oauth_token.py, test_client_auth.py
        # A path parameter: one real value (an event schema of events/).
        answer = await hub.http.request(method, path.replace("{name}", "envelope.v1.schema.json"))
        assert answer.status_code in (200, 503), (path, answer.status_code)
        assert "Traceback" not in answer.text


@pytest.mark.asyncio
async def test_any_scope_endpoints_need_a_token_and_no_particular_scope(hub: Hub) -> None:
    for method, path in ANY_SCOPE:
        for scopes in ("feed:read", "events:publish", "audit:read"):
            answer = await hub.http.request(
                method, path, headers=bearer(await hub.token(RECIPIENT, scopes))
            )
            assert answer.status_code == 200, (path, scopes, answer.text)
        for headers in ({}, {"Authorization": "Bearer not.a-token"}):
            answer = await hub.http.request(method, path, headers=headers)
            assert answer.status_code == 401, (path, answer.text)


# -- a client is bound to one directory agency, and publishes only from that agency's sources --

SOURCES = [
    # (source, agency, may publish)
    ("urn:pph:sps:pr2:hmp-barlinnie", "sps", True),
    ("urn:pph:sps:pr2:hmp-barlinnie", "hmp-barlinnie", True),
    ("urn:pph:sps:pr2:hmp-barlinnie", "hmp-shotts", False),
    ("urn:pph:sps:pr2:hmp-barlinnie", "police-scotland", False),
    ("urn:pph:police-scotland:visor", "police-scotland", True),
    ("urn:pph:police-scotland:visor", "sps", False),
    ("urn:pph:police-scotland:sps", "sps", False),
    (
        "urn:pph:nhs:nhs-greater-glasgow-and-clyde:prison-healthcare",
        "nhs-greater-glasgow-and-clyde",
        True,
    ),
    ("urn:pph:nhs:nhs-greater-glasgow-and-clyde:prison-healthcare", "nhs-lothian", False),
    ("urn:pph:socialwork:S12000049", "sw-glasgow-city", True),
    ("urn:pph:socialwork:S12000046", "sw-glasgow-city", True),  # Glasgow's former code
    ("urn:pph:socialwork:S12000049", "sw-fife", False),
    ("urn:pph:socialwork:S12000049", "cp-glasgow-city", False),
    ("urn:pph:mappa:S12000049", "mappa-glasgow", True),
    ("urn:pph:mappa:S12000049", "police-division-g", False),
    ("urn:pph:scottish-ministers:community-licence-team", "parole-board-scotland", False),
    ("urn:pph:sps", "sps", False),
    ("https://sps.example/pr2", "sps", False),
    ("urn:pph:hub:overdue", "hub-operator", False),
]


@pytest.mark.asyncio
async def test_which_agency_owns_a_source(hub: Hub) -> None:
    directory = hub.container.policy.directory
    wrong = [
        (source, agency)
        for source, agency, expected in SOURCES
        if source_belongs_to(source, agency, directory) is not expected
    ]
    assert wrong == []
    # Every example but the hub's own has an owner in the directory; the recall's is the
    # Scottish Ministers' alone.
    for path in sorted(examples_dir().glob("*.json")):
        source = json.loads(path.read_text())["source"]
        owners = [a for a in directory.recipients if source_belongs_to(source, a, directory)]
        if source.startswith("urn:pph:hub:"):
            assert owners == [], source
        elif source.startswith("urn:pph:scottish-ministers:"):
            assert owners == ["scottish-ministers"], source
        else:
            assert owners, source


@pytest.mark.asyncio
async def test_the_scottish_ministers_publish_a_recall_and_nobody_else_can(hub: Hub) -> None:
    recall = json.loads((examples_dir() / "licence.recall.json").read_text())
    police = bearer(await hub.token("police-scotland", "events:publish"))
    before = await snapshot(hub)
    refused = await hub.http.post("/v1/events", json=recall, headers=police)
    assert refused.status_code == 403, refused.text
    assert await snapshot(hub) == before
    ministers = bearer(await hub.token("scottish-ministers", "events:publish"))
    stored = await hub.http.post("/v1/events", json=recall, headers=ministers)
    assert stored.status_code == 201, stored.text


@pytest.mark.asyncio
async def test_publishing_from_another_agencys_source_is_refused_and_stores_nothing(
    hub: Hub,
) -> None:
    police = bearer(await hub.token("police-scotland", "events:publish"))
    before = await snapshot(hub)
    foreign = _notification()  # urn:pph:sps:pr2:hmp-barlinnie

    one = await hub.http.post("/v1/events", json=foreign, headers=police)
    batch = await hub.http.post("/v1/events/batch", json=[_other_source(), foreign], headers=police)

    for answer in (one, batch):
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "urn:pph:sps:pr2:hmp-barlinnie" in answer.json()["detail"]
    assert await snapshot(hub) == before
    own = await hub.http.post("/v1/events", json=_other_source(), headers=police)
    assert own.status_code == 201, own.text


async def snapshot(hub: Hub) -> list[Any]:
    async with hub.container.engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT source, event_id FROM events"))
        return sorted(map(tuple, rows.all()))


async def hub_cli(database: Database, *argv: str) -> tuple[int, str]:
    args = cli_parser().parse_args(list(argv))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status: int = await args.run(args, database.settings)
    except HubError as error:
        return 2, error.message
    return status, out.getvalue()


@pytest.mark.asyncio
async def test_clients_are_registered_only_for_directory_agencies_or_hub_roles(
    database: Database,
) -> None:
    base = ("clients", "add", "--name", "test", "--scope", "feed:read", "--json")
    refused, message = await hub_cli(database, *base, "--agency", "sw-atlantis")
    assert refused == 2
    assert "sw-atlantis" in message
    assert "directory" in message

    for agency in ("sw-glasgow-city", "hub-dpo", "hub-operator"):
        status, out = await hub_cli(database, *base, "--agency", agency)
        assert status == 0, out
        assert json.loads(out)["agency"] == agency
