"""`hub router run` and `hub projections rebuild`, run as an operator runs them, on both
backends: what the router on its own records is what the in-process router records, audit
entries included (issue 13, finding 1: it once recorded disclosures with no audit entry)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.audit.entries import AuditEntry
from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import about_new_person, push, rows

pytestmark = pytest.mark.asyncio

STORY = ("custody.admission", "release.schedule1-notification", "health.information-shared")


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    """The API and the audit workers, with no router of its own: `hub router run` routes."""
    quiet = {"router_enabled": False, "delivery_enabled": False}
    async with running_hub(database.settings.model_copy(update=quiet)) as running:
        yield running


async def stored_story(hub: RunningHub) -> None:
    """A person admitted and their release notified to Glasgow (disclosed), then health
    information shared without consent (refused to the police): stored, not routed."""
    notifications = about_new_person(STORY)
    health = notifications[-1]
    health["data"]["consent"]["given"] = False
    await push(hub, await hub.token("sps"), notifications[:-1])
    board = health["source"].split(":")[3]  # urn:pph:nhs:<health board>:<service>
    await push(hub, await hub.token(board), [health])


async def decision_entries(hub: RunningHub) -> list[AuditEntry]:
    found = await rows(
        hub,
        sa.select(tables.audit_entries.c.entry)
        .where(tables.audit_entries.c.kind == "disclosure")
        .order_by(tables.audit_entries.c.position),
    )
    return [AuditEntry.from_canonical(r["entry"].encode()) for r in found]


async def test_router_run_logs_every_disclosure_and_denial(
    database: Database, hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored_story(hub)
    assert await rows(hub, sa.select(tables.disclosures)) == []

    assert await run_cli(database, monkeypatch, "router", "run", "--until-idle") == 0

    disclosed = await rows(hub, sa.select(tables.disclosures))
    denied = await rows(hub, sa.select(tables.disclosure_denials))
    assert disclosed, "the story is disclosed to Glasgow"
    assert denied, "the story has refused candidates"
    logged = await decision_entries(hub)
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
    # And the trail they joined verifies.
    await hub.container.audit_sequencer().run_until_idle()
    await hub.container.audit_checkpointer().run_once()
    report = await hub.container.audit_verifier().verify()
    assert report.ok, report


async def test_projections_rebuild_rebuilds_what_router_run_built(
    database: Database, hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored_story(hub)
    assert await run_cli(database, monkeypatch, "router", "run", "--until-idle") == 0
    routed = await hub.container.routing.all_profiles()
    assert routed

    assert await run_cli(database, monkeypatch, "projections", "rebuild") == 0

    assert await hub.container.routing.all_profiles() == routed
