"""The identifier-conflict review list.

When a notification carries identifiers that the subject index holds for two different people,
or would give a person a second value of a single-valued identifier scheme (a second SPS number),
the hub never merges or links them silently: the notification is refused (nothing is stored) and
parked here, with who claimed what and the kind of conflict, until an operator resolves it
(`hub persons conflicts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.domain.notifications import Notification, Publisher

#: How `hub persons conflicts` names each kind of conflict (`IdentifierConflict.kind`).
KIND_TITLES: Mapping[str, str] = {
    "two-people": "identifiers of two different people",
    "second-value": "second value of a single-valued scheme",
}


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
    #: "two-people" or "second-value" (`KIND_TITLES`).
    kind: str = "two-people"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def kind_title(self) -> str:
        return KIND_TITLES.get(self.kind, self.kind)

    @property
    def second_values(self) -> list[str]:
        """For a second-value conflict, each identifier the notification brought whose scheme
        the person already holds another value of ("scheme:value")."""
        if self.kind != "second-value":
            return []
        held = {claim.partition(":")[0] for claim in self.claims}
        sent = self.notification.get("identifiers")
        if not isinstance(sent, Mapping):
            return []
        return sorted(
            f"{scheme}:{value}"
            for scheme, value in sent.items()
            if scheme in held and f"{scheme}:{value}" not in self.claims
        )


class ConflictReviewList(Protocol):
    async def record(
        self,
        notification: Notification,
        publisher: Publisher,
        claims: Mapping[str, str],
        *,
        kind: str,
    ) -> str:
        """Park a refused notification (`kind`: "two-people" or "second-value"); returns its
        review id."""
        ...

    async def list_cases(
        self, *, include_resolved: bool = False
    ) -> list[IdentifierConflictCase]: ...

    async def resolve(
        self, review_id: str, *, resolution: str, resolved_by: str
    ) -> IdentifierConflictCase:
        """Close a case with what was decided (`NotFound`, or `Conflict` if already closed)."""
        ...
