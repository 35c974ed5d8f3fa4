"""The Kafka intake's handling of identifier conflicts, through the real intake service and
store on both backends (no broker: the messages are handed to it as the consumer would, and its
rejects are kept in a list): a second SPS number is rejected, held for review, stored nowhere."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio

from hub import bootstrap
from hub.bootstrap import Container
from hub.domain.notifications import PersonIdentifier
from hub.services.kafka_intake import IntakeMessage, KafkaIntake, Rejection
from tests.conftest import Database
from tests.integration.api_helpers import example

pytestmark = pytest.mark.asyncio


class KeptRejects:
    def __init__(self) -> None:
        self.rejections: list[Rejection] = []

    async def reject(self, rejections: Sequence[Rejection]) -> None:
        self.rejections.extend(rejections)


@pytest_asyncio.fixture
async def container(database: Database) -> AsyncIterator[Container]:
    async with bootstrap.running(database.settings) as running:
        yield running


def message(offset: int, identifiers: dict[str, str]) -> IntakeMessage:
    notification = example("custody.admission")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = identifiers
    return IntakeMessage(
        agency="sps",
        topic="pph.intake.sps",
        partition=0,
        offset=offset,
        key=None,
        value=json.dumps(notification).encode(),
    )


async def test_a_second_sps_number_from_kafka_is_rejected_and_parked(
    container: Container,
) -> None:
    rejects = KeptRejects()
    intake = KafkaIntake(container.intake.publish, rejects, container.policy.directory)
    await intake.handle([message(0, {"sps_number": "7200001", "pnc_id": "92/1A"})])
    assert (intake.accepted, rejects.rejections) == (1, [])
    count = await container.store.count()

    await intake.handle([message(1, {"sps_number": "7200002", "pnc_id": "92/1A"})])

    [rejection] = rejects.rejections
    assert rejection.message.offset == 1
    assert "IdentifierConflict" in rejection.reason
    assert "sps_number" in rejection.reason
    assert "7200001" not in rejection.reason
    assert [p["pointer"] for p in rejection.problems] == ["/identifiers"]
    assert await container.store.count() == count
    assert await container.store.resolve_person([PersonIdentifier("sps_number", "7200002")]) is None
    [case] = await container.conflicts.list_cases()
    assert case.kind == "second-value"
    assert case.review_id in rejection.reason
