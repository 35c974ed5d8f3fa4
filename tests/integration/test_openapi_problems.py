"""The problem details the hub really answers, on both backends, are what the OpenAPI document
declares: each status is declared for its operation as `application/problem+json`, and each body
validates against the documented `Problem` schema and uses only the members it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator

from hub.api.problems import PROBLEM_JSON
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    async with running_hub(database.settings) as running:
        yield running


def _check(document: dict[str, Any], path: str, method: str, answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].split(";")[0] == PROBLEM_JSON
    declared = document["paths"][path][method]["responses"]
    assert str(status) in declared, f"{method} {path} answered {status}, which it does not declare"
    assert list(declared[str(status)]["content"]) == [PROBLEM_JSON]
    schema = document["components"]["schemas"]["Problem"]
    body = answer.json()
    Draft202012Validator(schema).validate(body)
    assert set(body) <= set(schema["properties"]), set(body) - set(schema["properties"])
    item_members = set(schema["properties"]["errors"]["items"]["properties"])
    for item in body.get("errors", []):
        assert set(item) <= item_members, item


@pytest.mark.asyncio
async def test_real_problems_are_the_documented_ones(hub: RunningHub) -> None:
    document = (await hub.http.get("/openapi.json")).json()
    publisher = bearer(await hub.token("sps", "events:publish events:read"))
    notification = example("custody.admission")
    invalid = {k: v for k, v in notification.items() if k != "data"}

    answer = await hub.http.post("/v1/events", json=notification)
    _check(document, "/v1/events", "post", answer, 401)

    answer = await hub.http.post(
        "/v1/events", content=b"{}", headers=publisher | {"Content-Type": "text/plain"}
    )
    _check(document, "/v1/events", "post", answer, 415)

    answer = await hub.http.post(
        "/v1/events",
        content=b'{"id": 1, "id": 2}',
        headers=publisher | {"Content-Type": "application/json"},
    )
    _check(document, "/v1/events", "post", answer, 400)

    answer = await hub.http.post("/v1/events", json=invalid, headers=publisher)
    _check(document, "/v1/events", "post", answer, 422)
    assert answer.json()["errors"]

    answer = await hub.http.post(
        "/v1/events/batch", json=[notification, invalid], headers=publisher
    )
    _check(document, "/v1/events/batch", "post", answer, 422)
    assert answer.json()["errors"][0]["index"] == 1

    answer = await hub.http.post("/v1/events", json=example("person.missing"), headers=publisher)
    _check(document, "/v1/events", "post", answer, 403)

    answer = await hub.http.get("/v1/events/no-such-id", headers=publisher)
    _check(document, "/v1/events/{event_id}", "get", answer, 404)

    answer = await hub.http.get(
        "/v1/events/no-such-id", params={"source": "a\x00b"}, headers=publisher
    )
    _check(document, "/v1/events/{event_id}", "get", answer, 422)

    answer = await hub.http.get("/v1/feed", headers=publisher)
    _check(document, "/v1/feed", "get", answer, 403)

    reader = bearer(await hub.token("sps", "feed:read"))
    answer = await hub.http.get("/v1/feed", params={"limit": 0}, headers=reader)
    _check(document, "/v1/feed", "get", answer, 422)

    answer = await hub.http.post("/v1/disclosures/nope/ack", headers=reader)
    _check(document, "/v1/disclosures/{disclosure_id}/ack", "post", answer, 404)
