"""Encryption at rest of sensitive fields, on both backends: the `events` table holds ciphertext
where every read path (API, feed, router, webhook delivery) sees plaintext; a tampered
ciphertext is an error; crypto-shredding a person erases their sensitive fields everywhere while
events and the audit trail stay and verify; rotating the key-encryption key rewraps data keys so
that a hub with only the new key reads everything, and a hub with a wrong key refuses to read."""

from __future__ import annotations

import base64
import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from pydantic import SecretStr

from hub.domain.protection import MARKER
from hub.errors import StoreError
from hub.infra import tables
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import about_new_person, push, routed
from tests.integration.webhook_receiver import running_receiver

pytestmark = pytest.mark.asyncio

GLASGOW_SW = "sw-glasgow-city"
NHS = "nhs-greater-glasgow-and-clyde"
STORY = ("custody.admission", "release.schedule1-notification")
HEALTH = "health.information-shared"


def hub_settings(database: Database, **overrides: Any) -> Settings:
    settings: dict[str, Any] = {
        "router_poll_interval": 0.05,
        "delivery_poll_interval": 0.05,
        "webhook_allow_private_addresses": True,
        "webhook_timeout_seconds": 3.0,
        "overdue_check_interval": 3600.0,
    }
    settings.update(overrides)
    return database.settings.model_copy(update=settings)


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    async with running_hub(hub_settings(database)) as running:
        yield running


def story(offence: str) -> list[dict[str, Any]]:
    """A new person admitted, then notified for release to Glasgow (a free-text offence)."""
    notifications = about_new_person(STORY)
    notifications[1]["data"]["schedule1_offences"][0]["description"] = offence
    return notifications


_chi = itertools.count(1)


def health(summary: str) -> dict[str, Any]:
    """A health note about a new person: a new SPS number and CHI number (one person has one
    of each, so keeping the example's CHI number would make a second SPS number a conflict)."""
    notification = example(HEALTH)
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"]["sps_number"] = str(uuid.uuid4().int % 10_000_000)
    notification["identifiers"]["chi_number"] = f"150385{next(_chi):04d}"
    notification["data"]["summary"] = summary
    return notification


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex}"


async def stored_text(engine: sa.ext.asyncio.AsyncEngine) -> str:
    """Every body in `events`, as the database holds it."""
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT CAST(data AS TEXT) FROM events"))
        return "\n".join(row[0] for row in rows)


async def feed_text(hub: RunningHub, recipient: str) -> str:
    answer = await hub.http.get("/v1/feed", headers=bearer(await hub.token(recipient, "feed:read")))
    assert answer.status_code == 200, answer.text
    return answer.text


