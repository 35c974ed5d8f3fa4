"""Helpers for the delivery tests: notifications about fresh people, pushed and routed."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from hub.infra import tables
from tests.integration.api_helpers import RunningHub, bearer, example

_people = itertools.count(1)


def about_new_person(event_types: Sequence[str]) -> list[dict[str, Any]]:
    """The examples of `event_types`, each with a new id, all about one new person."""
    n = next(_people)
    identifiers = {"sps_number": str(4_000_000 + n), "pnc_id": f"21/{n:07d}K"}
    notifications = []
    for event_type in event_types:
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"] = dict(identifiers)
        notifications.append(notification)
    return notifications


async def push(hub: RunningHub, token: str, notifications: Sequence[dict[str, Any]]) -> int:
    """Push each notification; the position of the last."""
    position = 0
    for notification in notifications:
        answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
        assert answer.status_code == 201, answer.text
        position = answer.json()["position"]
    return position


async def routed(hub: RunningHub) -> None:
    """Wait until the in-process router has routed everything stored."""
    last = await hub.container.store.last_position()
    for _ in range(400):
        if await hub.container.routing.checkpoint("router") >= last:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the router did not reach position {last}")


async def rows(hub: RunningHub, query: sa.Select[Any]) -> list[dict[str, Any]]:
    async with hub.container.engine.connect() as connection:
        return [dict(row) for row in (await connection.execute(query)).mappings().all()]


async def disclosures_to(hub: RunningHub, recipient_id: str) -> list[dict[str, Any]]:
    """The recipient's disclosures in feed order, straight from the tables."""
    feed, d = tables.recipient_feed, tables.disclosures
    return await rows(
        hub,
        sa.select(feed.c.seq, d)
        .join(d, d.c.disclosure_id == feed.c.disclosure_id)
        .where(feed.c.recipient_id == recipient_id)
        .order_by(feed.c.seq),
    )


def glasgow_assessment(pnc: str, n: int) -> dict[str, Any]:
    """A risk assessment by Glasgow social work naming the person by PNC ID and its own client
    id (`S12000049:SW<n>`) only."""
    assessment = example("risk.assessment-recorded")
    assessment["id"] = str(uuid.uuid4())
    assessment["source"] = "urn:pph:socialwork:S12000049"
    assessment["identifiers"] = {"pnc_id": pnc, "sw_client_id": f"S12000049:SW{n}"}
    assessment["data"]["assessor"] = {
        "agency": "local-authority",
        "role": "justice social worker",
        "council_area": "S12000049",
    }
    return assessment


async def assessment_then_admission(hub: RunningHub) -> tuple[dict[str, Any], str]:
    """A risk assessment pushed by Glasgow social work naming the person by PNC ID and its own
    client id only, then the person's admission to HMP Barlinnie (which brings their SPS
    number), routed: the assessment and the SPS number the prison should match it on."""
    n = next(_people)
    pnc, sps = f"22/{n:07d}R", str(4_500_000 + n)
    assessment = glasgow_assessment(pnc, n)
    admission = example("custody.admission")
    admission["id"] = str(uuid.uuid4())
    admission["identifiers"] = {"sps_number": sps, "pnc_id": pnc}
    await push(hub, await hub.token("sw-glasgow-city"), [assessment])
    await push(hub, await hub.token("sps"), [admission])
    await routed(hub)
    return assessment, sps
