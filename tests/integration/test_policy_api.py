"""Routing inside the running hub, and `POST /v1/policy/explain`, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.auth.secrets import hash_secret
from hub.errors import InvalidInput
from hub.infra import tables
from hub.services.clients import register_client
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


async def decisions(hub: RunningHub, table: sa.Table) -> dict[str, dict[str, Any]]:
    async with hub.container.engine.connect() as connection:
        rows = (await connection.execute(sa.select(table))).mappings().all()
    return {row["recipient_id"]: dict(row) for row in rows}


async def routed_through(hub: RunningHub, position: int) -> None:
    for _ in range(200):
        if await hub.container.routing.checkpoint("router") >= position:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the router did not reach position {position}")


@pytest.mark.asyncio
async def test_a_schedule1_release_is_routed_by_the_running_hub(hub: RunningHub) -> None:
    token = await hub.token("sps")
    for event_type in ("custody.admission", "release.schedule1-notification"):
        pushed = await hub.http.post("/v1/events", json=example(event_type), headers=bearer(token))
        assert pushed.status_code == 201, pushed.text
    await routed_through(hub, pushed.json()["position"])

    disclosed = {
        r: d
        for r, d in (await decisions(hub, tables.disclosures)).items()
        if d["event_position"] == pushed.json()["position"]
    }
    # Social work and police of the release area (Glasgow City) are told; the version and the
    # profile position the decision used are recorded with it.
    assert {"sw-glasgow-city", "police-division-g"} <= set(disclosed)
    assert all(not r.startswith(("sw-fife", "police-division-p")) for r in disclosed)
    social_work = disclosed["sw-glasgow-city"]
    assert social_work["policy_version"] == hub.container.policy.version
    assert social_work["profile_position"] == pushed.json()["position"]
    assert "schedule1-release-to-social-work" in social_work["rules"]
    assert social_work["legal_bases"]
    assert social_work["purposes"]
    # Exactly the fields its matching rules grant: nothing else of the notification.
    assert "data.release" in social_work["fields"]
    rules = {rule.id: rule for rule in hub.container.policy.rules}
    granted = {field for rule_id in social_work["rules"] for field in rules[rule_id].fields}
    assert set(social_work["fields"]) == granted
    # The refused candidates are recorded too, each with its reasons.
    denied = await decisions(hub, tables.disclosure_denials)
    assert all(d["reasons"] for d in denied.values())


@pytest.mark.asyncio
async def test_explain_a_stored_decision(hub: RunningHub) -> None:
    publisher = await hub.token("sps")
    explainer = await hub.token("sps", scopes="policy:explain")
    release = example("release.schedule1-notification")
    assert (await hub.http.post("/v1/events", json=release, headers=bearer(publisher))).is_success

    answer = await hub.http.post(
        "/v1/policy/explain",
        json={"stored": {"source": release["source"], "id": release["id"]}},
        headers=bearer(explainer),
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["policy_version"] == hub.container.policy.version
    assert body["profile_position"] == 1
    rules = {r["id"]: r for r in body["rules"]}
    assert "sw-glasgow-city" in rules["schedule1-release-to-social-work"]["matched_for"]
    # Every rule's legal basis, structured, each gateway and document resolved from legal.yaml.
    register = hub.container.policy.legal
    for rule in body["rules"]:
        basis = rule["legal_basis"]
        assert {"controller", "gateway", "regime"} <= set(basis), rule["id"]
        for gateway in basis["gateway"]:
            declared = register.gateways[gateway["id"]]
            assert (gateway["statute"], gateway["source"]) == (declared.statute, declared.source)
    (social_work,) = [c for c in body["candidates"] if c["recipient"] == "sw-glasgow-city"]
    assert [b["rule"] for b in social_work["bases"]] == social_work["matched_rules"]
    for basis, citation in zip(social_work["bases"], social_work["legal_bases"], strict=True):
        assert citation.startswith(f"{basis['rule']}: {basis['controller']} under ")
        assert basis["agreement"]["kind"] == "data-sharing-agreement"


@pytest.mark.asyncio
async def test_explain_a_hypothetical_notification_stores_nothing(hub: RunningHub) -> None:
    explainer = await hub.token("sps", scopes="policy:explain")
    before = await hub.snapshot()
    release = example("release.schedule1-notification")
    release["id"] = str(uuid.uuid4())

    answer = await hub.http.post(
        "/v1/policy/explain", json={"notification": release}, headers=bearer(explainer)
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["hypothetical"] is True
    assert await hub.snapshot() == before


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"stored": {"source": "urn:x"}}, 400),
        ({"stored": {"source": "urn:x", "id": "nope"}}, 404),
        ({"notification": {"type": "custody.admission"}}, 422),
        ({"query": 1}, 400),
    ],
    ids=["empty", "no-id", "unknown-event", "invalid-notification", "unknown-key"],
)
async def test_explain_rejects_bad_requests(
    hub: RunningHub, body: dict[str, Any], status: int
) -> None:
    explainer = await hub.token("sps", scopes="policy:explain")
    before = await hub.snapshot()
    answer = await hub.http.post("/v1/policy/explain", json=body, headers=bearer(explainer))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await hub.snapshot() == before


@pytest.mark.asyncio
async def test_explain_needs_its_scope(hub: RunningHub) -> None:
    publisher = await hub.token("sps")
    answer = await hub.http.post(
        "/v1/policy/explain",
        json={"notification": example("custody.admission")},
        headers=bearer(publisher),
    )
    assert answer.status_code == 403
    assert "policy:explain" in answer.json()["detail"]


@pytest.mark.asyncio
async def test_clients_are_bound_to_a_directory_entry(hub: RunningHub) -> None:
    with pytest.raises(InvalidInput, match="not in the policy bundle's directory"):
        await register_client(
            hub.container.clients,
            name="rogue",
            agency="not-an-agency",
            scopes="events:publish",
            hash_secret=hash_secret,
            known_agencies=hub.container.policy.directory.recipients,
        )
    assert await hub.container.clients.list_all() == []


@pytest.mark.asyncio
async def test_an_agencys_hypothetical_does_not_reveal_what_others_told_the_hub(
    hub: RunningHub,
) -> None:
    # Glasgow social work refers someone to MAPPA; the SPS then asks what an admission naming
    # the same PNC id would do. Only the hub's own roles see it judged after the referral.
    referral = example("mappa.referral")
    social_work = bearer(await hub.token("sw-glasgow-city"))
    assert (await hub.http.post("/v1/events", json=referral, headers=social_work)).is_success
    admission = example("custody.admission")
    admission["id"] = str(uuid.uuid4())
    admission["identifiers"]["pnc_id"] = referral["identifiers"]["pnc_id"]
    before = await hub.snapshot()

    answers = {}
    for agency in ("sps", "hub-operator"):
        explainer = bearer(await hub.token(agency, scopes="policy:explain"))
        answer = await hub.http.post(
            "/v1/policy/explain", json={"notification": admission}, headers=explainer
        )
        assert answer.status_code == 200, answer.text
        answers[agency] = answer.json()

    agency, operator = answers["sps"], answers["hub-operator"]
    assert agency["person_id"] is None
    assert agency["history"] == "not consulted"
    assert not any(name.startswith("mappa") for name in agency["profile"])
    assert operator["person_id"] is not None
    assert operator["history"] == "stored"
    assert any(name.startswith("mappa") for name in operator["profile"])
    assert await hub.snapshot() == before
