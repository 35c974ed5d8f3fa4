"""Secrets at rest, on both backends: webhook signing secrets are stored sealed under the
key-encryption key and still sign deliveries a real receiver verifies; a tampered or moved one is
an error naming its subscription, never a wrong signature; `hub keys rotate` rewraps them; a hub
with the wrong key refuses; rows from before migration 0010 keep working and are sealed. Parked
identifier-conflict notifications hold their sensitive fields sealed under a key of the
conflict's own, which resolution and the crypto-shredding of a person it names destroy."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from pydantic import SecretStr
from standardwebhooks import Webhook

from hub.errors import StoreError
from hub.infra import tables
from hub.infra.db import migrate
from hub.infra.protection import load_kek_ring
from hub.infra.subscriptions import SubscriptionSecrets
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.older_schema import schema_at, subscription_before
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

SOCIAL_WORK = "sw-glasgow-city"
MANAGE = "subscriptions:manage"
RELEASE = "release.schedule1-notification"


def hub_settings(database: Database, **overrides: Any) -> Settings:
    settings: dict[str, Any] = {
        "webhook_allow_private_addresses": True,
        "router_poll_interval": 0.05,
        "delivery_poll_interval": 0.05,
        "webhook_retry_schedule": (0.2, 0.2),
        "webhook_timeout_seconds": 3.0,
        "overdue_check_interval": 3600.0,
    }
    settings.update(overrides)
    return database.settings.model_copy(update=settings)


def kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


async def subscribe(hub: RunningHub, url: str) -> dict[str, Any]:
    headers = bearer(await hub.token(SOCIAL_WORK, MANAGE))
    answer = await hub.http.post("/v1/subscriptions", json={"url": url}, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    created["headers"] = headers
    return created


async def push_release(hub: RunningHub) -> None:
    """A fresh Schedule 1 release notice about a new person, disclosed to Glasgow social work."""
    notification = example(RELEASE)
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(uuid.uuid4().int % 10_000_000)}
    token = await hub.token("sps", "events:publish")
    answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
    assert answer.status_code == 201, answer.text


async def stored_secrets(database: Database) -> list[tuple[str, str, str]]:
    """`(subscription id, secrets as the database holds them, format)` of every row."""
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT subscription_id, CAST(secrets AS TEXT), secrets_format FROM subscriptions"
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


async def set_secrets(database: Database, subscription_id: str, secrets: Any) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            tables.subscriptions.update()
            .where(tables.subscriptions.c.subscription_id == subscription_id)
            .values(secrets=secrets)
        )


async def raw_secrets(database: Database, subscription_id: str) -> list[dict[str, str]]:
    async with database.engine.connect() as connection:
        found: list[dict[str, str]] = (
            await connection.execute(
                sa.select(tables.subscriptions.c.secrets).where(
                    tables.subscriptions.c.subscription_id == subscription_id
                )
            )
        ).scalar_one()
    return found


def verify(receiver: Receiver, path: str, *secrets: str) -> None:
    (arrived,) = receiver.at(path)
    for secret in secrets:
        Webhook(secret).verify(arrived.body, arrived.headers)


# -- webhook signing secrets ------------------------------------------------------------------


async def test_the_subscriptions_table_holds_no_plaintext_secret_and_webhooks_verify(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        created = await subscribe(hub, receiver.url("/sealed"))
        sid = created["id"]
        after_create = await stored_secrets(database)
        rotated = await hub.http.post(
            f"/v1/subscriptions/{sid}/rotate-secret", headers=created["headers"]
        )
        assert rotated.status_code == 200, rotated.text
        after_rotate = await stored_secrets(database)
        await push_release(hub)
        await receiver.wait_for(lambda: bool(receiver.at("/sealed")))

    secrets = (created["secret"], rotated.json()["secret"])
    for rows in (after_create, after_rotate):
        [(_, text, secrets_format)] = rows
        assert "whsec_" not in text
        assert not any(secret.removeprefix("whsec_")[:16] in text for secret in secrets)
        assert secrets_format == "sealed-v1"
    assert len(json.loads(after_rotate[0][1])) == 2
    assert {entry["kek_id"] for entry in json.loads(after_rotate[0][1])} == {"pph-kek-1"}
    # Both secrets sign the delivery during the rotation, as the receiver verifies.
    verify(receiver, "/sealed", *secrets)


async def test_a_tampered_or_moved_secret_is_an_error_naming_the_subscription(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database, delivery_enabled=False)) as hub:
        tampered = await subscribe(hub, receiver.url("/tampered"))
        moved = await subscribe(hub, receiver.url("/moved"))
        intact = await subscribe(hub, receiver.url("/intact"))
        [entry] = await raw_secrets(database, tampered["id"])
        [other] = await raw_secrets(database, moved["id"])
        sealed = entry["sealed"]
        flipped = sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB")
        await set_secrets(database, tampered["id"], [entry | {"sealed": flipped}])
        # A valid ciphertext of the first subscription, put in the second's row.
        await set_secrets(database, moved["id"], [entry])
        assert other != entry

        for subscription in (tampered, moved):
            with pytest.raises(StoreError, match=subscription["id"]) as refused:
                await hub.container.subscriptions.get(SOCIAL_WORK, subscription["id"])
            assert "does not open" in refused.value.message
            answer = await hub.http.get(
                f"/v1/subscriptions/{subscription['id']}", headers=subscription["headers"]
            )
            assert answer.status_code == 500
            assert "whsec_" not in answer.text
        await push_release(hub)

    # Delivery: the intact subscription's webhook arrives; the others are never sent (no wrong
    # signature), each recorded as a failed attempt naming its subscription, then dead.
    async with running_hub(hub_settings(database)) as hub:
        await receiver.wait_for(lambda: bool(receiver.at("/intact")))
        verify(receiver, "/intact", intact["secret"])

        async def dead() -> list[Any]:
            async with database.engine.connect() as connection:
                return list(
                    (
                        await connection.execute(
                            sa.select(tables.deliveries).where(tables.deliveries.c.status == "dead")
                        )
                    ).mappings()
                )

        for _ in range(300):
            if len(await dead()) == 2:
                break
            await asyncio.sleep(0.05)
        found = await dead()
        assert {row["subscription_id"] for row in found} == {tampered["id"], moved["id"]}
        for row in found:
            assert row["subscription_id"] in row["last_error"]
            attempts = await hub.container.delivery_queue.attempts(row["delivery_id"])
            assert [a.outcome for a in attempts] == ["retry", "retry", "dead"]
            assert all(row["subscription_id"] in (a.error or "") for a in attempts)
    assert receiver.at("/tampered") == []
    assert receiver.at("/moved") == []


async def test_rotation_rewraps_the_secrets_and_a_wrong_key_encryption_key_refuses(
    database: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    old, new = kek(), kek()
    with_old = hub_settings(
        database, data_kek=SecretStr(old), data_kek_id="kek-a", delivery_enabled=False
    )
    async with running_hub(with_old) as hub:
        created = await subscribe(hub, receiver.url("/rotated"))
        rotated = await hub.http.post(
            f"/v1/subscriptions/{created['id']}/rotate-secret", headers=created["headers"]
        )
        secrets = (rotated.json()["secret"], created["secret"])

    only_new = hub_settings(database, data_kek=SecretStr(new), data_kek_id="kek-b")
    async with running_hub(only_new.model_copy(update={"delivery_enabled": False})) as hub:
        with pytest.raises(StoreError, match="kek-a") as refused:
            await hub.container.subscriptions.get(SOCIAL_WORK, created["id"])
        assert created["id"] in refused.value.message

    capsys.readouterr()
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
    assert "rewrapped 2 webhook signing secret(s) under kek-b" in capsys.readouterr().out
    assert {entry["kek_id"] for entry in await raw_secrets(database, created["id"])} == {"kek-b"}

    async with running_hub(only_new) as hub:
        stored = await hub.container.subscriptions.get(SOCIAL_WORK, created["id"])
        assert stored.secrets == secrets
        await push_release(hub)
        await receiver.wait_for(lambda: bool(receiver.at("/rotated")))
    verify(receiver, "/rotated", *secrets)

    wrong = hub_settings(database, data_kek=SecretStr(kek()), data_kek_id="kek-b")
    async with running_hub(wrong.model_copy(update={"delivery_enabled": False})) as hub:
        with pytest.raises(StoreError, match="HUB_DATA_KEK is not the right key"):
            await hub.container.subscriptions.get(SOCIAL_WORK, created["id"])


async def test_a_secret_sealed_for_one_subscription_does_not_open_for_another(
    database: Database,
) -> None:
    secrets = SubscriptionSecrets(load_kek_ring(database.settings))
    sealed = secrets.seal("sub_a", ["whsec_" + "A" * 44])
    assert secrets.open("sub_a", sealed, sealed=True) == ("whsec_" + "A" * 44,)
    with pytest.raises(StoreError, match="sub_b"):
        secrets.open("sub_b", sealed, sealed=True)


async def test_plaintext_secrets_from_before_migration_0010_keep_working_and_are_sealed(
    database: Database, receiver: Receiver
) -> None:
    secret = await subscription_before(
        database,
        "0009",
        subscription_id="sub_legacy",
        recipient=SOCIAL_WORK,
        url=receiver.url("/legacy"),
    )
    await migrate(database.settings)
    [(_, text, secrets_format)] = await stored_secrets(database)
    assert secret in text
    assert secrets_format == "plain"

    async with running_hub(hub_settings(database)) as hub:
        [(_, text, secrets_format)] = await stored_secrets(database)
        assert "whsec_" not in text
        assert secrets_format == "sealed-v1"
        stored = await hub.container.subscriptions.get(SOCIAL_WORK, "sub_legacy")
        assert stored.secrets == (secret,)
        await push_release(hub)
        await receiver.wait_for(lambda: bool(receiver.at("/legacy")))
    verify(receiver, "/legacy", secret)


# -- parked identifier-conflict notifications --------------------------------------------------

NHS = "nhs-greater-glasgow-and-clyde"
HEALTH = "health.information-shared"


def health(summary: str, **identifiers: str) -> dict[str, Any]:
    notification = example(HEALTH)
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = identifiers
    notification["data"]["summary"] = summary
    return notification


def number() -> str:
    return str(uuid.uuid4().int % 10_000_000)


async def park_conflict(hub: RunningHub, summary: str) -> dict[str, Any]:
    """Two people, then a health notification whose identifiers belong to both: refused (409)
    and parked for review. The parked notification."""
    token = await hub.token(NHS, "events:publish")
    first, second, pnc = number(), number(), f"26/{number()}A"
    for note in (
        health("first", sps_number=first, pnc_id=pnc),
        health("second", sps_number=second),
    ):
        answer = await hub.http.post("/v1/events", json=note, headers=bearer(token))
        assert answer.status_code == 201, answer.text
    clash = health(summary, sps_number=second, pnc_id=pnc)
    answer = await hub.http.post("/v1/events", json=clash, headers=bearer(token))
    assert answer.status_code == 409, answer.text
    return clash


async def conflict_rows(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    sa.select(
                        tables.identifier_conflicts,
                        sa.cast(tables.identifier_conflicts.c.notification, sa.Text).label("raw"),
                    )
                )
            ).mappings()
        )


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex}"


async def test_a_parked_conflict_holds_no_sensitive_plaintext_and_resolution_returns_it_whole(
    database: Database,
) -> None:
    summary = unique("Paranoid schizophrenia, depot injection")
    async with running_hub(hub_settings(database, delivery_enabled=False)) as hub:
        clash = await park_conflict(hub, summary)
        [row] = await conflict_rows(database)
        assert summary not in row["raw"]
        assert "Paranoid" not in row["raw"]
        assert row["notification_format"] == "sealed-v1"
        assert row["wrapped_key"] is not None
        # What is not sensitive stays readable, for the review list.
        assert clash["data"]["category"] in row["raw"]

        [case] = await hub.container.conflicts.list_cases()
        assert case.notification["data"] == clash["data"]
        assert case.notification["identifiers"] == clash["identifiers"]

        resolved = await hub.container.conflicts.resolve(
            case.review_id, resolution="PNC ID mistyped by the sender", resolved_by="operator"
        )
        # The one who resolves it gets the notification whole, to act on ...
        assert resolved.notification["data"] == clash["data"]
        assert not resolved.is_open
        # ... and the parked copy is unreadable afterwards: its key is destroyed.
        [row] = await conflict_rows(database)
        assert row["wrapped_key"] is None
        assert row["key_destroyed_at"] is not None
        assert summary not in row["raw"]
        [after] = await hub.container.conflicts.list_cases(include_resolved=True)
        assert "summary" not in after.notification["data"]
        assert after.notification["data"]["category"] == clash["data"]["category"]
        assert after.resolution == "PNC ID mistyped by the sender"


async def test_erasing_a_person_a_conflict_names_destroys_its_parked_copy(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = unique("Hepatitis C, under treatment")
    async with running_hub(hub_settings(database, delivery_enabled=False)) as hub:
        clash = await park_conflict(hub, summary)
        [case] = await hub.container.conflicts.list_cases()
        assert case.notification["data"]["summary"] == summary
        erased = sorted(set(case.claims.values()))[0]

        code = await run_cli(
            database, monkeypatch, "persons", "erase", erased, "--reason", "court order 9"
        )
        assert code == 0

        [row] = await conflict_rows(database)
        assert row["wrapped_key"] is None
        assert row["key_destroyed_at"] is not None
        [case] = await hub.container.conflicts.list_cases()
        assert case.is_open
        assert "summary" not in case.notification["data"]
        assert case.notification["data"]["category"] == clash["data"]["category"]
        async with database.engine.connect() as connection:
            entries = [
                json.loads(entry)
                for entry in (
                    await connection.execute(
                        sa.select(tables.audit_entries.c.entry).where(
                            tables.audit_entries.c.kind == "erasure"
                        )
                    )
                ).scalars()
            ]
        [entry] = [e for e in entries if e.get("details", {}).get("review_id")]
        assert entry["details"]["review_id"] == case.review_id
        assert entry["person_id"] == erased
        assert "data.summary" in entry["fields"]
        assert summary not in json.dumps(entries)
        # Resolving it later still works; only what is not sensitive is left to return.
        resolved = await hub.container.conflicts.resolve(
            case.review_id, resolution="erased meanwhile", resolved_by="operator"
        )
        assert "summary" not in resolved.notification["data"]


async def test_rotation_rewraps_conflict_keys_and_a_wrong_key_encryption_key_refuses(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    old, new = kek(), kek()
    quiet = {"delivery_enabled": False, "router_enabled": False}
    summary = unique("Type 1 diabetes")
    with_old = hub_settings(database, data_kek=SecretStr(old), data_kek_id="kek-a", **quiet)
    async with running_hub(with_old) as hub:
        await park_conflict(hub, summary)

    only_new = hub_settings(database, data_kek=SecretStr(new), data_kek_id="kek-b", **quiet)
    async with running_hub(only_new) as hub:
        with pytest.raises(StoreError, match="kek-a") as refused:
            await hub.container.conflicts.list_cases()
        assert "identifier conflict ic_" in refused.value.message

    capsys.readouterr()
    code = await run_cli(
        database,
        monkeypatch,
        "keys",
        "rotate",
        HUB_DATA_KEK=new,
        HUB_DATA_KEK_ID="kek-b",
        HUB_DATA_PREVIOUS_KEKS=json.dumps({"kek-a": old}),
    )
    assert code == 0
    assert "rewrapped 1 identifier-conflict key(s) under kek-b" in capsys.readouterr().out
    [row] = await conflict_rows(database)
    assert row["kek_id"] == "kek-b"

    async with running_hub(only_new) as hub:
        [case] = await hub.container.conflicts.list_cases()
        assert case.notification["data"]["summary"] == summary

    wrong = hub_settings(database, data_kek=SecretStr(kek()), data_kek_id="kek-b", **quiet)
    async with running_hub(wrong) as hub:
        with pytest.raises(StoreError, match="HUB_DATA_KEK the right key"):
            await hub.container.conflicts.list_cases()


async def test_plaintext_conflicts_from_before_migration_0010_are_sealed(
    database: Database,
) -> None:
    await schema_at(database, "0009")
    summaries = {"ic_open": unique("Open case summary"), "ic_done": unique("Done case summary")}
    notifications = {}
    async with database.engine.begin() as connection:
        for review_id, summary in summaries.items():
            notification = health(summary, sps_number=number())
            notifications[review_id] = notification
            await connection.execute(
                sa.text(
                    "INSERT INTO identifier_conflicts (review_id, raised_at, source, event_id, "
                    "event_type, publisher_client_id, publisher_agency, claims, notification, "
                    "resolved_at, resolved_by, resolution) VALUES (:review_id, :now, :source, "
                    ":event_id, :type, 'c_1', :agency, :claims, :notification, :resolved_at, "
                    ":resolved_by, :resolution)"
                ).bindparams(
                    sa.bindparam("claims", type_=tables.identifier_conflicts.c.claims.type),
                    sa.bindparam(
                        "notification", type_=tables.identifier_conflicts.c.notification.type
                    ),
                    sa.bindparam("now", type_=tables.identifier_conflicts.c.raised_at.type),
                    sa.bindparam(
                        "resolved_at", type_=tables.identifier_conflicts.c.resolved_at.type
                    ),
                ),
                {
                    "review_id": review_id,
                    "now": datetime.now(UTC),
                    "source": notification["source"],
                    "event_id": notification["id"],
                    "type": HEALTH,
                    "agency": NHS,
                    "claims": {"sps_number:1": "p_1", "pnc_id:2": "p_2"},
                    "notification": notification,
                    "resolved_at": datetime.now(UTC) if review_id == "ic_done" else None,
                    "resolved_by": "operator" if review_id == "ic_done" else None,
                    "resolution": "done" if review_id == "ic_done" else None,
                },
            )
    await migrate(database.settings)
    assert all(row["notification_format"] == "plain" for row in await conflict_rows(database))

    async with running_hub(hub_settings(database, delivery_enabled=False)) as hub:
        rows = {row["review_id"]: row for row in await conflict_rows(database)}
        for review_id, summary in summaries.items():
            assert summary not in rows[review_id]["raw"]
            assert rows[review_id]["notification_format"] == "sealed-v1"
        assert rows["ic_open"]["wrapped_key"] is not None
        assert rows["ic_done"]["wrapped_key"] is None  # resolved: unreadable at once
        cases = {
            c.review_id: c for c in await hub.container.conflicts.list_cases(include_resolved=True)
        }
        assert cases["ic_open"].notification["data"] == notifications["ic_open"]["data"]
        assert "summary" not in cases["ic_done"].notification["data"]
