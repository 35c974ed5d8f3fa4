"""The Kafka delivery channel's producer (`hub.services.kafka_delivery.DisclosureProducer`):
one idempotent producer, `acks=all`, creating each recipient's topic if it is missing
(`hub.infra.kafka_bus.PageProducer`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.infra.kafka_bus import PageProducer
from hub.services.kafka_delivery import DisclosureMessage

__all__ = ["KafkaDisclosureProducer"]


class KafkaDisclosureProducer:
    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        client_id: str = "pph-hub-delivery",
        request_timeout_ms: int = 30_000,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._pages = PageProducer(
            bootstrap,
            partitions=partitions,
            replication_factor=replication_factor,
            client_id=client_id,
            request_timeout_ms=request_timeout_ms,
            client_options=client_options,
            name="the delivery producer",
        )

    async def send(self, topic: str, messages: Sequence[DisclosureMessage]) -> None:
        if not messages:
            return
        await self._pages.send_page(
            topic,
            ((message.key, message.value, message.headers) for message in messages),
            doing=f"publishing disclosures to {topic}",
        )

    async def close(self) -> None:
        await self._pages.close()
