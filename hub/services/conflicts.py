"""The identifier-conflict review list.

When a notification carries identifiers that the subject index holds for two different people,
the hub never merges them silently: the notification is refused (nothing is stored) and parked
here, with who claimed what, until an operator resolves it (`hub persons conflicts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.domain.notifications import Notification, Publisher


@dataclass(frozen=True, slots=True)
class IdentifierConflictCase:
    review_id: str
    raised_at: datetime
    source: str
    event_id: str
    event_type: str
    publisher: Publisher
    #: Each identifier ("scheme:value") and the person the subject index holds it for.
    claims: Mapping[str, str]
    #: The refused notification, kept so that nothing pushed is lost.
    notification: Mapping[str, Any]
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ConflictReviewList(Protocol):
    async def record(
        self, notification: Notification, publisher: Publisher, claims: Mapping[str, str]
    ) -> str:
        """Park a refused notification; returns its review id."""
        ...

    async def list_cases(
        self, *, include_resolved: bool = False
    ) -> list[IdentifierConflictCase]: ...

    async def resolve(
        self, review_id: str, *, resolution: str, resolved_by: str
    ) -> IdentifierConflictCase:
        """Close a case with what was decided (`NotFound`, or `Conflict` if already closed)."""
        ...
