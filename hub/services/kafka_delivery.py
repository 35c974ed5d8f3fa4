"""The Kafka delivery channel: a recipient whose systems live on Kafka receives its disclosures
on its own topic, in its feed's gap-free order.

Each message is a CloudEvent in Kafka binary content mode (docs/cloudevents.md): its value, the
data, is the feed item (the notification cut to the granted fields, itself a CloudEvents
structured event, with the rules, purposes and legal bases), keyed by the disclosure id; its
headers are the disclosure's context attributes (`ce_specversion`, `ce_id` = the disclosure id,
`ce_source` = `urn:pph:hub:disclosures`, `ce_type` = the notification's type, `ce_time` = the
decision's time, `content-type`), then the event type, the policy version and a Standard Webhooks
signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`: the same scheme, and the same
verification code, as the hub's webhooks) under the recipient's channel secret. The feed is read
as for webhooks, its sensitive fields opened with the person's data key: the recipient gets the
plaintext of the fields it was granted, and none of a crypto-shredded person's (they are absent).
What the broker already holds is the recipient's copy, out of the hub's reach, like a webhook
already delivered.

Idempotent and crash-safe (CONVENTIONS 4): per recipient, the channel reads its feed after its
checkpoint (`kafka-delivery:<recipient>` in the consumer checkpoints), publishes the page, and
only once the broker has acknowledged every message records the receipts (logged in the audit
trail as deliveries on channel `kafka`) and moves the checkpoint. A crash in between publishes
that page again on restart: a recipient de-duplicates by the key, the disclosure id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from standardwebhooks import Webhook

from hub.domain.cloudevents import kafka_binary_headers
from hub.errors import InvalidInput
from hub.services.feed import FeedService, FeedStore
from hub.services.relay import RelayCheckpoints
from hub.services.worker import WorkerLoop, drain

__all__ = [
    "CHANNEL",
    "DISCLOSURE_SOURCE",
    "DisclosureMessage",
    "DisclosureProducer",
    "KafkaDeliveryChannel",
]

logger = logging.getLogger("hub.kafka.delivery")

#: The channel name receipts are recorded under.
CHANNEL: Final = "kafka"
#: The CloudEvents `source` of every disclosure message: the hub, disclosing.
DISCLOSURE_SOURCE: Final = "urn:pph:hub:disclosures"


@dataclass(frozen=True, slots=True)
class DisclosureMessage:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


class DisclosureProducer(Protocol):
    async def send(self, topic: str, messages: Sequence[DisclosureMessage]) -> None:
        """Publish the messages to `topic` in order; return once the broker acknowledged all
        of them (`BusError` otherwise)."""
        ...

    async def close(self) -> None: ...


class KafkaDeliveryChannel:
    """Publishes each configured recipient's disclosures to `<topic_prefix><recipient>`."""

    def __init__(
        self,
        store: FeedStore,
        feed: FeedService,
        checkpoints: RelayCheckpoints,
        producer: DisclosureProducer,
        channels: Mapping[str, str],
        *,
        topic_prefix: str,
        batch_size: int = 100,
        poll_interval: float = 0.5,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        for recipient, secret in channels.items():
            try:
                Webhook(secret)
            except Exception:
                raise InvalidInput(
                    f"the Kafka channel secret of {recipient} is not a whsec_… secret"
                ) from None
        self._store = store
        self._feed = feed
        self._checkpoints = checkpoints
        self._producer = producer
        self._channels = dict(channels)
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll_interval = poll_interval

    def topic(self, recipient_id: str) -> str:
        return f"{self._prefix}{recipient_id}"

    async def run_once(self) -> int:
        """One page for each recipient; how many disclosures were published."""
        published = 0
        for recipient_id in sorted(self._channels):
            published += await self._deliver_page(recipient_id)
        return published

    async def run_until_idle(self) -> int:
        return await drain(self.run_once)

    def loop(self) -> WorkerLoop:
        """This channel in the worker loop, looking for new disclosures every `poll_interval`
        seconds. An unreachable broker or database is waited out (the page is published again);
        any other error stops the channel."""
        return WorkerLoop("kafka-delivery", self.run_once, idle_seconds=self._poll_interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep publishing until `stop` is set (`loop`)."""
        await self.loop().run(stop)

    async def _deliver_page(self, recipient_id: str) -> int:
        consumer = f"kafka-delivery:{recipient_id}"
        cursor = await self._checkpoints.checkpoint(consumer)
        entries = await self._store.entries(recipient_id, cursor, self._batch_size)
        if not entries:
            return 0
        signer = Webhook(self._channels[recipient_id])
        now = datetime.now(UTC)
        messages = []
        for entry in entries:
            item = self._feed.item(entry)
            value = json.dumps(item.to_json(), separators=(",", ":")).encode("utf-8")
            signature = signer.sign(item.disclosure_id, now, value.decode("utf-8"))
            messages.append(
                DisclosureMessage(
                    key=item.disclosure_id.encode("utf-8"),
                    value=value,
                    headers=(
                        *kafka_binary_headers(
                            {
                                "specversion": "1.0",
                                "id": item.disclosure_id,
                                "source": DISCLOSURE_SOURCE,
                                "type": item.event_type,
                                "time": item.decided_at.astimezone(UTC).isoformat(),
                            }
                        ),
                        ("event_type", item.event_type.encode()),
                        ("policy_version", item.policy_version.encode()),
                        ("seq", str(item.seq).encode()),
                        ("webhook-id", item.disclosure_id.encode()),
                        ("webhook-timestamp", str(int(now.timestamp())).encode()),
                        ("webhook-signature", signature.encode()),
                    ),
                )
            )
        await self._producer.send(self.topic(recipient_id), messages)
        unreceived = [e.disclosure.disclosure_id for e in entries if not e.received]
        if unreceived:
            await self._store.record_receipts(unreceived, CHANNEL, now)
        if not await self._checkpoints.advance(consumer, cursor, entries[-1].seq):
            logger.warning("another channel moved %s's checkpoint first", recipient_id)
        return len(entries)
