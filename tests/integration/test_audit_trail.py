"""The audit trail as the hub writes it and a data protection officer reads it, on both
backends: every operation DPA 2018 s62 asks to be logged appears (collection, combination,
disclosure and denial, delivery, acknowledgement, consultation, alteration); entries hold names,
never values; DPO queries by person (any identifier), recipient, rule, purpose and period, as
JSON and CSV, each itself logged; a person's history report with a restriction withheld and
said so; checkpoints and proofs that an independent verifier accepts."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.audit.checkpoint import parse_signed_checkpoint
from hub.domain.audit.entries import AuditEntry
from hub.domain.audit.merkle import leaf_hash
from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows
from tests.unit.audit.reference_merkle import root_from_path

GLASGOW_SW = "sw-glasgow-city"
STORY = ("custody.admission", "release.schedule1-notification")
DPO_SCOPES = "audit:read audit:verify audit:restrict"
SAR = {"X-Purpose": "subject access request SAR-2026-0117"}


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={"router_poll_interval": 0.05, "audit_checkpoint_interval": 0.1}
    )
    async with running_hub(settings) as running:
        yield running


async def entries(hub: RunningHub) -> list[tuple[int, AuditEntry]]:
    found = await rows(
        hub,
        sa.select(tables.audit_entries.c.position, tables.audit_entries.c.entry).order_by(
            tables.audit_entries.c.position
        ),
    )
    return [(r["position"], AuditEntry.from_canonical(r["entry"].encode())) for r in found]


async def kinds_of(hub: RunningHub, **match: str) -> list[AuditEntry]:
    return [
        e
        for _, e in await entries(hub)
        if all(str(getattr(e, name)) == value for name, value in match.items())
    ]


async def story(
    hub: RunningHub, *, refused_health: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """One person admitted, then their release notified to Glasgow; with `refused_health`,
    then health information shared without consent by the health board (which the police are
    refused); routed."""
    publisher = await hub.token("sps")
    notifications = about_new_person(
        [*STORY, "health.information-shared"] if refused_health else STORY
    )
    await push(hub, publisher, notifications[: len(STORY)])
    if refused_health:
        health = notifications[-1]
        health["data"]["consent"]["given"] = False
        board = health["source"].split(":")[3]  # urn:pph:nhs:<health board>:<service>
        await push(hub, await hub.token(board), [health])
    await routed(hub)
    return notifications, publisher


async def sequenced_all(hub: RunningHub) -> int:
    """Wait until the in-process sequencer and checkpointer have covered every entry."""
    total = len(await entries(hub))
    for _ in range(400):
        latest = await hub.container.audit_trail.latest_checkpoint()
        if latest is not None and latest.tree_size >= total:
            return total
        await asyncio.sleep(0.025)
    raise AssertionError("the checkpointer did not cover every entry")


@pytest.mark.asyncio
async def test_intake_logs_collection_and_combination_with_names_not_values(
    hub: RunningHub,
) -> None:
    notifications, _ = await story(hub)
    person_id = (await rows(hub, sa.select(tables.events.c.person_id)))[0]["person_id"]
    collected = await kinds_of(hub, kind="collection")
    assert [(e.event_id, e.person_id, e.actor != "hub") for e in collected] == [
        (n["id"], person_id, True) for n in notifications
    ]
    assert {e.agency for e in collected} == {"sps"}
    assert "data.sentence.custodial_term.years" in collected[0].fields
    assert "identifiers.sps_number" in collected[0].fields
    [combined] = await kinds_of(hub, kind="combination")
    assert combined.outcome == "new-person"
    assert set(combined.fields) == {"identifiers.sps_number", "identifiers.pnc_id"}
    # Values never: not the identifiers, not the court, not the dates of the notification.
    text = "\n".join(e.canonical_bytes().decode() for _, e in await entries(hub))
    for value in (
        *notifications[0]["identifiers"].values(),
        notifications[0]["data"]["committing_court"],
        notifications[0]["data"]["admission_date"],
    ):
        assert value not in text


@pytest.mark.asyncio
async def test_every_decision_is_logged_disclosures_and_denials(hub: RunningHub) -> None:
    await story(hub, refused_health=True)
    disclosed = await rows(hub, sa.select(tables.disclosures))
    denied = await rows(hub, sa.select(tables.disclosure_denials))
    logged = await kinds_of(hub, kind="disclosure")
    assert denied, "the story has refused candidates"
    assert sorted(
        (e.details["disclosure_id"], e.recipient_id, e.fields, e.rules, e.policy_version)
        for e in logged
        if e.outcome == "disclosed"
    ) == sorted(
        (
            d["disclosure_id"],
            d["recipient_id"],
            tuple(sorted(d["fields"])),
            tuple(sorted(d["rules"])),
            d["policy_version"],
        )
        for d in disclosed
    )
    assert sorted(
        (e.details["denial_id"], e.recipient_id) for e in logged if e.outcome == "denied"
    ) == sorted((d["denial_id"], d["recipient_id"]) for d in denied)
    for entry in logged:
        if entry.outcome == "disclosed":
            assert entry.purpose
            assert entry.legal_basis
            assert entry.state == "pending"


@pytest.mark.asyncio
async def test_a_denial_by_a_forbid_rule_records_the_rule_s_purpose_and_legal_basis(
    hub: RunningHub,
) -> None:
    """Issue 15: a refusal states its reasons. The health board's information without consent is
    refused by the forbid rule, whose purpose and basis the denial's entry records (they were
    null); a denial no rule decided (no permit applied) records none, as nothing was relied on."""
    await story(hub, refused_health=True)
    denials = [e for e in await kinds_of(hub, kind="disclosure") if e.outcome == "denied"]
    by_forbid = {
        e: [r for r in e.details["reasons"] if str(r).startswith("forbidden by ")] for e in denials
    }
    refused = [e for e, reasons in by_forbid.items() if reasons]
    assert refused, "the story has a candidate refused by a forbid rule"
    for entry in refused:
        (reason,) = by_forbid[entry]
        rule_id = str(reason).removeprefix("forbidden by ").split(":")[0]
        rule = next(r for r in hub.container.policy.rules if r.id == rule_id)
        assert rule.effect == "forbid"
        assert rule.legal_basis is not None
        assert entry.purpose == rule.purpose
        assert entry.legal_basis == rule.legal_basis.citation(rule.id)
        # The denial row itself keeps them too, and its entry's evidence binds them.
        [row] = await rows(
            hub,
            sa.select(tables.disclosure_denials).where(
                tables.disclosure_denials.c.denial_id == entry.details["denial_id"]
            ),
        )
        assert row["purposes"] == [rule.purpose]
        assert row["legal_bases"] == [rule.legal_basis.citation(rule.id)]
        assert {"purposes", "legal_bases"} <= set(entry.details["columns"])
    for entry in denials:
        if not by_forbid[entry]:
            assert (entry.purpose, entry.legal_basis) == (None, None)


@pytest.mark.asyncio
async def test_feed_reads_log_delivery_then_consultation_and_acks_log_acknowledgement(
    hub: RunningHub,
) -> None:
    await story(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    first = await hub.http.get("/v1/feed", headers=bearer(reader))
    [item] = first.json()["items"]
    delivered = await kinds_of(hub, kind="delivery")
    assert [(e.recipient_id, e.state, e.outcome) for e in delivered] == [
        (GLASGOW_SW, "delivered", "feed:feed")
    ]
    assert delivered[0].details["disclosure_id"] == item["disclosure_id"]
    assert await kinds_of(hub, kind="consultation") == []

    purpose = {"X-Purpose": "prepare release supervision plan"}
    again = await hub.http.get("/v1/feed", headers=bearer(reader) | purpose)
    assert again.status_code == 200
    [consulted] = await kinds_of(hub, kind="consultation")
    assert (consulted.purpose, consulted.recipient_id, consulted.agency) == (
        "prepare release supervision plan",
        GLASGOW_SW,
        GLASGOW_SW,
    )
    assert consulted.fields == tuple(sorted(item["fields"]))

    ack = await hub.http.post(
        f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader)
    )
    assert ack.status_code == 201
    await hub.http.post(f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader))
    [acknowledged] = await kinds_of(hub, kind="acknowledgement")
    assert acknowledged.recipient_id == GLASGOW_SW
    assert acknowledged.details["disclosure_id"] == item["disclosure_id"]


@pytest.mark.asyncio
async def test_reading_back_an_event_is_a_consultation_with_the_declared_purpose(
    hub: RunningHub,
) -> None:
    notifications, publisher = await story(hub)
    event_id = notifications[0]["id"]
    answer = await hub.http.get(f"/v1/events/{event_id}", headers=bearer(publisher))
    assert answer.status_code == 200
    answer = await hub.http.get(
        f"/v1/events/{event_id}", headers=bearer(publisher) | {"X-Purpose": "reconcile PR2"}
    )
    assert answer.status_code == 200
    purposes = [e.purpose for e in await kinds_of(hub, kind="consultation", event_id=event_id)]
    assert purposes == ["undeclared", "reconcile PR2"]
    bad = await hub.http.get(
        f"/v1/events/{event_id}", headers=bearer(publisher) | {"X-Purpose": "x"}
    )
    assert bad.status_code == 400
    assert "X-Purpose" in bad.json()["detail"]
    assert len(await kinds_of(hub, kind="consultation")) == 2


@pytest.mark.asyncio
async def test_identifier_conflicts_log_collection_and_their_resolution_alteration(
    hub: RunningHub,
) -> None:
    publisher = await hub.token("sps")
    first, second = about_new_person(["custody.admission"]), about_new_person(["custody.admission"])
    await push(hub, publisher, first + second)
    clash = about_new_person(["custody.transfer"])[0]
    clash["identifiers"] = {
        "sps_number": first[0]["identifiers"]["sps_number"],
        "pnc_id": second[0]["identifiers"]["pnc_id"],
    }
    answer = await hub.http.post("/v1/events", json=clash, headers=bearer(publisher))
    assert answer.status_code == 409
    parked = await kinds_of(hub, kind="collection", outcome="parked-for-review")
    assert len(parked) == 2
    assert {e.event_id for e in parked} == {clash["id"]}
    [case] = await hub.container.conflicts.list_cases()
    await hub.container.conflicts.resolve(
        case.review_id, resolution="same person: PNC corrected", resolved_by="operator-1"
    )
    altered = await kinds_of(hub, kind="alteration")
    assert {(e.actor, e.outcome) for e in altered} == {("operator-1", "conflict-resolved")}
    assert "PNC corrected" not in "".join(e.canonical_bytes().decode() for e in altered)


@pytest.mark.asyncio
async def test_dpo_queries_by_person_recipient_rule_purpose_and_period(hub: RunningHub) -> None:
    notifications, _ = await story(hub, refused_health=True)
    await story(hub)  # somebody else, who must not appear
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    sps_number = notifications[0]["identifiers"]["sps_number"]

    by_person = await hub.http.get(
        "/v1/audit/disclosures",
        params={"person": f"sps_number:{sps_number}"},
        headers=bearer(dpo) | SAR,
    )
    assert by_person.status_code == 200, by_person.text
    found = by_person.json()["entries"]
    assert found
    assert by_person.json()["complete"]
    person_ids = {e["person_id"] for e in found}
    assert len(person_ids) == 1
    [person_id] = person_ids
    decided = [e for e in found if e["kind"] == "disclosure"]
    # The release also proposes a disclosure to housing, held for a reviewer (issue 15).
    assert {e["outcome"] for e in decided} == {"disclosed", "denied", "proposed"}

    glasgow = await hub.http.get(
        "/v1/audit/disclosures",
        params={"recipient": GLASGOW_SW, "person": person_id},
        headers=bearer(dpo) | SAR,
    )
    assert {e["recipient_id"] for e in glasgow.json()["entries"]} == {GLASGOW_SW}

    rule = next(e["rules"][0] for e in decided if e["outcome"] == "disclosed")
    by_rule = await hub.http.get(
        "/v1/audit/disclosures", params={"rule": rule}, headers=bearer(dpo) | SAR
    )
    assert by_rule.json()["entries"]
    assert all(rule in e["rules"] for e in by_rule.json()["entries"])

    words = next(e["purpose"] for e in decided if e["purpose"]).split()[0]
    by_purpose = await hub.http.get(
        "/v1/audit/disclosures", params={"purpose": words.upper()}, headers=bearer(dpo) | SAR
    )
    assert by_purpose.json()["entries"]
    assert all(words.lower() in e["purpose"].lower() for e in by_purpose.json()["entries"])

    empty = await hub.http.get(
        "/v1/audit/disclosures",
        params={"since": "2099-01-01T00:00:00Z", "person": person_id},
        headers=bearer(dpo) | SAR,
    )
    assert empty.json()["entries"] == []

    as_csv = await hub.http.get(
        "/v1/audit/disclosures",
        params={"person": person_id, "format": "csv"},
        headers=bearer(dpo) | SAR,
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["position"]) for r in table] == [e["position"] for e in found]
    assert {r["person_id"] for r in table} == {person_id}

    # Each query is itself a consultation, with the purpose declared.
    logged = await kinds_of(hub, kind="consultation", actor=(await client_of(hub, "hub-dpo")))
    assert logged
    assert {e.purpose for e in logged} == {SAR["X-Purpose"]}
    assert person_id in {e.person_id for e in logged}


async def client_of(hub: RunningHub, agency: str) -> str:
    [found] = await rows(
        hub, sa.select(tables.clients.c.client_id).where(tables.clients.c.agency == agency)
    )
    return str(found["client_id"])


@pytest.mark.asyncio
async def test_dpo_queries_need_a_purpose_and_the_scope_and_bad_ones_change_nothing(
    hub: RunningHub,
) -> None:
    await story(hub)
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    before = await entries(hub)
    for params, headers, status, named in (
        ({}, {}, 400, "X-Purpose"),
        ({"kind": "gossip"}, SAR, 400, "kind"),
        ({"person": "shoe_size:12"}, SAR, 400, "shoe_size"),
        ({"person": "sps_number:0000000"}, SAR, 404, "sps_number"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, SAR, 400, "since"),
        ({"limit": 0}, SAR, 422, "limit"),
    ):
        answer = await hub.http.get(
            "/v1/audit/entries", params=params, headers=bearer(dpo) | headers
        )
        assert answer.status_code == status, (params, answer.text)
        assert named in answer.text
    reader = await hub.token(GLASGOW_SW, "feed:read")
    assert (
        await hub.http.get("/v1/audit/entries", headers=bearer(reader) | SAR)
    ).status_code == 403
    assert (await entries(hub)) == before


@pytest.mark.asyncio
async def test_history_report_and_a_restricted_subject_access_report(hub: RunningHub) -> None:
    notifications, _ = await story(hub, refused_health=True)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    [item] = [
        i
        for i in (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
        if i["event_type"] == "release.schedule1-notification"
    ]
    await hub.http.post(f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader))
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    pnc = notifications[0]["identifiers"]["pnc_id"]
    await sequenced_all(hub)

    report = await hub.http.get(
        f"/v1/audit/persons/pnc_id:{pnc}/history", headers=bearer(dpo) | SAR
    )
    assert report.status_code == 200, report.text
    full = report.json()
    assert [c["event_id"] for c in full["collected"]] == [n["id"] for n in notifications]
    to_glasgow = [
        d
        for d in full["disclosed"]
        if d["recipient_id"] == GLASGOW_SW
        and d["details"]["disclosure_id"] == item["disclosure_id"]
    ]
    assert len(to_glasgow) == 1
    assert to_glasgow[0]["delivered"] is True
    assert to_glasgow[0]["acknowledged_at"]
    assert to_glasgow[0]["legal_basis"]
    assert to_glasgow[0]["rules"]
    assert full["denied"]
    assert all(d["outcome"] == "denied" for d in full["denied"])
    assert full["checkpoint"]["tree_size"] >= 1
    assert full["restrictions"] == []

    placed = await hub.http.post(
        f"/v1/audit/persons/{full['person_id']}/restrictions",
        json={"ground": "crime", "recipients": [GLASGOW_SW], "reference": "OP-FALCON/7"},
        headers=bearer(dpo),
    )
    assert placed.status_code == 201, placed.text
    bad = await hub.http.post(
        f"/v1/audit/persons/{full['person_id']}/restrictions",
        json={"ground": "because"},
        headers=bearer(dpo),
    )
    assert bad.status_code == 422
    assert "ground" in bad.json()["detail"]

    subject = await hub.http.get(
        f"/v1/audit/persons/{full['person_id']}/history",
        params={"subject_access": "true"},
        headers=bearer(dpo) | SAR,
    )
    withheld = subject.json()
    assert GLASGOW_SW not in {d["recipient_id"] for d in withheld["disclosed"]}
    assert withheld["withheld"]["entries"] >= 3  # decision, delivery, acknowledgement
    assert "section 45(4)" in withheld["withheld"]["statement"]
    assert "restrictions" not in withheld  # the subject is not told what the restriction is
    as_csv = await hub.http.get(
        f"/v1/audit/persons/{full['person_id']}/history",
        params={"subject_access": "true", "format": "csv"},
        headers=bearer(dpo) | SAR,
    )
    assert GLASGOW_SW not in as_csv.text
    assert "section 45(4)" in as_csv.text

    lifted = await hub.http.post(
        f"/v1/audit/restrictions/{placed.json()['restriction_id']}/lift", headers=bearer(dpo)
    )
    assert lifted.status_code == 200
    assert lifted.json()["lifted_by"]
    again = await hub.http.post(
        f"/v1/audit/restrictions/{placed.json()['restriction_id']}/lift", headers=bearer(dpo)
    )
    assert again.status_code == 409
    after = await hub.http.get(
        f"/v1/audit/persons/{full['person_id']}/history",
        params={"subject_access": "true"},
        headers=bearer(dpo) | SAR,
    )
    assert GLASGOW_SW in {d["recipient_id"] for d in after.json()["disclosed"]}
    changes = [e.outcome for e in await kinds_of(hub, kind="alteration")]
    assert changes == ["restriction-placed", "restriction-lifted"]


@pytest.mark.asyncio
async def test_checkpoints_and_proofs_verify_independently(hub: RunningHub) -> None:
    await story(hub)
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    size = await sequenced_all(hub)
    key = (await hub.http.get("/v1/audit/public-key", headers=bearer(dpo))).json()
    checkpoint = (await hub.http.get("/v1/audit/checkpoint", headers=bearer(dpo))).json()
    assert checkpoint["tree_size"] >= size
    opened = parse_signed_checkpoint(
        checkpoint["note"], key["verifier_key"], expected_origin=key["origin"]
    )
    assert opened.root_hash.hex() == checkpoint["root_hash"]

    for leaf in range(checkpoint["tree_size"]):
        proof = (
            await hub.http.get(
                "/v1/audit/proofs/inclusion",
                params={"leaf_index": leaf, "tree_size": checkpoint["tree_size"]},
                headers=bearer(dpo) | SAR,
            )
        ).json()
        assert proof["leaf_hash"] == leaf_hash(proof["entry"].encode()).hex()
        root = root_from_path(
            leaf_hash(proof["entry"].encode()),
            leaf,
            proof["tree_size"],
            [bytes.fromhex(p) for p in proof["proof"]],
        )
        assert root is not None
        assert root.hex() == checkpoint["root_hash"]
        json.loads(proof["entry"])

    consistency = await hub.http.get(
        "/v1/audit/proofs/consistency",
        params={"old_size": 1, "new_size": checkpoint["tree_size"]},
        headers=bearer(dpo),
    )
    assert consistency.status_code == 200
    assert consistency.json()["new_root"] == checkpoint["root_hash"]
    recipient = await hub.token(GLASGOW_SW, "feed:read")
    assert (
        await hub.http.get("/v1/audit/checkpoint", headers=bearer(recipient))
    ).status_code == 403


async def audit_volume(hub: RunningHub) -> tuple[int, int]:
    """How many audit entries there are, and their canonical JSON's total size."""
    entry = tables.audit_entries.c.entry
    [found] = await rows(
        hub,
        sa.select(
            sa.func.count().label("entries"),
            sa.func.coalesce(sa.func.sum(sa.func.length(entry)), 0).label("size"),
        ),
    )
    return int(found["entries"]), int(found["size"])


