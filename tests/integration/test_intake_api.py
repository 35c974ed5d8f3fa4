"""Notification intake through the HTTP API, on both backends: accepted, duplicate, and every
kind of rejection — each rejection leaving the store exactly as it was."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.infra.tables import disclosures
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli

CORE_TYPES = [
    "custody.admission",
    "release.schedule1-notification",
    "licence.recall",
    "mappa.referral",
]
PUBLISHER_OF = {
    "custody.admission": "sps",
    "release.schedule1-notification": "sps",
    "licence.recall": "scottish-ministers",
    "mappa.referral": "sw-glasgow-city",
}


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"max_request_bytes": 64 * 1024})
    async with running_hub(settings) as running:
        yield running


def fresh(event_type: str = "custody.admission") -> dict[str, Any]:
    notification = example(event_type)
    notification["id"] = str(uuid.uuid4())
    return notification


def assert_problem(answer: Any, status: int, slug: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"] == f"urn:pph:problem:{slug}"
    assert body["detail"]
    assert "Traceback" not in answer.text
    assert "SELECT" not in answer.text
    return body


@pytest.mark.asyncio
@pytest.mark.parametrize("event_type", CORE_TYPES)
async def test_each_example_is_accepted_once(hub: RunningHub, event_type: str) -> None:
    # Each from the agency that owns its source (hub.services.intake.source_belongs_to).
    token = await hub.token(PUBLISHER_OF[event_type])
    notification = example(event_type)

    first = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    assert first.status_code == 201, first.text
    accepted = first.json()
    assert accepted["duplicate"] is False
    assert accepted["id"] == notification["id"]
    assert accepted["stream_version"] == 1
    assert first.headers["location"].startswith("/v1/events/")

    again = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    assert again.status_code == 200, again.text
    assert again.json() == {**accepted, "duplicate": True}
    assert await hub.container.store.count() == 1


@pytest.mark.asyncio
async def test_published_notification_reads_back_to_its_agency_only(hub: RunningHub) -> None:
    sps = await hub.token("sps")
    police = await hub.token("police-scotland")
    notification = fresh()
    pushed = await hub.http.post("/v1/events", json=notification, headers=bearer(sps))
    assert pushed.status_code == 201

    mine = await hub.http.get(pushed.headers["location"], headers=bearer(sps))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["position"] == pushed.json()["position"]
    assert body["notification"]["data"] == notification["data"]
    assert body["notification"]["identifiers"] == notification["identifiers"]

    theirs = await hub.http.get(f"/v1/events/{notification['id']}", headers=bearer(police))
    assert_problem(theirs, 404, "not-found")


@pytest.mark.asyncio
async def test_schema_violations_name_each_field_and_store_nothing(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    notification = fresh()
    del notification["data"]["establishment"]
    notification["time"] = "yesterday"
    notification["data"]["unexpected"] = 1

    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))

    body = assert_problem(answer, 422, "invalid-notification")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/data/establishment", "/time", "/data/unexpected"} <= pointers
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_unknown_type_is_rejected(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    notification = fresh()
    notification["type"] = "custody.teleportation"
    notification["dataschema"] = "urn:pph:events:custody.teleportation:v1"

    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))

    body = assert_problem(answer, 422, "unknown-event-type")
    assert body["errors"][0]["pointer"] in {"/type", "/dataschema"}
    assert await hub.snapshot() == before


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"id": "x", ', "not valid JSON"),
        (b"", "empty"),
        (b'{"a": 1, "a": 2}', "appears twice"),
        (b'{"a": NaN}', "NaN"),
        (b"\xff\xfe", "not UTF-8"),
    ],
    ids=["truncated", "empty", "duplicate-key", "nan", "not-utf8"],
)
async def test_bad_json_is_rejected(hub: RunningHub, body: bytes, fragment: str) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    answer = await hub.http.post(
        "/v1/events",
        content=body,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    problem = assert_problem(answer, 400, "invalid-input")
    assert fragment in problem["detail"]
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_wrong_media_type_is_rejected(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    answer = await hub.http.post(
        "/v1/events",
        content=json.dumps(fresh()),
        headers={**bearer(token), "Content-Type": "text/plain"},
    )
    assert_problem(answer, 415, "unsupported-media-type")
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_oversized_body_is_rejected(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    notification = fresh()
    notification["subject"] = "x" * (70 * 1024)
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    body = assert_problem(answer, 413, "payload-too-large")
    assert "65536" in body["detail"]
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_missing_and_invalid_tokens_are_refused(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    notification = fresh()

    missing = await hub.http.post("/v1/events", json=notification)
    assert_problem(missing, 401, "authentication-failed")
    assert missing.headers["www-authenticate"].startswith("Bearer")

    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    invalid = await hub.http.post("/v1/events", json=notification, headers=bearer(tampered))
    assert_problem(invalid, 401, "authentication-failed")

    garbage = await hub.http.post("/v1/events", json=notification, headers=bearer("not-a-jwt"))
    assert_problem(garbage, 401, "authentication-failed")
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_missing_scope_is_forbidden(hub: RunningHub) -> None:
    reader = await hub.token(scopes="events:read")
    before = await hub.snapshot()
    answer = await hub.http.post("/v1/events", json=fresh(), headers=bearer(reader))
    body = assert_problem(answer, 403, "permission-denied")
    assert "events:publish" in body["detail"]
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_reused_id_with_different_content_conflicts(hub: RunningHub) -> None:
    token = await hub.token()
    notification = fresh()
    assert (await hub.http.post("/v1/events", json=notification, headers=bearer(token))).is_success
    before = await hub.snapshot()

    notification["subject"] = "a different notification under the same id"
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))

    assert_problem(answer, 409, "event-id-reused")
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_identifiers_of_two_people_conflict(hub: RunningHub) -> None:
    token = await hub.token()
    first, second = fresh(), fresh()
    first["identifiers"] = {"sps_number": "1000001"}
    second["identifiers"] = {"sps_number": "1000002"}
    for n in (first, second):
        assert (await hub.http.post("/v1/events", json=n, headers=bearer(token))).status_code == 201
    before = await hub.snapshot()

    both = fresh()
    both["identifiers"] = {"sps_number": "1000001", "pnc_id": "09/123456A"}
    linking = await hub.http.post("/v1/events", json=both, headers=bearer(token))
    assert linking.status_code == 201, linking.text
    after_link = await hub.snapshot()
    assert after_link != before

    clash = fresh()
    clash["identifiers"] = {"sps_number": "1000002", "pnc_id": "09/123456A"}
    answer = await hub.http.post("/v1/events", json=clash, headers=bearer(token))
    problem = assert_problem(answer, 409, "identifier-conflict")
    assert await hub.snapshot() == after_link

    # Refused, never merged: the notification waits on the review list with who claimed what.
    [case] = await hub.container.conflicts.list_cases()
    assert case.review_id in problem["detail"]
    assert (case.source, case.event_id) == (clash["source"], clash["id"])
    assert case.kind == "two-people"
    assert set(case.claims) == {"sps_number:1000002", "pnc_id:09/123456A"}
    assert case.claims["sps_number:1000002"] != case.claims["pnc_id:09/123456A"]
    # The publisher is told which schemes clash, never whom the hub holds them for nor which
    # value another record holds.
    for person_id in case.claims.values():
        assert person_id not in answer.text
    assert "1000002" not in answer.text
    assert "09/123456A" not in answer.text
    assert "sps_number" in problem["detail"]
    assert "pnc_id" in problem["detail"]
    assert {e["pointer"] for e in problem["errors"]} == {
        "/identifiers/sps_number",
        "/identifiers/pnc_id",
    }
    assert case.notification["data"] == clash["data"]

    resolved = await hub.container.conflicts.resolve(
        case.review_id, resolution="PNC ID mistyped by the sender", resolved_by="operator"
    )
    assert not resolved.is_open
    assert await hub.container.conflicts.list_cases() == []
    assert len(await hub.container.conflicts.list_cases(include_resolved=True)) == 1


async def disclosures_of(hub: RunningHub, event_id: str) -> list[Any]:
    async with hub.container.engine.connect() as connection:
        query = sa.select(disclosures.c.recipient_id).where(disclosures.c.event_id == event_id)
        return list((await connection.execute(query)).all())


@pytest.mark.asyncio
async def test_a_second_sps_number_is_parked_and_the_publisher_told_only_the_scheme(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = await hub.token()
    first = fresh()
    first["identifiers"] = {"sps_number": "1000001", "pnc_id": "09/123456A"}
    accepted = await hub.http.post("/v1/events", json=first, headers=bearer(token))
    assert accepted.status_code == 201, accepted.text
    person_id = accepted.json()["person_id"]
    before = await hub.snapshot()

    # The PNC ID is that person's, the SPS number a new one: a second SPS number for them.
    second = fresh()
    second["identifiers"] = {"sps_number": "1000002", "pnc_id": "09/123456A"}
    answer = await hub.http.post("/v1/events", json=second, headers=bearer(token))

    problem = assert_problem(answer, 409, "identifier-conflict")
    assert "sps_number" in problem["detail"]
    assert problem["conflict"] == "second-value"
    assert [e["pointer"] for e in problem["errors"]] == ["/identifiers/sps_number"]
    assert "1000001" not in answer.text  # the other record's SPS number
    assert person_id not in answer.text
    assert await hub.snapshot() == before
    await hub.container.router().run_until_idle()
    assert await disclosures_of(hub, second["id"]) == []

    [case] = await hub.container.conflicts.list_cases()
    assert case.review_id in problem["detail"]
    assert problem["review_id"] == case.review_id
    assert case.kind == "second-value"
    assert case.kind_title == "second value of a single-valued scheme"
    assert case.claims == {"pnc_id:09/123456A": person_id, "sps_number:1000001": person_id}
    assert case.second_values == ["sps_number:1000002"]
    assert (case.source, case.event_id) == (second["source"], second["id"])

    # The operator's review list says what kind of conflict it is.
    capsys.readouterr()
    assert await run_cli(database, monkeypatch, "persons", "conflicts") == 0
    shown = capsys.readouterr().out
    assert case.review_id in shown
    assert "second value of a single-valued scheme" in shown
    assert "sps_number:1000002 would be a second value for its person" in shown
    assert await run_cli(database, monkeypatch, "persons", "conflicts", "--json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["kind"], listed["second_values"]) == ("second-value", ["sps_number:1000002"])


@pytest.mark.asyncio
async def test_a_second_sps_number_in_a_batch_parks_it_and_stores_nothing(
    hub: RunningHub,
) -> None:
    token = await hub.token()
    first = fresh()
    first["identifiers"] = {"sps_number": "1000001", "pnc_id": "09/123456A"}
    assert (await hub.http.post("/v1/events", json=first, headers=bearer(token))).is_success
    before = await hub.snapshot()

    innocent, culprit = fresh(), fresh()
    innocent["identifiers"] = {"sps_number": "1000009"}
    culprit["identifiers"] = {"sps_number": "1000002", "pnc_id": "09/123456A"}
    answer = await hub.http.post(
        "/v1/events/batch", json=[innocent, culprit], headers=bearer(token)
    )

    problem = assert_problem(answer, 409, "identifier-conflict")
    assert "sps_number" in problem["detail"]
    assert "1000001" not in answer.text
    assert await hub.snapshot() == before
    [case] = await hub.container.conflicts.list_cases()
    assert (case.kind, case.event_id) == ("second-value", culprit["id"])


@pytest.mark.asyncio
async def test_batch_is_all_or_nothing_and_names_index_and_field(hub: RunningHub) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    batch = [fresh(t) for t in CORE_TYPES]
    del batch[1]["data"][next(iter(batch[1]["data"]))]
    batch[3]["time"] = "not a time"

    answer = await hub.http.post("/v1/events/batch", json=batch, headers=bearer(token))

    body = assert_problem(answer, 422, "batch-rejected")
    indexes = {e["index"] for e in body["errors"]}
    assert indexes == {1, 3}
    assert any(e["pointer"] == "/3/time" for e in body["errors"])
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_valid_batch_is_stored_in_order_with_duplicates_recognised(hub: RunningHub) -> None:
    token = await hub.token()
    # All from one SPS source: an agency publishes only from its own (source_belongs_to).
    batch = [{**fresh(t), "source": "urn:pph:sps:pr2:hmp-barlinnie"} for t in CORE_TYPES]
    answer = await hub.http.post("/v1/events/batch", json=batch, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 4
    assert body["duplicates"] == 0
    positions = [r["position"] for r in body["results"]]
    assert positions == sorted(positions)
    assert [r["id"] for r in body["results"]] == [n["id"] for n in batch]

    again = await hub.http.post("/v1/events/batch", json=batch, headers=bearer(token))
    assert again.json()["duplicates"] == 4
    assert await hub.container.store.count() == 4


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [({"not": "an array"}, "JSON array"), ([], "at least one")],
    ids=["object", "empty"],
)
async def test_batch_shape_errors(hub: RunningHub, payload: object, fragment: str) -> None:
    token = await hub.token()
    before = await hub.snapshot()
    answer = await hub.http.post("/v1/events/batch", json=payload, headers=bearer(token))
    problem = assert_problem(answer, 400, "invalid-input")
    assert fragment in problem["detail"]
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_batch_over_the_size_limit(database: Database) -> None:
    settings = database.settings.model_copy(update={"max_batch_size": 3})
    async with running_hub(settings) as hub:
        token = await hub.token()
        before = await hub.snapshot()
        batch = [fresh() for _ in range(4)]
        answer = await hub.http.post("/v1/events/batch", json=batch, headers=bearer(token))
        problem = assert_problem(answer, 400, "invalid-input")
        assert "at most 3" in problem["detail"]
        assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_health_and_readiness(hub: RunningHub) -> None:
    assert (await hub.http.get("/healthz")).json()["status"] == "ok"
    ready = await hub.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "router": "ok",
        "delivery": "ok",
        "audit-sequencer": "ok",
        "audit-checkpointer": "ok",
        "overdue": "ok",
        "review-escalation": "ok",
    }


@pytest.mark.asyncio
async def test_unknown_path_is_a_problem_document(hub: RunningHub) -> None:
    answer = await hub.http.get("/v1/nothing-here")
    assert_problem(answer, 404, "not-found")
