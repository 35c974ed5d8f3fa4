"""A notification as the hub delivers it, from a real stored event on both backends, is a
CloudEvents 1.0 event the `cloudevents` SDK parses in structured and in binary HTTP mode: read
from the feed, from one disclosure, and rendered from the stored event and its disclosure as a
webhook renders it (docs/cloudevents.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from cloudevents.core.bindings.http import (
    HTTPMessage,
    from_http_event,
    to_binary_event,
)

from hub.domain.cloudevents import identifiers_of, to_cloudevent
from hub.domain.identity import with_supplied
from hub.infra import tables
from hub.services.feed import Heartbeat, StreamEnded
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows

pytestmark = pytest.mark.asyncio

GLASGOW_SW = "sw-glasgow-city"
STORY = ("custody.admission", "release.schedule1-notification")


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


def structured(event: dict[str, Any]) -> Any:
    return from_http_event(
        HTTPMessage(
            headers={"content-type": "application/cloudevents+json"},
            body=json.dumps(event).encode("utf-8"),
        )
    )


async def test_a_delivered_notification_parses_in_structured_and_binary_mode(
    hub: RunningHub,
) -> None:
    pushed = about_new_person(STORY)
    await push(hub, await hub.token("sps"), pushed)
    await routed(hub)
    release = pushed[-1]
    reader = await hub.token(GLASGOW_SW, "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    [item] = [i for i in items if i["notification"]["id"] == release["id"]]
    notification = item["notification"]

    event = structured(notification)
    assert event.get_specversion() == "1.0"
    assert event.get_id() == release["id"]
    assert event.get_type() == "release.schedule1-notification"
    assert event.get_dataschema() == release["dataschema"]
    assert event.get_datacontenttype() == "application/json"
    # The social work rule does not grant `source`: an opaque, stable one stands in for the
    # prison's, and the prison's appears nowhere in the event.
    stored = await hub.container.store.get(release["source"], release["id"])
    assert stored is not None
    assert event.get_source() == f"urn:pph:hub:event:{stored.position}"
    assert release["source"] not in json.dumps(notification)
    # The granted identifiers, each a string extension attribute.
    assert identifiers_of(notification) == release["identifiers"]
    assert event.get_extension("pphspsnumber") == release["identifiers"]["sps_number"]
    assert event.get_data() == notification["data"]

    binary = to_binary_event(event)
    assert binary.headers["ce-pphpncid"] == release["identifiers"]["pnc_id"]
    back = from_http_event(binary)
    for name in notification:
        if name != "data":
            assert back.get_attributes()[name] == event.get_attributes()[name], name
    assert back.get_data() == notification["data"]

    # One disclosure read on its own, and a re-read of the feed: the same event, same source.
    one = await hub.http.get(f"/v1/disclosures/{item['disclosure_id']}", headers=bearer(reader))
    assert one.status_code == 200, one.text
    assert one.json()["notification"] == notification
    again = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert [i["notification"] for i in again] == [i["notification"] for i in items]

    # As a webhook renders it: the stored event cut to the disclosure's fields.
    [row] = await rows(
        hub,
        sa.select(tables.disclosures).where(
            tables.disclosures.c.disclosure_id == item["disclosure_id"]
        ),
    )
    rendered = to_cloudevent(
        hub.container.policy.redact(
            with_supplied(stored.notification, row["supplied_identifiers"] or {}),
            item["fields"],
        ),
        stored,
    )
    assert json.loads(json.dumps(rendered)) == notification


async def test_a_reader_written_against_the_envelope_asks_for_version_1(hub: RunningHub) -> None:
    """`?notification_version=1` gives readers written before the CloudEvents shape the redacted
    envelope they were written against (identifiers as one object, no `dataschema` the rules
    did not grant), from the feed, one disclosure and the stream alike; it is the very object
    a version 1 webhook carries."""
    pushed = about_new_person(STORY)
    await push(hub, await hub.token("sps"), pushed)
    await routed(hub)
    release = pushed[-1]
    reader = await hub.token(GLASGOW_SW, "feed:read")
    page = await hub.http.get("/v1/feed?notification_version=1", headers=bearer(reader))
    assert page.status_code == 200, page.text
    [item] = [i for i in page.json()["items"] if i["notification"]["id"] == release["id"]]
    notification = item["notification"]

    assert notification["identifiers"] == release["identifiers"]
    assert not [name for name in notification if name.startswith("pph")]
    assert "source" not in notification  # not granted, and version 1 never invented one
    stored = await hub.container.store.get(release["source"], release["id"])
    assert stored is not None
    [row] = await rows(
        hub,
        sa.select(tables.disclosures).where(
            tables.disclosures.c.disclosure_id == item["disclosure_id"]
        ),
    )
    envelope = hub.container.policy.redact(
        with_supplied(stored.notification, row["supplied_identifiers"] or {}), item["fields"]
    )
    assert json.loads(json.dumps(envelope)) == notification

    one = await hub.http.get(
        f"/v1/disclosures/{item['disclosure_id']}?notification_version=1", headers=bearer(reader)
    )
    assert one.status_code == 200, one.text
    assert one.json()["notification"] == notification
    async for streamed in hub.container.feed.stream(GLASGOW_SW, notification_version=1):
        assert not isinstance(streamed, Heartbeat | StreamEnded)
        if streamed.disclosure_id == item["disclosure_id"]:
            assert json.loads(json.dumps(streamed.notification)) == notification
            break

    # The default is version 2: the CloudEvent.
    default = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert [i["notification"]["specversion"] for i in default] == ["1.0"] * len(default)


@pytest.mark.parametrize("version", ["0", "3", "two"])
async def test_an_unknown_notification_version_is_refused_and_nothing_is_read(
    hub: RunningHub, version: str
) -> None:
    """A version the hub does not have is a 422 naming the parameter, and the disclosures stay
    unread: no receipt is recorded for a page that was not given."""
    await push(hub, await hub.token("sps"), about_new_person(STORY))
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    answer = await hub.http.get(f"/v1/feed?notification_version={version}", headers=bearer(reader))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "notification_version" in answer.text
    assert await rows(hub, sa.select(tables.disclosure_receipts)) == []
