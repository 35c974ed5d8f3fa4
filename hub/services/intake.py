"""Notification intake: validate what an agency pushed, then append it to the event store.

Validation happens in full before anything is written, so a rejected notification (or a batch
with one bad item) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hub.domain.notifications import HUB_WRITTEN_TYPES, AppendResult, Notification, Publisher
from hub.domain.policy import publishers
from hub.domain.policy.directory import Directory
from hub.domain.policy.publishers import unbound_fields
from hub.domain.schemas import SchemaRegistry
from hub.errors import (
    BatchItemProblem,
    BatchRejected,
    FieldProblem,
    IdentifierConflict,
    InvalidInput,
    InvalidNotification,
    PermissionDenied,
    PublisherNotEntitled,
)
from hub.services.conflicts import ConflictReviewList
from hub.services.intake_group import GroupedAppends
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
        # Concurrent single pushes of one publisher share a transaction (group commit).
        self._grouped = GroupedAppends(
            lambda batch, publisher: store.append(batch, publisher=publisher),
            max_group=max_batch_size,
        )
        self._max_batch_size = max_batch_size
        self._conflicts = conflicts
        self._on_appended = on_appended

    async def publish(
        self, raw: object, publisher: Publisher, directory: Directory | None = None
    ) -> AppendResult:
        """Validate and append one notification. With `directory`, its `source` must be one of
        the publisher's (`source_belongs_to`) and its body may name no unit the publisher may not
        speak for (`hub.domain.policy.publishers`), or `PermissionDenied` and nothing is
        stored."""
        notification = self._validate(raw)
        _check_publisher([notification], publisher, directory, batch=False)
        [result] = await self._append([notification], publisher)
        return result

    async def publish_batch(
        self, raw: object, publisher: Publisher, directory: Directory | None = None
    ) -> list[AppendResult]:
        """All or nothing: every item is validated first, and every problem of every item is
        reported with its index, before anything is appended; then, with `directory`, every
        item's `source` must be one of the publisher's."""
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
        _check_publisher(notifications, publisher, directory, batch=True)
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
            if len(notifications) == 1:
                results = [await self._grouped.append(notifications[0], publisher)]
            else:
                results = await self._store.append(notifications, publisher=publisher)
        except IdentifierConflict as conflict:
            # Refused, never merged silently: park the notification for an operator.
            if self._conflicts is not None:
                refused = next(
                    (n for n in notifications if n.key == conflict.event_key), notifications[0]
                )
                conflict.review_id = await self._conflicts.record(
                    refused, publisher, conflict.claims, kind=conflict.kind
                )
                conflict.message += (
                    f"; nothing was stored, and the notification is held for review as "
                    f"{conflict.review_id}"
                )
            raise
        if self._on_appended is not None and not all(r.duplicate for r in results):
            self._on_appended()
        return results


#: Source namespaces (the segment after `urn:pph:`) shared by several organisations, each of which
#: owns the sources whose next segment names it: a health board by its id, a council service by
#: the council area it serves (the GSS code), of the role that namespace stands for.
_SHARED_NAMESPACES = {
    "nhs": "health-board",
    "socialwork": "social-work",
    "mappa": "mappa-coordinator",
}


def source_belongs_to(source: str, agency: str, directory: Directory) -> bool:
    """Whether an agency may publish from `source` (a URN `urn:pph:<namespace>:<unit>…`).

    It may when the namespace is the agency itself (`urn:pph:sps:pr2:hmp-barlinnie` is the
    SPS's, `urn:pph:police-scotland:visor` Police Scotland's); when the namespace is shared and
    the unit is the agency (`urn:pph:nhs:nhs-lothian:…`) or an area it serves in that role
    (`urn:pph:socialwork:S12000049` is Glasgow City social work's, `urn:pph:mappa:S12000049` the
    Glasgow MAPPA coordinator's); and for an establishment, a PR2 source that ends with its code
    (`urn:pph:sps:pr2:hmp-barlinnie` is also HMP Barlinnie's). Anything else is refused, so no
    agency can publish in another's name.
    """
    prefix, _, rest = source.partition("urn:pph:")
    segments = rest.split(":")
    if prefix or len(segments) < 2 or not all(segments):
        return False
    namespace, unit = segments[0], segments[1]
    if namespace == agency:
        return True
    recipient = directory.get(agency)
    if recipient is None:
        return False
    role = _SHARED_NAMESPACES.get(namespace)
    if role is not None and recipient.role == role:
        if role == "health-board":
            return unit == agency
        return recipient in directory.serving(role, unit)
    return namespace == "sps" and recipient.role == "establishment" and segments[-1] == agency


def _check_publisher(
    notifications: Sequence[Notification],
    publisher: Publisher,
    directory: Directory | None,
    *,
    batch: bool,
) -> None:
    """Every notification's `source` is the publisher's, and its body names no unit the
    publisher may not speak for (`hub.domain.policy.publishers`); pointers are prefixed with
    the item's index in a batch."""
    if directory is None:
        return
    foreign = sorted(
        {
            n.source
            for n in notifications
            if not source_belongs_to(n.source, publisher.agency, directory)
        }
    )
    if foreign:
        raise PermissionDenied(
            f"agency {publisher.agency} may not publish from source {', '.join(foreign)}: a "
            "source belongs to the agency it names; nothing was stored"
        )
    problems = [
        FieldProblem(f"/{index}{p.pointer}" if batch else p.pointer, p.message)
        for index, n in enumerate(notifications)
        for p in unbound_fields(n.type, n.data, publisher.agency, directory)
    ]
    if problems:
        raise PublisherNotEntitled(publishers.describe(problems, publisher.agency), problems)


def _ranges(indexes: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indexes[:20]) + (" …" if len(indexes) > 20 else "")
