"""Notification intake: validate what an agency pushed, then append it to the event store.

Validation happens in full before anything is written, so a rejected notification (or a batch
with one bad item) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hub.domain.notifications import HUB_WRITTEN_TYPES, AppendResult, Notification, Publisher
from hub.domain.schemas import SchemaRegistry
from hub.errors import (
    BatchItemProblem,
    BatchRejected,
    FieldProblem,
    IdentifierConflict,
    InvalidInput,
    InvalidNotification,
)
from hub.services.conflicts import ConflictReviewList
from hub.services.ports import EventStore


class IntakeService:
    def __init__(
        self,
        schemas: SchemaRegistry,
        store: EventStore,
        max_batch_size: int,
        conflicts: ConflictReviewList | None = None,
        on_appended: Callable[[], None] | None = None,
    ) -> None:
        self._schemas = schemas
        self._store = store
        self._max_batch_size = max_batch_size
        self._conflicts = conflicts
        self._on_appended = on_appended

    async def publish(self, raw: object, publisher: Publisher) -> AppendResult:
        notification = self._validate(raw)
        [result] = await self._append([notification], publisher)
        return result

    async def publish_batch(self, raw: object, publisher: Publisher) -> list[AppendResult]:
        """All or nothing: every item is validated first, and every problem of every item is
        reported with its index, before anything is appended."""
        if not isinstance(raw, list):
            raise InvalidInput("a batch must be a JSON array of notifications")
        if not raw:
            raise InvalidInput("a batch must hold at least one notification")
        if len(raw) > self._max_batch_size:
            raise InvalidInput(
                f"a batch may hold at most {self._max_batch_size} notifications, not {len(raw)}"
            )
        notifications: list[Notification] = []
        problems: list[BatchItemProblem] = []
        for index, item in enumerate(raw):
            try:
                notifications.append(self._validate(item))
            except InvalidNotification as error:
                problems.extend(BatchItemProblem(index, p) for p in error.problems)
        if problems:
            bad = sorted({p.index for p in problems})
            raise BatchRejected(
                f"{len(bad)} of {len(raw)} notifications are invalid (items {_ranges(bad)}); "
                "nothing was stored",
                problems,
            )
        return await self._append(notifications, publisher)

    def _validate(self, raw: object) -> Notification:
        """The notification, if it is valid and an agency may push it."""
        notification = self._schemas.validate(raw)
        if notification.type in HUB_WRITTEN_TYPES:
            # Otherwise an agency could raise escalations in the hub's name.
            raise InvalidNotification(
                f"{notification.type} notifications are written only by the hub itself",
                [FieldProblem("/type", "this event type is written only by the hub")],
            )
        return notification

    async def _append(
        self, notifications: Sequence[Notification], publisher: Publisher
    ) -> list[AppendResult]:
        try:
            results = await self._store.append(notifications, publisher=publisher)
        except IdentifierConflict as conflict:
            # Refused, never merged silently: park the notification for an operator.
            if self._conflicts is not None:
                refused = next(
                    (n for n in notifications if n.key == conflict.event_key), notifications[0]
                )
                conflict.review_id = await self._conflicts.record(
                    refused, publisher, conflict.claims
                )
                conflict.message += (
                    f"; nothing was stored, and the notification is held for review as "
                    f"{conflict.review_id}"
                )
            raise
        if self._on_appended is not None and not all(r.duplicate for r in results):
            self._on_appended()
        return results


def _ranges(indexes: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indexes[:20]) + (" …" if len(indexes) > 20 else "")
