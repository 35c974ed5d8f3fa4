"""Case-by-case review end to end, on both backends: a disclosure under a rule with `review` is
recorded as a proposal and reaches nobody; its reviewer (the area's MAPPA coordinator) approves
it through the API and it enters the recipient's feed and reaches its real webhook receiver
exactly once; a declined one (by an operator, through the CLI) never does; an undecided one
escalates once; every step is in the audit trail and `hub audit verify` passes."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.infra import tables
from hub.services.reviews import ReviewEscalator
from hub.settings import PROJECT_ROOT
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import disclosures_to, routed, rows
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

SOCIAL_WORK = "sw-glasgow-city"
REVIEWER = "mappa-glasgow"
OTHER_REVIEWER = "mappa-tayside"
RULE = "schedule1-release-to-social-work"
REVIEW = """    review:
      by: mappa-coordinator
      area: event.data.release.address.council_area
      escalate_after: 2d
"""


def reviewed_bundle(tmp_path: Path) -> Path:
    """The Scotland bundle with Schedule 1 release notices to social work held for review by the
    MAPPA coordinator of the release area."""
    bundle = tmp_path / "bundle"
    shutil.copytree(PROJECT_ROOT / "policies" / "scotland", bundle)
    rules = bundle / "rules" / "release.yaml"
    text = rules.read_text()
    start = text.index(f"id: {RULE}")
    end = text.index("    follows_person: false\n", start) + len("    follows_person: false\n")
    rules.write_text(text[:end] + REVIEW + text[end:])
    return bundle


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@pytest_asyncio.fixture
async def hub(database: Database, tmp_path: Path) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={
            "policy_bundle_dir": reviewed_bundle(tmp_path),
            "webhook_allow_private_addresses": True,
            "router_poll_interval": 0.05,
            "delivery_poll_interval": 0.05,
            "overdue_check_interval": 3600.0,
        }
    )
    async with running_hub(settings) as running:
        yield running


async def push_release(hub: RunningHub) -> dict[str, Any]:
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(uuid.uuid4().int % 10_000_000)}
    token = await hub.token("sps", "events:publish")
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    await routed(hub)
    return notification


async def reviews_of(hub: RunningHub, agency: str, **params: Any) -> list[dict[str, Any]]:
    token = await hub.token(agency, "reviews:decide")
    answer = await hub.http.get("/v1/reviews", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["reviews"]
    return found


async def feed_of(hub: RunningHub, agency: str) -> list[dict[str, Any]]:
    token = await hub.token(agency, "feed:read")
    answer = await hub.http.get("/v1/feed", headers=bearer(token) | {"X-Purpose": "test"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def logged(hub: RunningHub) -> list[dict[str, Any]]:
    """Every audit entry, in log order."""
    found = await rows(
        hub, sa.select(tables.audit_entries.c.entry).order_by(tables.audit_entries.c.position)
    )
    return [json.loads(r["entry"]) if isinstance(r["entry"], str) else r["entry"] for r in found]


async def outcomes(hub: RunningHub, proposal_id: str) -> list[tuple[str, str, str]]:
    """(outcome, actor, recipient) of every audit entry about the proposal, in log order."""
    return [
        (entry["outcome"], entry["actor"], entry["recipient_id"])
        for entry in await logged(hub)
        if entry.get("details", {}).get("proposal_id") == proposal_id
    ]


async def audit_verifies(hub: RunningHub, database: Database, monkeypatch: Any) -> int:
    await hub.container.audit_sequencer().run_until_idle()
    await hub.container.audit_checkpointer().run_once()
    return await run_cli(
        database,
        monkeypatch,
        "audit",
        "verify",
        HUB_POLICY_BUNDLE_DIR=str(hub.container.settings.policy_bundle_dir),
    )


async def test_a_proposal_reaches_no_one_until_approved_then_arrives_once_in_feed_order(
    hub: RunningHub, receiver: Receiver, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    manage = bearer(await hub.token(SOCIAL_WORK, "subscriptions:manage"))
    made = await hub.http.post(
        "/v1/subscriptions", json={"url": receiver.url("/sw")}, headers=manage
    )
    assert made.status_code == 201, made.text

    first = await push_release(hub)
    # Held: no disclosure, no feed number, no webhook job; other recipients are unaffected.
    assert await disclosures_to(hub, SOCIAL_WORK) == []
    assert await feed_of(hub, SOCIAL_WORK) == []
    assert await rows(hub, sa.select(tables.deliveries)) == []
    assert await disclosures_to(hub, "police-division-g") != []
    [proposal] = await reviews_of(hub, REVIEWER)
    assert proposal["state"] == "pending"
    assert proposal["recipient_id"] == SOCIAL_WORK
    assert proposal["event_id"] == first["id"]
    assert proposal["review_rules"] == [RULE]
    assert proposal["reviewers"] == [REVIEWER]
    assert "data.release" in proposal["fields"]
    assert proposal["escalate_at"] is not None
    # Another area's coordinator neither sees it nor can decide it; nor can a client of the
    # hub's operators (only the CLI decides as an operator).
    assert await reviews_of(hub, OTHER_REVIEWER) == []
    assert await reviews_of(hub, "hub-operator") == []
    other = bearer(await hub.token(OTHER_REVIEWER, "reviews:decide"))
    pid = proposal["proposal_id"]
    refused = await hub.http.post(
        f"/v1/reviews/{pid}/approve", json={"reason": "not mine"}, headers=other
    )
    assert refused.status_code == 404, refused.text
    operator = bearer(await hub.token("hub-operator", "reviews:decide"))
    refused = await hub.http.post(
        f"/v1/reviews/{pid}/decline", json={"reason": "operator"}, headers=operator
    )
    assert refused.status_code == 404, refused.text

    # A second release: a second proposal, to the same reviewer.
    second = await push_release(hub)
    assert len(await reviews_of(hub, REVIEWER, state="pending")) == 2

    reviewer = bearer(await hub.token(REVIEWER, "reviews:decide"))
    no_reason = await hub.http.post(f"/v1/reviews/{pid}/approve", json={}, headers=reviewer)
    assert no_reason.status_code == 422, no_reason.text
    approved = await hub.http.post(
        f"/v1/reviews/{pid}/approve",
        json={"reason": "address checked with the area's MAPPA meeting"},
        headers=reviewer,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    again = await hub.http.post(
        f"/v1/reviews/{pid}/approve", json={"reason": "twice"}, headers=reviewer
    )
    assert again.status_code == 409, again.text

    [delivered] = await disclosures_to(hub, SOCIAL_WORK)
    assert delivered["seq"] == 1
    assert delivered["disclosure_id"] == proposal["disclosure_id"]
    assert delivered["event_id"] == first["id"]
    [item] = await feed_of(hub, SOCIAL_WORK)
    assert item["disclosure_id"] == proposal["disclosure_id"]
    await receiver.wait_for(lambda: bool(receiver.at("/sw")), within=30.0)

    # The second is declined by an operator through the CLI: it never reaches anyone.
    [pending] = await reviews_of(hub, REVIEWER, state="pending")
    assert pending["event_id"] == second["id"]
    code = await run_cli(
        database,
        monkeypatch,
        "reviews",
        "decline",
        pending["proposal_id"],
        "--reason",
        "children at the address",
        "--by",
        "duty operator",
        HUB_POLICY_BUNDLE_DIR=str(hub.container.settings.policy_bundle_dir),
    )
    assert code == 0
    [declined] = await reviews_of(hub, REVIEWER, state="declined")
    assert declined["reason"] == "children at the address"
    assert declined["decided_by"] == "duty operator"
    await hub.container.delivery_worker().run_until_idle()
    assert [d["disclosure_id"] for d in await disclosures_to(hub, SOCIAL_WORK)] == [
        proposal["disclosure_id"]
    ]
    assert [r.webhook_id for r in receiver.at("/sw")] == [proposal["disclosure_id"]]
    assert len(await rows(hub, sa.select(tables.deliveries))) == 1

    # Every step is logged, by whom, and the log and the rows agree.
    assert await outcomes(hub, pid) == [
        ("proposed", "hub", SOCIAL_WORK),
        ("review-approved", approved.json()["decided_by"], SOCIAL_WORK),
    ]
    assert await outcomes(hub, pending["proposal_id"]) == [
        ("proposed", "hub", SOCIAL_WORK),
        ("review-declined", "duty operator", SOCIAL_WORK),
    ]
    disclosed = [
        e
        for e in await logged(hub)
        if e.get("outcome") == "disclosed" and e.get("recipient_id") == SOCIAL_WORK
    ]
    assert [e["details"]["disclosure_id"] for e in disclosed] == [proposal["disclosure_id"]]
    assert await audit_verifies(hub, database, monkeypatch) == 0


async def test_an_undecided_proposal_escalates_once_and_can_still_be_decided(
    hub: RunningHub,
) -> None:
    await push_release(hub)
    [proposal] = await reviews_of(hub, REVIEWER)
    proposed_at = datetime.fromisoformat(proposal["proposed_at"])
    store = hub.container.review_store

    # The release also proposes a disclosure to housing (the bundle's own rule, reviewed by the
    # prison after the same two days): two proposals escalate, each once.
    early = ReviewEscalator(store, clock=lambda: proposed_at + timedelta(days=1))
    assert await early.run_once() == 0
    late = ReviewEscalator(store, clock=lambda: proposed_at + timedelta(days=2, minutes=1))
    assert await late.run_once() == 2
    assert await late.run_once() == 0

    [escalated] = await reviews_of(hub, REVIEWER, state="escalated")
    assert escalated["proposal_id"] == proposal["proposal_id"]
    assert datetime.fromisoformat(escalated["escalated_at"]) > proposed_at
    assert await outcomes(hub, proposal["proposal_id"]) == [
        ("proposed", "hub", SOCIAL_WORK),
        ("review-escalated", "hub", SOCIAL_WORK),
    ]
    reviewer = bearer(await hub.token(REVIEWER, "reviews:decide"))
    declined = await hub.http.post(
        f"/v1/reviews/{proposal['proposal_id']}/decline",
        json={"reason": "out of time"},
        headers=reviewer,
    )
    assert declined.status_code == 200, declined.text
    assert await reviews_of(hub, REVIEWER, state="escalated") == []
    assert await disclosures_to(hub, SOCIAL_WORK) == []


async def test_the_review_list_refuses_an_unknown_state(hub: RunningHub) -> None:
    token = await hub.token(REVIEWER, "reviews:decide")
    answer = await hub.http.get("/v1/reviews?state=maybe", headers=bearer(token))
    assert answer.status_code == 422, answer.text
    assert "state" in answer.text
    assert datetime.now(UTC)  # the hub is up; nothing was decided
    assert await rows(hub, sa.select(tables.review_decisions)) == []


async def insider(database: Database, statement: str) -> None:
    """Raw SQL as the owner of the tables (the insider the evidence checker is for), with the
    table's append-only triggers switched off first."""
    table = statement.split()[2] if statement.startswith("DELETE") else statement.split()[1]
    async with database.owner.connect() as connection:
        if database.backend == "postgres":
            await connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        else:
            for operation in ("update", "delete"):
                await connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))
        await connection.execute(sa.text(statement))
        await connection.commit()