def offences(event: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = event.notification.data["schedule1_offences"]
    return found


async def test_the_table_holds_ciphertext_and_every_reader_plaintext(hub: RunningHub) -> None:
    summary, offence = unique("Depressive disorder treated"), unique("Lewd practices")
    note = health(summary)
    await push(hub, await hub.token(NHS), [note])
    release = story(offence)
    await push(hub, await hub.token("sps"), release)
    await routed(hub)

    raw = await stored_text(hub.container.engine)
    assert summary not in raw
    assert offence not in raw
    assert "prison mental health nurse" not in raw  # consent.recorded_by: a health string
    assert MARKER in raw
    assert "mental-health" in raw  # codes stay readable: routing and policy use them

    answer = await hub.http.get(f"/v1/events/{note['id']}", headers=bearer(await hub.token(NHS)))
    assert answer.status_code == 200, answer.text
    assert answer.json()["notification"]["data"]["summary"] == summary
    # The router decided on plaintext: it disclosed the release, and the feed carries the text.
    assert offence in await feed_text(hub, GLASGOW_SW)
    stored = await hub.container.store.read_all()
    assert offence in json.dumps([e.notification.data for e in stored])


async def test_a_duplicate_is_still_recognised(hub: RunningHub) -> None:
    note = health(unique("summary"))
    publisher = await hub.token(NHS)
    await push(hub, publisher, [note])

    again = await hub.http.post("/v1/events", json=note, headers=bearer(publisher))

    assert again.status_code == 200, again.text
    assert await hub.container.store.count() == 1


async def untrigger(database: Database, connection: sa.ext.asyncio.AsyncConnection) -> None:
    """As an attacker who has disabled the events table's append-only protection."""
    if database.backend == "postgres":
        await connection.execute(sa.text("ALTER TABLE events DISABLE TRIGGER ALL"))
        await connection.execute(sa.text("GRANT UPDATE ON events TO CURRENT_USER"))
    else:
        await connection.execute(sa.text("DROP TRIGGER events_no_update"))


async def test_a_tampered_ciphertext_is_an_error_not_garbage(database: Database) -> None:
    async with running_hub(hub_settings(database, router_enabled=False)) as hub:
        await tampered_reads_fail(database, hub)


async def tampered_reads_fail(database: Database, hub: RunningHub) -> None:
    first, second = health(unique("first")), health(unique("second"))
    second["identifiers"] = dict(first["identifiers"])  # one person, one data key
    await push(hub, await hub.token(NHS), [first, second])
    events = tables.events
    async with hub.container.engine.connect() as connection:
        rows = (await connection.execute(sa.select(events.c.event_id, events.c.data))).all()
    data = {row.event_id: row.data for row in rows}
    # The insider holds the owner's rights: the hub's own role cannot disable the triggers.
    async with database.owner.connect() as connection:
        changed = dict(data[first["id"]])
        sealed = changed["summary"][MARKER]
        changed["summary"] = {MARKER: sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB")}
        moved = dict(data[second["id"]])
        moved["summary"] = data[first["id"]]["summary"]  # a valid ciphertext, other event
        await untrigger(database, connection)
        for event_id, body in ((first["id"], changed), (second["id"], moved)):
            await connection.execute(
                events.update().where(events.c.event_id == event_id).values(data=body)
            )
        await connection.commit()

    for note in (first, second):
        with pytest.raises(StoreError, match=note["id"]):
            await hub.container.store.get(note["source"], note["id"])
        answer = await hub.http.get(
            f"/v1/events/{note['id']}", headers=bearer(await hub.token(NHS))
        )
        assert answer.status_code == 500
        assert "first" not in answer.text


async def erasure_entries(hub: RunningHub) -> list[dict[str, Any]]:
    async with hub.container.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(tables.audit_entries.c.entry).where(tables.audit_entries.c.kind == "erasure")
        )
        return [json.loads(row.entry) for row in rows]


async def test_crypto_shredding_erases_one_person_everywhere_and_keeps_the_record(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    erased, kept = unique("offence of the erased"), unique("offence of the kept")
    erased_story, kept_story = story(erased), story(kept)
    async with running_receiver() as receiver:
        # Delivery is off while the disclosures are queued, so that they render after shredding.
        async with running_hub(hub_settings(database, delivery_enabled=False)) as hub:
            subscription = await hub.http.post(
                "/v1/subscriptions",
                json={"url": receiver.url("/glasgow")},
                headers=bearer(await hub.token(GLASGOW_SW, "subscriptions:manage")),
            )
            assert subscription.status_code == 201, subscription.text
            publisher = await hub.token("sps")
            await push(hub, publisher, erased_story + kept_story)
            await routed(hub)
            release = erased_story[1]
            person = await hub.container.store.get(release["source"], release["id"])
            assert person is not None
            count = await hub.container.store.count()

            sps_number = release["identifiers"]["sps_number"]
            assert (
                await run_cli(
                    database,
                    monkeypatch,
                    "persons",
                    "erase",
                    f"sps_number:{sps_number}",
                    "--reason",
                    "court order 2026/17",
                    "--by",
                    "dpo",
                )
                == 0
            )

            # The store: the erased person's offence description is gone, the other's is there.
            gone = await hub.container.store.get(release["source"], release["id"])
            assert gone is not None
            assert offences(gone)
            assert all("description" not in o for o in offences(gone))
            there = await hub.container.store.get(kept_story[1]["source"], kept_story[1]["id"])
            assert there is not None
            assert offences(there)[0]["description"] == kept
            # The feed.
            text = await feed_text(hub, GLASGOW_SW)
            assert erased not in text
            assert kept in text
            # The events and the audit trail stay, and verify.
            assert await hub.container.store.count() == count
            (entry,) = await erasure_entries(hub)
            assert entry["person_id"] == person.person_id
            assert entry["rules"] == ["crypto-shred"]
            assert "data.schedule1_offences[].description" in entry["fields"]
            assert erased not in json.dumps(entry)
            await hub.container.audit_sequencer().run_until_idle()
            await hub.container.audit_checkpointer().run_once()
            report = await hub.container.audit_verifier().verify()
            assert report.ok, report.as_json()

            # A new event about the erased person gets a new key, and is readable.
            later = about_new_person(["release.schedule1-notification"])[0]
            later["identifiers"] = dict(release["identifiers"])
            later["data"]["schedule1_offences"][0]["description"] = "a later offence"
            await push(hub, publisher, [later])
            fresh = await hub.container.store.get(later["source"], later["id"])
            assert fresh is not None
            assert offences(fresh)[0]["description"] == "a later offence"
            assert fresh.person_id == person.person_id
            async with hub.container.engine.connect() as connection:
                keys = (
                    await connection.execute(
                        sa.select(tables.person_keys).where(
                            tables.person_keys.c.person_id == person.person_id
                        )
                    )
                ).all()
            assert sorted(k.wrapped_key is None for k in keys) == [False, True]

        # Delivery: the queued webhooks render after shredding.
        async with running_hub(hub_settings(database)):
            await receiver.wait_for(lambda: len(receiver.at("/glasgow")) >= 3, within=30.0)
        bodies = [r.body.decode() for r in receiver.at("/glasgow")]
        assert not any(erased in body for body in bodies)
        assert any(kept in body for body in bodies)
        assert any("a later offence" in body for body in bodies)


def kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_rotation_rewraps_the_data_keys_under_the_new_key_encryption_key(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = kek(), kek()
    quiet = {"router_enabled": False, "delivery_enabled": False}
    with_old = hub_settings(database, data_kek=SecretStr(old), data_kek_id="kek-a", **quiet)
    notes = [health(unique("summary")) for _ in range(3)]
    async with running_hub(with_old) as hub:
        await push(hub, await hub.token(NHS), notes)

    only_new = hub_settings(database, data_kek=SecretStr(new), data_kek_id="kek-b", **quiet)
    async with running_hub(only_new) as hub:
        with pytest.raises(StoreError, match="kek-a"):
            await hub.container.store.read_all()

    assert (
        await run_cli(
            database,
            monkeypatch,
            "keys",
            "rotate",
            HUB_DATA_KEK=new,
            HUB_DATA_KEK_ID="kek-b",
            HUB_DATA_PREVIOUS_KEKS=json.dumps({"kek-a": old}),
        )
        == 0
    )

    async with running_hub(only_new) as hub:
        read = await hub.container.store.read_all()
        assert [e.notification.data["summary"] for e in read] == [
            n["data"]["summary"] for n in notes
        ]
        async with hub.container.engine.connect() as connection:
            keks = (await connection.execute(sa.select(tables.person_keys.c.kek_id))).scalars()
            assert set(keks) == {"kek-b"}

    wrong = hub_settings(database, data_kek=SecretStr(kek()), data_kek_id="kek-b", **quiet)
    async with running_hub(wrong) as hub:
        with pytest.raises(StoreError, match="HUB_DATA_KEK"):
            await hub.container.store.read_all()


async def test_the_development_key_is_generated_private(hub: RunningHub) -> None:
    path = hub.container.settings.data_dir / "keys" / "data-kek.key"

    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(path.read_text())) == 32
