"""Native delivery formats, against a real HTTP receiver, on both backends: a police recipient
with a `visor-xml` subscription receives ViSOR XML (its media type as Content-Type, signed)
carrying only the granted fields; a disclosure the format cannot carry arrives as `json`; and a
subscription is refused a format that can carry none of what it would receive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from standardwebhooks import Webhook

from hub.adapters import ADAPTERS, adapter
from hub.infra.webhooks import NATIVE_FORMAT_NAMES
from hub.services.ingest import IngestService
from hub.services.subscriptions import known_formats, native_formats
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

SAMPLES = Path(__file__).resolve().parents[2] / "adapters"
POLICE = "police-division-g"
MANAGE = "subscriptions:manage"
VISOR = adapter("visor")


def hub_settings(database: Database) -> Settings:
    return database.settings.model_copy(
        update={
            "webhook_allow_private_addresses": True,
            "router_poll_interval": 0.05,
            "delivery_poll_interval": 0.05,
            "webhook_retry_schedule": (0.2, 0.2),
            "webhook_timeout_seconds": 3.0,
            "delivery_claim_seconds": 10.0,
            "overdue_check_interval": 3600.0,
        }
    )


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    async with running_hub(hub_settings(database)) as running:
        yield running


async def subscribe(hub: RunningHub, agency: str, **fields: Any) -> Any:
    headers = bearer(await hub.token(agency, MANAGE))
    return await hub.http.post("/v1/subscriptions", json=fields, headers=headers)


async def ingest(hub: RunningHub, name: str, file: str) -> None:
    service = IngestService(
        hub.container.intake,
        hub.container.store,
        hub.container.schemas,
        hub.container.policy.directory,
    )
    data = (SAMPLES / name / "samples" / file).read_bytes()
    report = await service.ingest(adapter(name), data)
    assert report.complete, report.as_dict()
    assert not report.rejected, report.as_dict()


async def disclosures_to(hub: RunningHub, recipient: str) -> list[Any]:
    async with hub.container.engine.connect() as connection:
        query = sa.text(
            "SELECT disclosure_id, source, event_id, event_type, fields FROM disclosures "
            "WHERE recipient_id = :r"
        )
        return list((await connection.execute(query, {"r": recipient})).mappings())


async def eventually_disclosed(hub: RunningHub, recipient: str, count: int) -> list[Any]:
    started = time.monotonic()
    while len(found := await disclosures_to(hub, recipient)) < count:
        assert time.monotonic() - started < 30, f"only {len(found)} disclosures to {recipient}"
        await asyncio.sleep(0.05)
    return found


def granted(row: Any) -> list[str]:
    fields = row["fields"]
    return json.loads(fields) if isinstance(fields, str) else list(fields)


async def test_a_police_recipient_receives_visor_xml_with_only_granted_fields(
    hub: RunningHub, receiver: Receiver
) -> None:
    answer = await subscribe(hub, POLICE, url=receiver.url("/visor"), format="visor-xml")
    assert answer.status_code == 201, answer.text
    secret = answer.json()["secret"]
    assert answer.json()["format"] == "visor-xml"

    # Glasgow City social work's MAPPA referral: the Glasgow police division is a responsible
    # authority of the MAPPA area and is disclosed part of it.
    await ingest(hub, "socialwork", "mappa-referral.json")
    (disclosure,) = await eventually_disclosed(hub, POLICE, 1)
    assert disclosure["event_type"] == "mappa.referral"
    await receiver.wait_for(lambda: bool(receiver.at("/visor")), within=30.0)
    (arrived,) = receiver.at("/visor")

    assert arrived.headers["content-type"] == VISOR.media_type
    assert arrived.webhook_id == disclosure["disclosure_id"]
    # Signed as any webhook (`Webhook.verify` would parse the body as JSON).
    signed_at = datetime.fromtimestamp(int(arrived.headers["webhook-timestamp"]), UTC)
    signature = Webhook(secret).sign(arrived.webhook_id, signed_at, arrived.body.decode())
    assert signature in arrived.headers["webhook-signature"].split(" ")
    assert arrived.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')

    stored = await hub.container.store.get(disclosure["source"], disclosure["event_id"])
    assert stored is not None
    fields = granted(disclosure)
    expected = hub.container.policy.redact(stored.notification, fields)
    read_back = VISOR.read_rendered(arrived.body)
    assert read_back == json.loads(json.dumps(expected))
    # Withheld attributes are absent from the XML itself, not just from what is read back.
    assert "source" not in fields
    assert "subject" not in fields
    assert b"HubSource" not in arrived.body
    assert b"HubSubject" not in arrived.body
    assert stored.notification.source.encode() not in arrived.body


async def test_a_type_the_format_cannot_carry_arrives_as_json(
    hub: RunningHub, receiver: Receiver
) -> None:
    answer = await subscribe(hub, POLICE, url=receiver.url("/mixed"), format="visor-xml")
    assert answer.status_code == 201, answer.text
    secret = answer.json()["secret"]
    # PR2's movements of a registered sex offender released to Glasgow: custody notifications,
    # which ViSOR XML cannot carry.
    await ingest(hub, "pr2", "movements-2024-05-01.psv")
    found = await eventually_disclosed(hub, POLICE, 1)
    custody = [d for d in found if d["event_type"] not in VISOR.renderable_types]
    assert custody, "the police division is disclosed a custody notification"
    await receiver.wait_for(lambda: len(receiver.at("/mixed")) >= len(found), within=30.0)
    by_id = {r.webhook_id: r for r in receiver.at("/mixed")}
    for disclosure in custody:
        arrived = by_id[disclosure["disclosure_id"]]
        assert arrived.headers["content-type"] == "application/json"
        # In the subscription's payload version (2, the default: docs/webhooks.md).
        body = Webhook(secret).verify(arrived.body, arrived.headers)["data"]
        assert body["disclosure"]["id"] == disclosure["disclosure_id"]
        assert body["notification"]["type"] == disclosure["event_type"]


@pytest.mark.parametrize(
    ("agency", "fields", "accepted"),
    [
        # SPS is entitled to recalls, MAPPA and missing-person notices: no custody movements.
        ("sps", {"format": "pr2-json"}, False),
        ("sps", {"format": "socialwork-json"}, True),
        (POLICE, {"format": "pr2-json", "event_types": ["person.missing"]}, False),
        (POLICE, {"format": "pr2-json", "event_types": ["custody.liberation"]}, True),
        (POLICE, {"format": "visor-xml"}, True),
        (POLICE, {"format": "visor-json"}, False),
    ],
)
async def test_a_format_must_carry_some_of_what_the_subscription_receives(
    hub: RunningHub, agency: str, fields: dict[str, Any], accepted: bool
) -> None:
    answer = await subscribe(hub, agency, url="http://127.0.0.1:9/hook", **fields)
    if accepted:
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    pointers = [e.get("pointer") for e in problem.get("errors", [])]
    assert "/format" in pointers, problem
    assert "format" in problem["detail"]


async def test_changing_to_a_format_that_carries_nothing_is_refused(hub: RunningHub) -> None:
    headers = bearer(await hub.token("sps", MANAGE))
    created = await hub.http.post(
        "/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook"}, headers=headers
    )
    assert created.status_code == 201, created.text
    changed = await hub.http.patch(
        f"/v1/subscriptions/{created.json()['id']}", json={"format": "pr2-json"}, headers=headers
    )
    assert changed.status_code == 422, changed.text
    assert "pr2-json can carry only" in changed.json()["detail"]


async def test_every_adapter_offers_its_format_with_its_media_type() -> None:
    assert set(NATIVE_FORMAT_NAMES) == set(ADAPTERS)
    assert known_formats() == ("json", "pr2-json", "socialwork-json", "visor-xml")
    for name, format_name in NATIVE_FORMAT_NAMES.items():
        native = native_formats()[format_name]
        assert native.media_type == ADAPTERS[name].media_type
        assert native.renderable_types == ADAPTERS[name].renderable_types
