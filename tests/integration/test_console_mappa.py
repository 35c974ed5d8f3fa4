"""The MAPPA co-ordinator's oversight pages over real HTTP, on both backends, signed in through
the real Keycloak: the dashboard's figures for the region's agencies against known disclosures,
the overdue list and one overdue disclosure (each look logged under the co-ordinator's name with
their purpose), the review queue with approve and decline (the API's own decision and audit
entry, under the co-ordinator's name). Another region's data is never shown, a DPO is refused,
bad input says why and changes nothing, a form without the page's CSRF token is refused."""

# ruff: noqa: F811 - the `keycloak` fixture is imported by name, as test_console_dpo does.

from __future__ import annotations

import html
import json
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.api.app import create_app
from hub.domain.policy.directory import Directory
from hub.infra import tables
from hub.services.overdue import OverdueMonitor
from hub.settings import PROJECT_ROOT, Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example
from tests.integration.console.hub_browser import CONSOLE_URL, ConsoleBrowser
from tests.integration.feed_helpers import disclosures_to, routed, rows
from tests.integration.test_console_dpo import Console, consultations, signed_in
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
    provider_browser,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

REGION = "mappa-lanarkshire"
OTHER_REGION = "mappa-glasgow"
NORTH_LANARKSHIRE = "S12000050"
GLASGOW = "S12000049"
LANARKSHIRE = {NORTH_LANARKSHIRE, "S12000029"}
PURPOSE = "MAPPA oversight: weekly review of overdue acknowledgements"
RULE = "schedule1-release-to-social-work"
REVIEW = """    review:
      by: mappa-coordinator
      area: event.data.release.address.council_area
      escalate_after: 2d
"""


def reviewed_bundle(tmp_path: Path) -> Path:
    """The Scotland bundle with Schedule 1 release notices to social work held for review by
    the MAPPA co-ordinator of the release area (as tests/integration/test_reviews.py)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(PROJECT_ROOT / "policies" / "scotland", bundle)
    rules = bundle / "rules" / "release.yaml"
    text = rules.read_text()
    start = text.index(f"id: {RULE}")
    end = text.index("    follows_person: false\n", start) + len("    follows_person: false\n")
    rules.write_text(text[:end] + REVIEW + text[end:])
    return bundle


def console_fixture(*, reviewed: bool) -> Callable[..., AsyncIterator[Console]]:
    async def fixture(
        database: Database, keycloak: KeycloakUnderTest, tmp_path: Path
    ) -> AsyncIterator[Console]:
        update: dict[str, Any] = {
            "router_poll_interval": 0.05,
            "delivery_enabled": False,
            # The in-process monitors are idle: the tests run the overdue monitor themselves.
            "overdue_check_interval": 3600.0,
            **keycloak.hub_settings,
        }
        if reviewed:
            update["policy_bundle_dir"] = reviewed_bundle(tmp_path)
        settings: Settings = database.settings.model_copy(update=update)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as http,
                provider_browser() as provider,
            ):
                yield Console(
                    ConsoleBrowser(http, provider),
                    RunningHub(http, app.state.container),
                    keycloak.issuer,
                )

    return fixture


console = pytest_asyncio.fixture(console_fixture(reviewed=False), name="console")
reviewed = pytest_asyncio.fixture(console_fixture(reviewed=True), name="reviewed")


async def release_to(hub: RunningHub, council_area: str) -> dict[str, Any]:
    """A Schedule 1 release notice for a new person with an address in `council_area`, routed."""
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(uuid.uuid4().int % 10_000_000)}
    notification["data"]["release"]["address"]["council_area"] = council_area
    token = await hub.token("sps", "events:publish")
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    await routed(hub)
    return notification


async def disclosed(hub: RunningHub, event_id: str) -> list[dict[str, Any]]:
    d = tables.disclosures
    return await rows(hub, sa.select(d).where(d.c.event_id == event_id))


async def escalated_to(hub: RunningHub, region: str) -> list[str]:
    """The ids of the disclosures escalated to `region` (an escalation's id is theirs)."""
    d = tables.disclosures
    found = await rows(
        hub,
        sa.select(d.c.event_id).where(
            d.c.recipient_id == region, d.c.event_type == "disclosure.overdue"
        ),
    )
    return [row["event_id"] for row in found]


def escalate_days_later(hub: RunningHub, days: float) -> OverdueMonitor:
    c = hub.container
    return OverdueMonitor(
        c.store,
        c.overdue,
        c.routing,
        c.schemas,
        c.policy.directory,
        clock=lambda: datetime.now(UTC) + timedelta(days=days),
        on_appended=c.appended.set,
    )


def _serves_only(directory: Directory, recipient_id: str, areas: set[str]) -> bool:
    recipient = directory.get(recipient_id)
    assert recipient is not None
    return bool(recipient.areas) and recipient.areas <= areas


def cells(page: str, row_id: str) -> list[str]:
    """The texts of the cells of the table row `row_id`."""
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, row_id
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.DOTALL)
    ]


