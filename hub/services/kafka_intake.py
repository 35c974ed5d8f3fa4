"""Kafka intake: agencies that already live on Kafka produce notifications to an intake topic of
their own (`<prefix><agency>`), and the hub takes each message as if the agency had pushed it to
`POST /v1/events`: validated against its schema, its source checked against the agency, appended.

The topic names the agency: the broker, not the hub, authenticates the producer (SASL/SCRAM or
mTLS) and its ACLs let each agency's principal write only to its own intake topic.

A message that cannot be taken (not JSON, invalid, a source that is not the agency's, an id
reused for different content, an identifier conflict) goes to the rejects topic with the reason
and the original bytes, so nothing is lost and the consumer carries on. An identifier conflict
(identifiers of two people, or a second value of a single-valued scheme such as a second SPS
number) is also held on the review list by the intake service, as from the API; its rejection
points at `/identifiers` and names the schemes, never another person's identifiers.

An unavailable database stops the batch uncommitted; it is taken again later, and what was
already appended is then a duplicate, which the store recognises (same source and id, same
content) and does not append twice. Rejects are published before the batch's offsets are
committed, so a crash between the two may publish a reject twice, never lose one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.domain import safe_json
from hub.domain.notifications import AppendResult, Publisher
from hub.domain.policy.directory import Directory
from hub.errors import (
    Conflict,
    HubError,
    IdentifierConflict,
    InvalidInput,
    InvalidNotification,
    MalformedJson,
    PermissionDenied,
)

__all__ = ["IntakeConsumer", "IntakeMessage", "IntakeRejects", "KafkaIntake", "Rejection"]
from hub.services.worker import Backoff, WorkerLoop

logger = logging.getLogger("hub.intake")


@dataclass(frozen=True, slots=True)
class IntakeMessage:
    """One message from an agency's intake topic, as it arrived."""

    agency: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was not taken: the reason, and each field that was wrong."""

    message: IntakeMessage
    reason: str
    #: `{"pointer": ..., "detail": ...}` per field, as in the API's problem details.
    problems: tuple[dict[str, str], ...] = field(default=())


class IntakeRejects(Protocol):
    """Where rejected messages go (the rejects topic)."""

    async def reject(self, rejections: Sequence[Rejection]) -> None:
        """Publish the rejections; return once the bus has them durably."""
        ...


#: Validates and appends one notification from `publisher` (`IntakeService.publish`).
Publish = Callable[[object, Publisher, Directory | None], Awaitable[AppendResult]]


class IntakeConsumer(Protocol):
    """One member of the intake consumer group over the agencies' intake topics."""

    async def run(
        self, handler: Callable[[Sequence[IntakeMessage]], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Hand each batch to `handler`, committing it only once `handler` returned."""
        ...


class KafkaIntake:
    """Takes batches of intake messages: appends what is valid, rejects the rest."""

    def __init__(self, publish: Publish, rejects: IntakeRejects, directory: Directory) -> None:
        self._publish = publish
        self._rejects = rejects
        self._directory = directory
        #: Messages appended (duplicates included) and rejected by this consumer.
        self.accepted = 0
        self.rejected = 0

    async def handle(self, messages: Sequence[IntakeMessage]) -> None:
        rejections: list[Rejection] = []
        for message in messages:
            rejection = await self._take(message)
            if rejection is not None:
                rejections.append(rejection)
        if rejections:
            await self._rejects.reject(rejections)
            self.rejected += len(rejections)
            for rejection in rejections:
                logger.warning(
                    "rejected %s[%d]@%d: %s",
                    rejection.message.topic,
                    rejection.message.partition,
                    rejection.message.offset,
                    rejection.reason,
                )

    def loop(
        self, consumer: IntakeConsumer, stop: asyncio.Event, *, retry_interval: float = 1.0
    ) -> WorkerLoop:
        """This intake in the worker loop: it takes what `consumer` hands over until `stop` is
        set. An unavailable database or broker makes the consumer leave the group, its batch
        uncommitted, and join again after a backoff starting at `retry_interval`; any other
        error stops it."""

        async def handle(messages: Sequence[IntakeMessage]) -> None:
            await self.handle(messages)
            loop.progressed()

        async def consume() -> bool:
            await consumer.run(handle, stop)
            return False

        loop = WorkerLoop(
            "kafka-intake",
            consume,
            idle_seconds=retry_interval,
            backoff=Backoff(initial=retry_interval, maximum=max(15.0, retry_interval)),
        )
        return loop

    async def run(
        self, consumer: IntakeConsumer, stop: asyncio.Event, *, retry_interval: float = 1.0
    ) -> None:
        """Take what `consumer` hands over until `stop` is set (`loop`)."""
        await self.loop(consumer, stop, retry_interval=retry_interval).run(stop)

    async def _take(self, message: IntakeMessage) -> Rejection | None:
        try:
            raw: Any = safe_json.loads(message.value.decode("utf-8"), what="the message")
        except UnicodeDecodeError as error:
            return Rejection(message, f"the message is not UTF-8 (byte {error.start})")
        except MalformedJson as error:
            return Rejection(
                message,
                f"the message is not JSON the hub accepts: {error.message}",
                tuple(p.as_dict() for p in error.problems),
            )
        publisher = Publisher(client_id=f"kafka:{message.agency}", agency=message.agency)
        try:
            await self._publish(raw, publisher, self._directory)
        except InvalidNotification as error:
            problems = tuple(p.as_dict() for p in error.problems)
            return Rejection(message, error.message, problems)
        except IdentifierConflict as error:
            problem = {"pointer": "/identifiers", "detail": error.message}
            return Rejection(message, _reason(error), (problem,))
        except (InvalidInput, PermissionDenied, Conflict) as error:
            return Rejection(message, _reason(error))
        self.accepted += 1
        return None


def _reason(error: HubError) -> str:
    return f"{type(error).__name__}: {error.message}"