@pytest.mark.asyncio
async def test_re_reading_a_feed_is_logged_once_per_disclosure_not_on_every_read(
    hub: RunningHub,
) -> None:
    publisher = await hub.token("sps")
    people = [about_new_person(STORY) for _ in range(12)]
    for notifications in people:
        await push(hub, publisher, notifications)
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    purpose = {"X-Purpose": "prepare release supervision plans"}

    async def page_through() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            answer = await hub.http.get(
                "/v1/feed", params={"after": after, "limit": 5}, headers=bearer(reader) | purpose
            )
            assert answer.status_code == 200, answer.text
            page = answer.json()
            if not page["items"]:
                return items
            items.extend(page["items"])
            after = page["next_after"]

    items = await page_through()  # the first read: each disclosure's delivery
    assert len(items) == len(people)
    delivered = await audit_volume(hub)
    assert await kinds_of(hub, kind="consultation") == []

    await page_through()
    reread_once = await audit_volume(hub)
    for _ in range(19):
        await page_through()
    single = await hub.http.get(
        f"/v1/disclosures/{items[0]['disclosure_id']}", headers=bearer(reader) | purpose
    )
    assert single.status_code == 200
    reread_twenty = await audit_volume(hub)

    # The re-reads are logged once for each disclosure read, not once for each read of it.
    assert reread_twenty == reread_once
    consulted = await kinds_of(hub, kind="consultation")
    assert sorted(e.details["query"]["disclosure_id"] for e in consulted) == sorted(
        i["disclosure_id"] for i in items
    )
    # And each entry is about its own disclosure only (no list of the page's others).
    assert reread_once[1] - delivered[1] < 1000 * len(items)

    # A person's history still shows that their disclosure was consulted, by whom and why.
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    person = items[3]["person_id"]
    history = await hub.http.get(f"/v1/audit/persons/{person}/history", headers=bearer(dpo) | SAR)
    assert history.status_code == 200, history.text
    reads = [c for c in history.json()["consulted"] if c["agency"] == GLASGOW_SW]
    assert len(reads) == 1
    assert reads[0]["actor"] == await client_of(hub, GLASGOW_SW)
    assert reads[0]["purpose"] == purpose["X-Purpose"]
    assert reads[0]["details"]["query"]["disclosure_id"] == items[3]["disclosure_id"]

    # Another purpose is another reason to read: logged again.
    other = {"X-Purpose": "risk assessment review"}
    answer = await hub.http.get("/v1/feed", params={"limit": 1}, headers=bearer(reader) | other)
    assert answer.status_code == 200
    reads_by_glasgow = await kinds_of(hub, kind="consultation", agency=GLASGOW_SW)
    assert len(reads_by_glasgow) == len(items) + 1