async def test_the_dashboard_shows_the_region_s_agencies_figures_and_nothing_of_another_region(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    hub = console.hub
    directory = hub.container.policy.directory
    ours = await disclosed(hub, (await release_to(hub, NORTH_LANARKSHIRE))["id"])
    theirs = await disclosed(hub, (await release_to(hub, GLASGOW))["id"])
    regional = [d for d in ours if _serves_only(directory, d["recipient_id"], LANARKSHIRE)]
    assert regional, "the release notice reaches some agency of the region"
    glasgow_only = {
        d["recipient_id"] for d in theirs if _serves_only(directory, d["recipient_id"], {GLASGOW})
    }
    assert glasgow_only
    # One of the region's agencies acknowledges what it was told.
    first = regional[0]
    reader = await hub.token(first["recipient_id"], "feed:read")
    acked = await hub.http.post(
        f"/v1/disclosures/{first['disclosure_id']}/ack", headers=bearer(reader)
    )
    assert acked.status_code == 201, acked.text

    await signed_in(console, keycloak, "coordinator-lanarkshire")
    home = await console.browser.get("/")
    assert 'id="mappa-mappa-lanarkshire"' in home.text
    to_mine = await console.browser.get("/console/mappa")
    assert to_mine.status_code == 303
    assert to_mine.headers["location"] == f"{CONSOLE_URL}/console/mappa/{REGION}"
    dashboard = await console.browser.get(f"/console/mappa/{REGION}")
    assert dashboard.status_code == 200, dashboard.text
    page = dashboard.text
    assert "MAPPA Coordinator, Lanarkshire" in page
    for d in regional:
        row = cells(page, f"row-{d['recipient_id']}-{d['event_type']}")
        name = directory.get(d["recipient_id"]).name  # type: ignore[union-attr]
        acknowledged = 1 if d is first else 0
        # Agency, type, disclosed, delivered (delivery is off here), acknowledged, overdue now,
        # acknowledged on time and late (the rule gives the agency days).
        assert row[:8] == [name, d["event_type"], "1", "0", str(acknowledged), "0"] + (
            [str(acknowledged), "0"] if d["acknowledge_within_seconds"] else ["0", "0"]
        ), row
        # From the occurrence to the decision: the example happened in 2023, years ago.
        assert row[8:10] == ["> 365 d", "> 365 d"], row
        assert row[10:12] == ["none", "none"]  # nothing delivered, so no delivery latency
        assert row[12].startswith("≤") if acknowledged else row[12] == "none"
    for recipient_id in glasgow_only:
        assert f"row-{recipient_id}-" not in page
        assert directory.get(recipient_id).name not in page  # type: ignore[union-attr]

    # Another region's dashboard and queue are refused, and say nothing of it.
    for refused in (
        await console.browser.get(f"/console/mappa/{OTHER_REGION}"),
        await console.browser.get(f"/console/mappa/{OTHER_REGION}/reviews"),
        await console.browser.get("/console/mappa/no-such-region"),
    ):
        assert refused.status_code == 403
        assert "You cannot see this page" in refused.text
        assert "Glasgow" not in refused.text


async def test_a_dpo_is_refused_every_oversight_page(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    await release_to(console.hub, NORTH_LANARKSHIRE)
    csrf = await signed_in(console, keycloak, "dpo")
    assert "mappa-regions" not in (await console.browser.get("/")).text
    form = {"purpose": PURPOSE, "csrf_token": csrf}
    for refused in (
        await console.browser.get("/console/mappa"),
        await console.browser.get(f"/console/mappa/{REGION}"),
        await console.browser.post(f"/console/mappa/{REGION}/overdue", data=form),
        await console.browser.post(
            f"/console/mappa/{REGION}/overdue/disclosure", data=form | {"disclosure_id": "d_x"}
        ),
        await console.browser.get(f"/console/mappa/{REGION}/reviews"),
        await console.browser.post(
            f"/console/mappa/{REGION}/reviews/p_x",
            data={"decision": "approve", "reason": "x", "csrf_token": csrf},
        ),
    ):
        assert refused.status_code == 403, refused.text
        assert "MAPPA co-ordinator of this region" in refused.text
    assert await consultations(console.hub) == []
    # Nobody signed in: to the sign-in page.
    console.browser.cookies.clear()
    nobody = await console.browser.get(f"/console/mappa/{REGION}")
    assert nobody.status_code == 303
    assert nobody.headers["location"] == f"{CONSOLE_URL}/"


async def test_the_overdue_list_and_one_overdue_disclosure_are_logged_reads_of_the_region_only(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    hub = console.hub
    ours = await disclosed(hub, (await release_to(hub, NORTH_LANARKSHIRE))["id"])
    theirs = await disclosed(hub, (await release_to(hub, GLASGOW))["id"])
    # Nobody acknowledges: a week on, the monitor escalates each to its area's co-ordinator.
    assert await escalate_days_later(hub, 7).run_once() > 0
    await routed(hub)
    # The router sent each escalation to a co-ordinator (the recipient's area's, or the
    # person's): the region's list is what it sent to the region.
    escalated_to_us = await escalated_to(hub, REGION)
    escalated_to_them = await escalated_to(hub, OTHER_REGION)
    by_id = {d["disclosure_id"]: d for d in ours + theirs}
    assert escalated_to_us
    assert set(escalated_to_us) <= {d["disclosure_id"] for d in ours}
    assert escalated_to_them
    due = [by_id[i] for i in escalated_to_us]
    theirs_due = [by_id[i] for i in escalated_to_them]

    csrf = await signed_in(console, keycloak, "coordinator-lanarkshire")
    listed = await console.browser.post(
        f"/console/mappa/{REGION}/overdue", data={"purpose": PURPOSE, "csrf_token": csrf}
    )
    assert listed.status_code == 200, listed.text
    page = listed.text
    for d in due:
        assert f"<code>{d['disclosure_id']}</code>" in page
    assert "Not acknowledged" in page
    for d in theirs_due:
        assert d["disclosure_id"] not in page
    reads = [c for c in await consultations(hub) if c.actor.startswith("console:")]
    assert reads
    assert {c.purpose for c in reads} == {PURPOSE}
    assert {c.actor for c in reads} == {reads[0].actor}
    assert reads[0].actor.endswith("(Lewis Baird)")
    assert {c.agency for c in reads} == {REGION}  # the co-ordinator's agency claim

    one = due[0]
    opened = await console.browser.post(
        f"/console/mappa/{REGION}/overdue/disclosure",
        data={"disclosure_id": one["disclosure_id"], "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert opened.status_code == 200, opened.text
    recipient = hub.container.policy.directory.get(one["recipient_id"])
    assert recipient is not None
    assert f'<dd id="sent-to">{html.escape(recipient.name)}</dd>' in opened.text
    assert f'<dd id="rule">{", ".join(one["rules"])}</dd>' in opened.text
    assert '<dd id="acknowledged">Not acknowledged</dd>' in opened.text
    assert '<dd id="legal-basis"></dd>' not in opened.text
    assert len([c for c in await consultations(hub) if c.actor == reads[0].actor]) > len(reads)

    # Another region's overdue disclosure is not found, and shows nothing of it.
    before = len(await consultations(hub))
    other = await console.browser.post(
        f"/console/mappa/{REGION}/overdue/disclosure",
        data={
            "disclosure_id": theirs_due[0]["disclosure_id"],
            "purpose": PURPOSE,
            "csrf_token": csrf,
        },
    )
    assert other.status_code == 404, other.text
    assert "Glasgow" not in other.text
    # The query that found nothing is logged (as the API logs one), with no person in it.
    [asked] = (await consultations(hub))[before:]
    assert asked.person_id is None
    before += 1

    # Bad input says why and reads nothing; a forged form is refused.
    for form, status, message in (
        ({"purpose": ""}, 400, "Say why you are looking at the overdue disclosures"),
        ({"purpose": "a\u202eb c"}, 400, "The purpose must"),
    ):
        answer = await console.browser.post(
            f"/console/mappa/{REGION}/overdue", data=form | {"csrf_token": csrf}
        )
        assert answer.status_code == status, answer.text
        assert 'id="error-summary"' in answer.text
        assert message in answer.text
    bad_id = await console.browser.post(
        f"/console/mappa/{REGION}/overdue/disclosure",
        data={"disclosure_id": "x" * 300, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert bad_id.status_code == 400
    assert "not one the hub makes" in bad_id.text
    forged = await console.browser.post(
        f"/console/mappa/{REGION}/overdue", data={"purpose": PURPOSE, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert len(await consultations(hub)) == before


async def decisions(hub: RunningHub, proposal_id: str) -> list[dict[str, Any]]:
    """Every audit entry about the proposal's decision, in log order."""
    found = await rows(
        hub, sa.select(tables.audit_entries.c.entry).order_by(tables.audit_entries.c.position)
    )
    entries = [json.loads(r["entry"]) if isinstance(r["entry"], str) else r["entry"] for r in found]
    return [
        e
        for e in entries
        if e.get("details", {}).get("proposal_id") == proposal_id
        and e.get("outcome") in ("review-approved", "review-declined")
    ]


async def test_the_co_ordinator_approves_and_declines_their_region_s_proposals_with_a_reason(
    reviewed: Console, keycloak: KeycloakUnderTest
) -> None:
    hub = reviewed.hub
    first = await release_to(hub, NORTH_LANARKSHIRE)
    second = await release_to(hub, NORTH_LANARKSHIRE)
    glasgow = await release_to(hub, GLASGOW)
    [theirs] = await hub.container.reviews.list(OTHER_REGION)
    assert theirs.proposal.disclosure.event_id == glasgow["id"]
    assert await disclosures_to(hub, "sw-north-lanarkshire") == []

    csrf = await signed_in(reviewed, keycloak, "coordinator-lanarkshire")
    queue = await reviewed.browser.get(f"/console/mappa/{REGION}/reviews")
    assert queue.status_code == 200, queue.text
    ours = {i.proposal.disclosure.event_id: i for i in await hub.container.reviews.list(REGION)}
    assert set(ours) == {first["id"], second["id"]}
    for item in ours.values():
        assert f'id="proposal-{item.proposal.proposal_id}"' in queue.text
    assert theirs.proposal.proposal_id not in queue.text
    approve_id = ours[first["id"]].proposal.proposal_id
    decline_id = ours[second["id"]].proposal.proposal_id
    url = f"/console/mappa/{REGION}/reviews/"

    # Bad input says why and decides nothing; a forged form is refused.
    for form, message in (
        ({"decision": "approve", "reason": "  "}, "A review decision needs a reason"),
        ({"decision": "maybe", "reason": "checked"}, "Choose approve or decline"),
        ({"decision": "approve", "reason": "x" * 5000}, "A review reason is at most"),
    ):
        answer = await reviewed.browser.post(url + approve_id, data=form | {"csrf_token": csrf})
        assert answer.status_code == 400, answer.text
        assert 'id="error-summary"' in answer.text
        assert message in answer.text
    forged = await reviewed.browser.post(
        url + approve_id, data={"decision": "approve", "reason": "checked", "csrf_token": "x"}
    )
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    # Another region's proposal is not found from here, and stays undecided.
    other = await reviewed.browser.post(
        url + theirs.proposal.proposal_id,
        data={"decision": "approve", "reason": "not mine", "csrf_token": csrf},
    )
    assert other.status_code == 404, other.text
    assert (await hub.container.reviews.list(OTHER_REGION))[0].outcome is None
    assert await decisions(hub, approve_id) == []

    approved = await reviewed.browser.post(
        url + approve_id,
        data={
            "decision": "approve",
            "reason": "address checked at the MAPPA meeting",
            "csrf_token": csrf,
        },
    )
    assert approved.status_code == 200, approved.text
    assert 'id="decided"' in approved.text
    assert f'id="proposal-{approve_id}"' not in approved.text  # no longer waiting
    [entry] = await decisions(hub, approve_id)
    assert entry["outcome"] == "review-approved"
    assert entry["actor"].startswith("console:")
    assert entry["actor"].endswith("(Lewis Baird)")
    assert entry["agency"] == REGION
    [told] = await disclosures_to(hub, "sw-north-lanarkshire")
    assert told["event_id"] == first["id"]

    declined = await reviewed.browser.post(
        url + decline_id,
        data={
            "decision": "decline",
            "reason": "not a risk to children at this address",
            "csrf_token": csrf,
        },
    )
    assert declined.status_code == 200, declined.text
    [entry] = await decisions(hub, decline_id)
    assert entry["outcome"] == "review-declined"
    assert entry["actor"].endswith("(Lewis Baird)")
    assert len(await disclosures_to(hub, "sw-north-lanarkshire")) == 1
    assert 'id="no-reviews"' in declined.text

    again = await reviewed.browser.post(
        url + approve_id, data={"decision": "decline", "reason": "twice", "csrf_token": csrf}
    )
    assert again.status_code == 409, again.text
    assert "already approved" in again.text
