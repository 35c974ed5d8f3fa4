"""Erasure at the end of retention (`hub retention apply`), on both backends: only events past
their type's period lose their data; each erasure is recorded and logged with the names of the
fields erased, never their values; the audit trail still verifies; a re-push is still a
duplicate; what a recipient reads afterwards has no personal data; and the database refuses any
other change to an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.audit import builders as audit_records
from hub.domain.audit.entries import AuditEntry
from hub.domain.person import PersonProfile, ProfileFormatUnknown, Status
from hub.infra import tables
from hub.services.routing import fold_profiles, rebuild_profiles
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows

GLASGOW_SW = "sw-glasgow-city"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={"router_poll_interval": 0.05, "audit_checkpoint_interval": 0.1}
    )
    async with running_hub(settings) as running:
        yield running


def aged(notifications: list[dict[str, Any]], years: int) -> list[dict[str, Any]]:
    when = datetime.now(UTC) - timedelta(days=365 * years)
    for n in notifications:
        n["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return notifications


async def event_data(hub: RunningHub) -> dict[str, Any]:
    found = await rows(hub, sa.select(tables.events.c.event_id, tables.events.c.data))
    return {r["event_id"]: r["data"] for r in found}


async def erasure_entries(hub: RunningHub) -> list[AuditEntry]:
    found = await rows(
        hub,
        sa.select(tables.audit_entries.c.entry)
        .where(tables.audit_entries.c.kind == "erasure")
        .order_by(tables.audit_entries.c.position),
    )
    return [AuditEntry.from_canonical(r["entry"].encode()) for r in found]


@pytest.mark.asyncio
async def test_only_events_past_retention_are_erased_and_each_erasure_is_logged(
    hub: RunningHub,
) -> None:
    publisher = await hub.token("sps")
    old = aged(about_new_person(["custody.admission", "release.schedule1-notification"]), 11)
    young = aged(about_new_person(["custody.admission"]), 9)
    missing_long_ago = aged(about_new_person(["person.missing"]), 7)
    await push(hub, publisher, old + young)
    # Police Scotland's, from its own source (hub.services.intake.source_belongs_to).
    await push(hub, await hub.token("police-scotland"), missing_long_ago)
    await routed(hub)
    before = await event_data(hub)

    dry = await hub.container.retention.apply(dry_run=True)
    assert dry.erased == 3
    assert await event_data(hub) == before
    assert await erasure_entries(hub) == []

    report = await hub.container.retention.apply(actor="cli:dpo")
    assert report.erased == 3
    assert report.by_type["custody.admission"]["erased"] == 1
    assert report.by_type["person.missing"]["erased"] == 1
    after = await event_data(hub)
    erased = {n["id"] for n in old + missing_long_ago}
    for event_id, data in after.items():
        assert data == ({} if event_id in erased else before[event_id])

    logged = await erasure_entries(hub)
    assert {e.event_id for e in logged} == erased
    admission = next(e for e in logged if e.event_id == old[0]["id"])
    assert "data.committing_court" in admission.fields
    assert admission.rules == ("retention:custody.admission:3650d",)
    assert admission.actor == "cli:dpo"
    text = "".join(e.canonical_bytes().decode() for e in logged)
    assert old[0]["data"]["committing_court"] not in text
    recorded = await rows(hub, sa.select(tables.event_erasures))
    assert len(recorded) == 3
    assert all(r["erased_by"] == "cli:dpo" for r in recorded)

    # A second run finds nothing left to erase.
    assert (await hub.container.retention.apply()).erased == 0
    assert len(await erasure_entries(hub)) == 3


@pytest.mark.asyncio
async def test_the_log_still_verifies_and_a_repush_is_still_a_duplicate(hub: RunningHub) -> None:
    publisher = await hub.token("sps")
    old = aged(about_new_person(["custody.admission"]), 11)
    await push(hub, publisher, old)
    await routed(hub)
    await hub.container.retention.apply()
    await hub.container.audit_sequencer().run_until_idle()
    await hub.container.audit_checkpointer().run_once()
    report = await hub.container.audit_verifier().verify()
    assert report.ok, report.as_json()
    again = await hub.http.post("/v1/events", json=old[0], headers=bearer(publisher))
    assert again.status_code == 200, again.text
    assert (await event_data(hub))[old[0]["id"]] == {}


@pytest.mark.asyncio
async def test_a_recipient_reads_no_personal_data_after_erasure(hub: RunningHub) -> None:
    publisher = await hub.token("sps")
    old = aged(about_new_person(["custody.admission", "release.schedule1-notification"]), 11)
    await push(hub, publisher, old)
    await routed(hub)
    await hub.container.retention.apply()
    reader = await hub.token(GLASGOW_SW, "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert items
    for item in items:
        assert item["notification"].get("data", {}) == {}


@pytest.mark.asyncio
async def test_the_database_allows_only_a_recorded_erasure(
    hub: RunningHub, database: Database
) -> None:
    publisher = await hub.token("sps")
    [first, second] = aged(about_new_person(["custody.admission", "custody.transfer"]), 1)
    await push(hub, publisher, [first, second])
    before = await event_data(hub)
    engine = hub.container.engine
    [first_row] = await rows(
        hub, sa.select(tables.events).where(tables.events.c.stream_version == 1)
    )
    erasure = {
        "position": first_row["position"],
        "erased_at": datetime.now(UTC),
        "erased_by": "x",
        "reason": "y",
        "fields": [],
    }
    # Since migration 0011 the erasure row itself needs its erasure entry in the log: written
    # here as the retention store writes it, so that what is tested is the events guard.
    entry = audit_records.erasure(
        person_id=first_row["person_id"],
        event_id=first_row["event_id"],
        source=first_row["source"],
        event_type=first_row["type"],
        fields=[],
        rule="y",
        actor="x",
        at=erasure["erased_at"],
        recorded_at=first_row["recorded_at"],
        row=erasure,
    )
    for record_erasure, update in (
        # Emptying the data without recording an erasure.
        (False, "UPDATE events SET data = '{}'"),
        # Recording an erasure and changing anything but the data.
        (
            True,
            "UPDATE events SET data = '{}', type = 'custody.liberation' WHERE stream_version = 1",
        ),
        # Recording an erasure and rewriting the data instead of emptying it.
        (True, 'UPDATE events SET data = \'{"establishment": "forged"}\' WHERE stream_version = 1'),
    ):
        async with engine.connect() as connection:
            transaction = await connection.begin()
            if record_erasure:
                await hub.container.audit_log.append(connection, [entry])
                await connection.execute(tables.event_erasures.insert(), [erasure])
            with pytest.raises(sa.exc.DBAPIError):
                await connection.execute(sa.text(update))
            await transaction.rollback()
    assert await event_data(hub) == before
    assert await rows(hub, sa.select(tables.event_erasures)) == []


@pytest.mark.asyncio
async def test_as_of_in_the_future_or_without_zone_is_refused(hub: RunningHub) -> None:
    from hub.errors import InvalidInput

    with pytest.raises(InvalidInput, match="future"):
        await hub.container.retention.apply(as_of=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(InvalidInput, match="time zone"):
        await hub.container.retention.apply(as_of=datetime(2020, 1, 1))
    await asyncio.sleep(0)


async def person_of(hub: RunningHub, event_id: str) -> tuple[str, int]:
    [row] = await rows(
        hub,
        sa.select(tables.events.c.person_id, tables.events.c.position).where(
            tables.events.c.event_id == event_id
        ),
    )
    return row["person_id"], int(row["position"])


async def rebuild(hub: RunningHub) -> dict[str, PersonProfile]:
    container = hub.container
    await rebuild_profiles(container.store, container.routing, container.policy.statuses)
    return {p.person_id: p for p in await container.routing.all_profiles()}


@pytest.mark.asyncio
async def test_schedule1_outlives_the_retention_of_the_admission_through_a_rebuild(
    hub: RunningHub,
) -> None:
    """Schedule 1 is life-long: erasing the admission that said so (after 10 years) must not
    end it when the profiles are folded again. PR2's registration marker, whose period is not
    known, is not carried."""
    admission, liberation = about_new_person(["custody.admission", "custody.liberation"])
    aged([admission], 11)
    aged([liberation], 9)
    await push(hub, await hub.token("sps"), [admission, liberation])
    await routed(hub)
    person_id, admitted_at = await person_of(hub, admission["id"])

    assert (await hub.container.retention.apply()).erased == 1
    # Folded from what is left of the store alone, Schedule 1 would be gone:
    alone = await fold_profiles(
        hub.container.store,
        hub.container.policy.statuses,
        through=await hub.container.store.last_position(),
        survivors={},
    )
    assert alone[person_id].status("schedule1") is None

    profile = (await rebuild(hub))[person_id]
    schedule1 = profile.status("schedule1")
    assert schedule1 is not None
    assert (schedule1.position, schedule1.set_by) == (admitted_at, "sps")
    assert profile.as_context(as_of=datetime.now(UTC))["schedule1"] is True
    assert profile.status("notification_requirements") is None
    assert profile.release_area == "S12000049"  # the liberation, still stored, folded on top
    # And again: a rebuild of the rebuilt profiles keeps it.
    assert (await rebuild(hub))[person_id] == profile

    # `hub policy explain` folds the person's stream too, and keeps it the same way: a later
    # notification about them is judged with Schedule 1, and the status is shown.
    later = about_new_person(["person.missing"])[0]
    later["identifiers"] = admission["identifiers"]
    answer = await hub.http.post(
        "/v1/policy/explain",
        json={"notification": later},
        headers=bearer(await hub.token("hub-operator", scopes="policy:explain")),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["person_id"] == person_id
    assert body["profile"]["schedule1"] is True
    assert [s["kind"] for s in body["statuses"] if s["kind"] == "schedule1"] == ["schedule1"]


@pytest.mark.asyncio
async def test_a_format_1_profile_is_refused_and_the_rebuild_carries_its_schedule1(
    hub: RunningHub,
) -> None:
    [admission] = aged(about_new_person(["custody.admission"]), 11)
    await push(hub, await hub.token("sps"), [admission])
    await routed(hub)
    person_id, position = await person_of(hub, admission["id"])
    await hub.container.retention.apply()
    old = {"format": 1, "person_id": person_id, "position": position, "schedule1": True}
    async with hub.container.engine.begin() as connection:
        await connection.execute(
            tables.person_profiles.update()
            .where(tables.person_profiles.c.person_id == person_id)
            .values(profile=old)
        )
    with pytest.raises(ProfileFormatUnknown, match="run `hub projections rebuild`"):
        await hub.container.routing.all_profiles()

    profile = (await rebuild(hub))[person_id]
    assert profile.status("schedule1") == Status(
        "schedule1", {"by": "profile format 1"}, position=0, set_by="hub"
    )
    assert profile.to_json()["format"] == 2


@pytest.mark.asyncio
async def test_indefinite_notification_requirements_outlive_the_registration(
    hub: RunningHub,
) -> None:
    """Registered indefinitely 21 years ago (the registration's data erased after 20), then
    admitted with PR2's marker `N`: the requirements still stand after a rebuild, set by police."""
    registration, admission = about_new_person(["sex-offender.registered", "custody.admission"])
    aged([registration], 21)
    aged([admission], 2)
    admission["data"]["sex_offender_notification"] = False
    await push(hub, await hub.token("police-scotland"), [registration])
    await push(hub, await hub.token("sps"), [admission])
    await routed(hub)
    person_id, registered_at = await person_of(hub, registration["id"])

    report = await hub.container.retention.apply()
    assert report.by_type["sex-offender.registered"]["erased"] == 1
    profile = (await rebuild(hub))[person_id]
    requirements = profile.status("notification_requirements")
    assert requirements is not None
    assert (requirements.position, requirements.set_by) == (registered_at, "police-scotland")
    assert profile.as_context(as_of=datetime.now(UTC))["sex_offender_registered"] is True