@pytest.mark.asyncio
async def test_a_bad_restriction_is_refused_naming_each_field_and_nothing_is_placed(
    hub: RunningHub,
) -> None:
    """Like subscriptions and review decisions: 422 with a JSON Pointer per wrong field, unknown
    fields refused rather than ignored (a misspelt `recipient` must not widen a restriction to
    everything), and nothing placed."""
    notifications, _ = await story(hub, refused_health=True)
    dpo = await hub.token("hub-dpo", DPO_SCOPES)
    person = f"pnc_id:{notifications[0]['identifiers']['pnc_id']}"
    url = f"/v1/audit/persons/{person}/restrictions"
    for body, pointers in (
        ({"ground": "because"}, ["/ground"]),
        ({"ground": "crime", "recipient": [GLASGOW_SW]}, ["/recipient"]),
        ({"ground": "crime", "recipients": "glasgow"}, ["/recipients"]),
        ({"ground": "crime", "event_types": [1]}, ["/event_types/0"]),
        ({"recipients": []}, ["/ground"]),
        ({"ground": "crime", "reference": "no spaces allowed"}, ["/reference"]),
    ):
        answer = await hub.http.post(url, json=body, headers=bearer(dpo))
        assert answer.status_code == 422, (body, answer.text)
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in problem["errors"]] == pointers, (body, problem)
    listed = await hub.http.get(url, headers=bearer(dpo) | SAR)
    assert listed.status_code == 200, listed.text
    assert listed.json() == []
