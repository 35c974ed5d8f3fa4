"""The in-process event bus passes the bus contract (`tests/integration/kafka/bus_contract.py`),
and the wire format round-trips a stored event (imported history keeps its flag)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hub.infra.bus_inprocess import InProcessBus, InProcessConsumer, InProcessPublisher
from hub.services.bus import (
    HEADER_EVENT_TYPE,
    HEADER_POSITION,
    MalformedMessage,
    decode_event,
    encode_event,
    event_headers,
)
from tests.integration.kafka.bus_contract import BusContract, stored_event


class InProcessUnderTest:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._bus = InProcessBus(partitions)

    def publisher(self) -> InProcessPublisher:
        return self._bus.publisher()

    def consumer(self, group: str, *, batch_size: int = 50) -> InProcessConsumer:
        return self._bus.consumer(group, batch_size=batch_size, poll_interval=0.05)


class TestInProcessBus(BusContract):
    @pytest.fixture
    def bus(self) -> InProcessUnderTest:
        return InProcessUnderTest(partitions=4)


def test_a_stored_event_survives_the_wire_format() -> None:
    event = stored_event(42, person=7, version=3)
    assert decode_event(encode_event(event)) == event
    notification = event.notification
    assert dict(event_headers(event)) == {
        "ce_specversion": b"1.0",
        "ce_id": notification.id.encode(),
        "ce_source": notification.source.encode(),
        "ce_type": b"custody.transfer",
        "ce_time": notification.time.isoformat().encode(),
        "content-type": b"application/json",
        HEADER_EVENT_TYPE: b"custody.transfer",
        HEADER_POSITION: b"42",
    }


def test_imported_history_keeps_its_flag_on_the_wire_and_live_events_their_format() -> None:
    live = stored_event(42, person=7, version=3)
    history = replace(live, history=True)
    assert decode_event(encode_event(history)) == history
    assert "history" not in json.loads(encode_event(live))
    assert json.loads(encode_event(history))["history"] is True


@pytest.mark.parametrize(
    "value", [b"", b"not json", b"{}", b'{"position": 1}', b"[1, 2]", "ünï".encode()]
)
def test_what_is_not_a_stored_event_is_refused_by_name(value: bytes) -> None:
    with pytest.raises(MalformedMessage, match="not a stored event"):
        decode_event(value)


def test_one_persons_events_always_go_to_one_partition() -> None:
    bus = InProcessBus(partitions=8)
    spread = {bus.partition_of(f"person-{n}") for n in range(200)}
    assert len(spread) == 8
    assert bus.partition_of("person-1") == InProcessBus(partitions=8).partition_of("person-1")