async def test_proposals_and_decisions_are_append_only_in_the_database(
    hub: RunningHub, database: Database
) -> None:
    await push_release(hub)
    [proposal] = await reviews_of(hub, REVIEWER)
    where = f"WHERE proposal_id = '{proposal['proposal_id']}'"
    for statement in (
        f"UPDATE disclosure_proposals SET reviewers = '[]' {where}",
        f"DELETE FROM disclosure_proposals {where}",
        f"UPDATE proposal_reviewers SET reviewer = '{OTHER_REVIEWER}' {where}",
        f"DELETE FROM proposal_reviewers {where}",
    ):
        async with database.owner.connect() as connection:
            with pytest.raises(Exception, match="append-only"):
                await connection.execute(sa.text(statement))
    assert len(await reviews_of(hub, REVIEWER)) == 1


async def test_a_decision_or_proposal_changed_behind_the_hubs_back_fails_verification(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await push_release(hub)
    await push_release(hub)
    first, second = await reviews_of(hub, REVIEWER)
    reviewer = bearer(await hub.token(REVIEWER, "reviews:decide"))
    answer = await hub.http.post(
        f"/v1/reviews/{first['proposal_id']}/decline", json={"reason": "no"}, headers=reviewer
    )
    assert answer.status_code == 200, answer.text
    assert await audit_verifies(hub, database, monkeypatch) == 0
    capsys.readouterr()

    # A decline turned into an approval: the decision no longer matches its entry.
    await insider(
        database,
        "UPDATE review_decisions SET outcome = 'approved' "
        f"WHERE proposal_id = '{first['proposal_id']}'",
    )
    assert await audit_verifies(hub, database, monkeypatch) == 1
    err = capsys.readouterr().err
    assert "review_decisions" in err, err
    assert "outcome" in err, err
    await insider(
        database,
        "UPDATE review_decisions SET outcome = 'declined' "
        f"WHERE proposal_id = '{first['proposal_id']}'",
    )

    # A proposal removed, so that nobody ever reviews it: its entry says it was written.
    await insider(
        database,
        f"DELETE FROM disclosure_proposals WHERE proposal_id = '{second['proposal_id']}'",
    )
    assert await audit_verifies(hub, database, monkeypatch) == 1
    err = capsys.readouterr().err
    assert "disclosure_proposals" in err, err
    assert second["proposal_id"] in err, err
