"""A publisher is bound to the unit its notification names, by the directory (issue 13,
finding 11), through the real app on both backends.

An establishment's client may publish custody events only about its own establishment (SPS
headquarters, role prison-service, is national); a health board only what it shares itself; a
council's social work or MAPPA coordinator only for an area it serves. Sources that look like
another (a trailing zero-width space, a right-to-left override, a Cyrillic look-alike) and ids
that `GET /v1/events/{id}` could not reach are refused at the schema. Each refusal names the field
and stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"rate_limit_burst": 100_000})
    async with running_hub(settings) as running:
        yield running


def fresh(event_type: str, **data: Any) -> dict[str, Any]:
    notification = example(event_type)
    notification["id"] = str(uuid.uuid4())
    notification["data"].update(data)
    return notification


def refused_fields(answer: Any, status: int = 403) -> set[str]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    return {e["pointer"] for e in body.get("errors", [])}


async def test_an_establishment_may_not_publish_an_admission_to_another(hub: RunningHub) -> None:
    barlinnie = await hub.token("hmp-barlinnie")
    before = await hub.snapshot()
    elsewhere = fresh("custody.admission", establishment="hmp-shotts")
    answer = await hub.http.post("/v1/events", json=elsewhere, headers=bearer(barlinnie))
    assert refused_fields(answer) == {"/data/establishment"}
    assert "hmp-barlinnie" in answer.json()["detail"]
    batch = [fresh("custody.admission"), fresh("custody.liberation", establishment="hmp-perth")]
    answer = await hub.http.post("/v1/events/batch", json=batch, headers=bearer(barlinnie))
    assert refused_fields(answer) == {"/1/data/establishment"}
    assert await hub.snapshot() == before

    own = fresh("custody.admission", establishment="hmp-barlinnie")
    answer = await hub.http.post("/v1/events", json=own, headers=bearer(barlinnie))
    assert answer.status_code == 201, answer.text


async def test_a_transfer_names_the_establishment_at_one_end(hub: RunningHub) -> None:
    barlinnie = await hub.token("hmp-barlinnie")
    outward = fresh("custody.transfer", from_establishment="hmp-barlinnie")
    answer = await hub.http.post("/v1/events", json=outward, headers=bearer(barlinnie))
    assert answer.status_code == 201, answer.text
    inward = fresh(
        "custody.transfer", from_establishment="hmp-perth", to_establishment="hmp-barlinnie"
    )
    answer = await hub.http.post("/v1/events", json=inward, headers=bearer(barlinnie))
    assert answer.status_code == 201, answer.text
    neither = fresh(
        "custody.transfer", from_establishment="hmp-perth", to_establishment="hmp-shotts"
    )
    answer = await hub.http.post("/v1/events", json=neither, headers=bearer(barlinnie))
    assert refused_fields(answer) == {"/data/from_establishment", "/data/to_establishment"}


async def test_the_prison_service_headquarters_is_national(hub: RunningHub) -> None:
    sps = await hub.token("sps")
    for establishment in ("hmp-shotts", "hmp-barlinnie", "hmp-yoi-stirling"):
        notification = fresh("custody.admission", establishment=establishment)
        answer = await hub.http.post("/v1/events", json=notification, headers=bearer(sps))
        assert answer.status_code == 201, answer.text


async def test_area_and_board_publishers_are_bound_to_what_they_serve(hub: RunningHub) -> None:
    before = await hub.snapshot()
    cases = [
        ("sw-glasgow-city", "mappa.referral", {"referring_council_area": "S12000036"}),
        ("mappa-glasgow", "mappa.level-changed", {"mappa_area": "S12000036"}),
        (
            "nhs-greater-glasgow-and-clyde",
            "health.information-shared",
            {"health_board": "nhs-lothian"},
        ),
    ]
    for agency, event_type, data in cases:
        token = await hub.token(agency)
        answer = await hub.http.post(
            "/v1/events", json=fresh(event_type, **data), headers=bearer(token)
        )
        assert refused_fields(answer) == {f"/data/{next(iter(data))}"}, (agency, answer.text)
    assert await hub.snapshot() == before
    for agency, event_type, _ in cases:
        token = await hub.token(agency)
        answer = await hub.http.post("/v1/events", json=fresh(event_type), headers=bearer(token))
        assert answer.status_code == 201, (agency, answer.text)


@pytest.mark.parametrize(
    "suffix", ["\u200b", "\u202e", "\u2066", "\ufeff", "\u00a0", "\u0301", "\u2028"]
)
async def test_a_source_that_looks_like_another_is_refused(hub: RunningHub, suffix: str) -> None:
    sps = await hub.token("sps")
    before = await hub.snapshot()
    notification = fresh("custody.admission")
    notification["source"] += suffix
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(sps))
    assert answer.status_code in (400, 422), answer.text
    assert "/source" in {e["pointer"] for e in answer.json()["errors"]}
    assert await hub.snapshot() == before


async def test_every_accepted_id_can_be_read_back(hub: RunningHub) -> None:
    sps = await hub.token("sps")
    slashed = fresh("custody.admission")
    slashed["id"] = "PR2/2024/0001"
    answer = await hub.http.post("/v1/events", json=slashed, headers=bearer(sps))
    assert answer.status_code == 422, answer.text
    assert {e["pointer"] for e in answer.json()["errors"]} == {"/id"}
    odd = fresh("custody.admission")
    odd["id"] = "PR2:2024.0001_a~b@c+d=e-f"
    answer = await hub.http.post("/v1/events", json=odd, headers=bearer(sps))
    assert answer.status_code == 201, answer.text
    read = await hub.http.get(
        f"/v1/events/{quote(odd['id'], safe='')}",
        headers=bearer(sps) | {"X-Purpose": "read back"},
    )
    assert read.status_code == 200, read.text
    assert read.json()["notification"]["id"] == odd["id"]


async def test_social_work_speaks_only_for_the_supervision_it_holds(hub: RunningHub) -> None:
    glasgow = await hub.token("sw-glasgow-city")
    before = await hub.snapshot()
    elsewhere = fresh("supervision.started", supervising_council_area="S12000038")
    answer = await hub.http.post("/v1/events", json=elsewhere, headers=bearer(glasgow))
    assert refused_fields(answer) == {"/data/supervising_council_area"}
    breach = fresh("licence.breach-reported", supervising_council_area="S12000047")
    answer = await hub.http.post("/v1/events", json=breach, headers=bearer(glasgow))
    assert refused_fields(answer) == {"/data/supervising_council_area"}
    assert await hub.snapshot() == before

    # Either end of a transfer may record it, like an establishment's transfer.
    for event_type in ("supervision.started", "supervision.transferred"):
        answer = await hub.http.post("/v1/events", json=fresh(event_type), headers=bearer(glasgow))
        assert answer.status_code == 201, (event_type, answer.text)


async def test_the_courts_publish_disposals_and_nobody_else_can(hub: RunningHub) -> None:
    disposal = fresh("court.disposal")  # urn:pph:scts:high-court-glasgow
    before = await hub.snapshot()
    police = await hub.token("police-scotland")
    answer = await hub.http.post("/v1/events", json=disposal, headers=bearer(police))
    assert answer.status_code == 403, answer.text
    assert await hub.snapshot() == before
    scts = await hub.token("scts")
    answer = await hub.http.post("/v1/events", json=disposal, headers=bearer(scts))
    assert answer.status_code == 201, answer.text
