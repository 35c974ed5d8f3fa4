"""Hostile JSON and hostile tokens through the real app, on both backends (issue 13, finding 9).

Deeply nested JSON, huge integers, control characters and lone surrogates in bodies; tokens and
client assertions whose JSON is nested a thousand deep or whose claims are out of range; dates
that overflow when moved to UTC. Every one is a 4xx RFC 9457 problem (or an OAuth error on the
token endpoint) that names what was wrong, never a 500, and nothing is stored."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from joserfc import jwt
from joserfc.jwk import ECKey

from hub.auth.client_keys import public_jwks
from hub.auth.keys import load_signing_key
from hub.services.clients import SCOPES, register_key_client
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

pytestmark = pytest.mark.asyncio

DEEP = 1_000
#: Every endpoint that reads a JSON body, with the scope it needs.
JSON_ENDPOINTS = [
    ("POST", "/v1/events"),
    ("POST", "/v1/events/batch"),
    ("POST", "/v1/subscriptions"),
    ("PATCH", "/v1/subscriptions/sub_unknown"),
    ("POST", "/v1/policy/explain"),
    ("POST", "/v1/audit/persons/sps_number:1000001/restrictions"),
]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"rate_limit_burst": 100_000})
    async with running_hub(settings) as running:
        yield running


def fresh(event_type: str = "custody.admission") -> dict[str, Any]:
    notification = example(event_type)
    notification["id"] = str(uuid.uuid4())
    return notification


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_problem(answer: Any, status: int | None = None) -> dict[str, Any]:
    assert answer.status_code < 500, answer.text
    assert answer.status_code >= 400, answer.text
    if status is not None:
        assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: dict[str, Any] = answer.json()
    assert body["detail"]
    assert "Traceback" not in answer.text
    return body


def pointers(body: dict[str, Any]) -> set[str]:
    return {e["pointer"] for e in body.get("errors", [])}


async def post_raw(hub: RunningHub, token: str, text: str, path: str = "/v1/events") -> Any:
    return await hub.http.post(
        path,
        content=text.encode("utf-8", "surrogatepass"),
        headers=bearer(token) | {"Content-Type": "application/json"},
    )


# --- unauthenticated: tokens and client assertions ------------------------------------------


async def test_a_bearer_token_nested_a_thousand_deep_is_refused_as_malformed(
    hub: RunningHub,
) -> None:
    kid = load_signing_key(hub.container.settings).kid
    # Under the 4,096-character limit on tokens, so only the nesting can be wrong.
    deep = b64(nested(DEEP).encode())
    good_header = b64(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": kid}).encode())
    for token in (f"{deep}.e30.c2ln", f"{good_header}.{deep}.c2ln"):
        assert len(token) < 4096
        answer = await hub.http.get("/v1/feed", headers=bearer(token))
        assert answer.status_code == 401, answer.text
        assert answer.json()["detail"] in ("malformed token", "invalid token signature")


async def test_a_client_assertion_nested_a_thousand_deep_is_an_invalid_client(
    hub: RunningHub,
) -> None:
    deep = b64(nested(DEEP).encode())
    plain = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    for assertion in (f"{deep}.e30.c2ln", f"{plain}.{deep}.c2ln"):
        answer = await hub.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        assert answer.status_code in (400, 401), answer.text
        assert answer.json()["error"] in ("invalid_client", "invalid_request")


async def test_a_signed_assertion_with_a_huge_exp_is_an_invalid_client(hub: RunningHub) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    client = await register_key_client(
        hub.container.clients,
        name="keyed sps",
        agency="sps",
        scopes="events:publish",
        jwks=public_jwks(json.dumps({"keys": [key.as_dict(private=False)]})),
    )
    now = int(time.time())
    for claims in ({"exp": 10**30}, {"exp": now + 60, "iat": 10**30}, {"exp": -(10**30)}):
        signed = jwt.encode(
            {"alg": "ES256"},
            {
                "iss": client.client_id,
                "sub": client.client_id,
                "aud": hub.container.settings.issuer,
                "jti": str(uuid.uuid4()),
                **claims,
            },
            key,
        )
        answer = await hub.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": signed,
            },
        )
        assert answer.status_code == 401, (claims, answer.text)
        assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63, 1e300])
async def test_a_signed_token_with_an_out_of_range_time_claim_is_refused(
    hub: RunningHub, claim: str, value: float
) -> None:
    await hub.token("sps")  # a registered client, so only the claim can be wrong
    key = load_signing_key(hub.container.settings)
    now = int(time.time())
    claims = {
        "iss": hub.container.settings.issuer,
        "aud": hub.container.settings.token_audience,
        "sub": "cl_x",
        "client_id": "cl_x",
        "iat": now,
        "exp": now + 60,
        "jti": "j",
        "scope": "events:read",
        "agency": "sps",
        claim: value,
    }
    header = {"alg": key.algorithm, "typ": "at+jwt", "kid": key.kid}
    token = jwt.encode(header, claims, key.jwk, algorithms=[key.algorithm])
    answer = await hub.http.get("/v1/feed", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert claim in answer.json()["detail"]


# --- authenticated: JSON bodies --------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
async def test_json_nested_a_thousand_deep_is_refused_on_every_json_endpoint(
    hub: RunningHub, method: str, path: str
) -> None:
    token = await hub.token("sps", " ".join(SCOPES))
    before = await hub.snapshot()
    for text in (nested(DEEP), '{"a":' * DEEP + "1" + "}" * DEEP, nested(100_000)):
        answer = await hub.http.request(
            method,
            path,
            content=text,
            headers=bearer(token) | {"Content-Type": "application/json", "X-Purpose": "test"},
        )
        body = assert_problem(answer, 400)
        assert "deep" in body["detail"]
    assert await hub.snapshot() == before


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
async def test_a_huge_number_is_refused_on_every_json_endpoint(
    hub: RunningHub, method: str, path: str
) -> None:
    token = await hub.token("sps", " ".join(SCOPES))
    before = await hub.snapshot()
    for number in ("9" * 5_000, "-" + "9" * 5_000, "1" * 400 + ".5", "1e99999"):
        answer = await hub.http.request(
            method,
            path,
            content='{"n": ' + number + "}",
            headers=bearer(token) | {"Content-Type": "application/json", "X-Purpose": "test"},
        )
        body = assert_problem(answer, 400)
        assert "/n" in pointers(body), body
    assert await hub.snapshot() == before


@pytest.mark.parametrize(
    "bad_id", ["a\u0000b", "a\nb", "a\tb", "\ud800", "a\udfffb", "x/y", "a b", " a", "é"]
)
async def test_an_id_outside_its_character_set_is_refused_naming_the_id(
    hub: RunningHub, bad_id: str
) -> None:
    token = await hub.token("sps")
    before = await hub.snapshot()
    notification = fresh()
    notification["id"] = bad_id
    answer = await post_raw(hub, token, json.dumps(notification))
    # 400 from the parser (NUL, a lone surrogate), 422 from the schema (the character set).
    body = assert_problem(answer)
    assert answer.status_code in (400, 422), answer.text
    assert "/id" in pointers(body), body
    assert await hub.snapshot() == before


@pytest.mark.parametrize("bad", ["a\u0000b", "\ud83d", "x\x1bz", "\u0085x"])
async def test_a_control_character_or_lone_surrogate_anywhere_is_refused_naming_the_field(
    hub: RunningHub, bad: str
) -> None:
    token = await hub.token("sps")
    before = await hub.snapshot()
    notification = fresh()
    notification["data"]["committing_court"] = bad
    notification["subject"] = "ok"
    answer = await post_raw(hub, token, json.dumps(notification))
    body = assert_problem(answer, 400)
    assert "/data/committing_court" in pointers(body), body
    # The same in the batch endpoint, and in a key rather than a value.
    batch = [fresh(), {**fresh(), "extra" + bad: 1}]
    answer = await post_raw(hub, token, json.dumps(batch), "/v1/events/batch")
    body = assert_problem(answer, 400)
    assert any(p.startswith("/1/") for p in pointers(body)), body
    assert await hub.snapshot() == before


async def test_free_text_may_still_hold_newlines_and_tabs(hub: RunningHub) -> None:
    token = await hub.token("sps")
    notification = fresh()
    notification["data"]["committing_court"] = "Glasgow\tSheriff\nCourt"
    answer = await post_raw(hub, token, json.dumps(notification))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("time_value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_notification_time_that_overflows_in_utc_is_refused(
    hub: RunningHub, time_value: str
) -> None:
    token = await hub.token("sps")
    before = await hub.snapshot()
    notification = fresh()
    notification["time"] = time_value
    body = assert_problem(
        await hub.http.post("/v1/events", json=notification, headers=bearer(token)), 422
    )
    assert "/time" in pointers(body), body
    assert await hub.snapshot() == before


@pytest.mark.parametrize("parameter", ["since", "until"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_query_date_that_overflows_in_utc_is_refused(
    hub: RunningHub, parameter: str, value: str
) -> None:
    token = await hub.token("dpo", "audit:read")
    for path in ("/v1/audit/disclosures", "/v1/audit/entries"):
        answer = await hub.http.get(
            path, params={parameter: value}, headers=bearer(token) | {"X-Purpose": "test"}
        )
        body = assert_problem(answer)
        assert any(parameter in p for p in pointers(body)), body
