"""Group commit through the intake service on a real store, both backends: concurrent single
pushes share transactions, each caller still gets its own answer (positions gap-free and in
order, a repeat answered as a duplicate, a reused id refused on its own), and every push is
stored with its collection audit entry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from hub.domain.notifications import AppendResult, Notification, Publisher
from hub.domain.schemas import SchemaRegistry
from hub.errors import EventIdReused
from hub.infra.audit import SqlAuditLog
from hub.infra.store import create_event_store
from hub.services.intake import IntakeService
from hub.services.ports import EventStore
from tests.conftest import Database
from tests.integration.api_helpers import example

PR2 = Publisher("cl_pr2", "sps")


class CountingStore:
    """The real store, counting its appends (each one transaction)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.appends: list[int] = []

    async def append(
        self,
        notifications: Sequence[Notification],
        *,
        publisher: Publisher,
        expected_version: int | None = None,
    ) -> list[AppendResult]:
        self.appends.append(len(notifications))
        return await self.store.append(
            notifications, publisher=publisher, expected_version=expected_version
        )


def admission(number: int) -> dict[str, Any]:
    notification = example("custody.admission")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": str(4_000_000 + number)}
    return notification


def intake(database: Database) -> tuple[IntakeService, CountingStore]:
    engine = database.engine
    store = CountingStore(create_event_store(engine, audit=SqlAuditLog(engine)))
    schemas = SchemaRegistry.load(database.settings.events_dir)
    return IntakeService(schemas, store, max_batch_size=100), store  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_concurrent_pushes_share_commits_and_each_gets_its_own_position(
    database: Database,
) -> None:
    service, store = intake(database)
    pushes = [admission(n) for n in range(12)]
    results = await asyncio.gather(*(service.publish(p, PR2) for p in pushes))

    assert len(store.appends) < len(pushes)
    assert sum(store.appends) == len(pushes)
    assert [r.id for r in results] == [p["id"] for p in pushes]
    positions = sorted(r.position for r in results)
    assert positions == list(range(positions[0], positions[0] + len(pushes)))
    assert not any(r.duplicate for r in results)
    async with database.engine.connect() as connection:
        collected = (
            await connection.execute(
                sa.text("SELECT count(*) FROM audit_entries WHERE kind = 'collection'")
            )
        ).scalar_one()
    assert collected == len(pushes)


@pytest.mark.asyncio
async def test_a_repeat_and_a_reused_id_in_one_group_get_their_own_answers(
    database: Database,
) -> None:
    service, _store = intake(database)
    first = admission(1)
    reused = dict(first, data=dict(first["data"], establishment="hmp-edinburgh"))
    others = [admission(n) for n in range(2, 6)]

    answers = await asyncio.gather(
        service.publish(first, PR2),
        service.publish(admission(0), PR2),
        service.publish(first, PR2),
        service.publish(reused, PR2),
        *(service.publish(o, PR2) for o in others),
        return_exceptions=True,
    )

    original, lone, repeat, refused, *rest = answers
    assert isinstance(original, AppendResult)
    assert isinstance(lone, AppendResult)
    assert isinstance(repeat, AppendResult)
    assert repeat.duplicate
    assert repeat.position == original.position
    assert isinstance(refused, EventIdReused)
    assert all(isinstance(r, AppendResult) and not r.duplicate for r in rest)
