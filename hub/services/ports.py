"""The narrow interfaces application services need from infrastructure.

Each port has one implementation per backend (PostgreSQL, SQLite) that passes one shared contract
test suite (`tests/integration/store_contract.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hub.domain.notifications import (
    AppendResult,
    Notification,
    PersonIdentifier,
    Publisher,
    StoredEvent,
)


class EventStore(Protocol):
    """The append-only event store: every notification, forever, in one global order."""

    async def append(
        self,
        notifications: Sequence[Notification],
        *,
        publisher: Publisher,
        expected_version: int | None = None,
    ) -> list[AppendResult]:
        """Store the notifications in one transaction, all or nothing, with the subject index.

        Each notification's person is resolved from its identifiers (a new person when none is
        known; `IdentifierConflict` when they belong to different people) and its identifiers are
        linked. A notification whose (source, id) is already stored with the same content is not
        stored again: its result has `duplicate=True` and the first's position. The same key with
        different content raises `EventIdReused`. With `expected_version`, every notification
        must resolve to one person whose stream is at that version (0: no events yet), else
        `StreamVersionConflict`. Results are in input order.
        """
        ...

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events with position > `after`, in position order, at most `limit`.

        Never skips: an event that commits later never appears at a position at or below one
        this call has already returned. Followers keep the last position they processed.
        """
        ...

    async def read_stream(self, person_id: str, after_version: int = 0) -> list[StoredEvent]:
        """One person's events with stream version > `after_version`, in version order."""
        ...

    async def get(self, source: str, event_id: str) -> StoredEvent | None:
        """The event stored under (source, id), if any."""
        ...

    async def find_published(self, event_id: str, agency: str) -> list[StoredEvent]:
        """Events with this id that clients of `agency` published (ids are unique per source)."""
        ...

    async def resolve_person(self, identifiers: Sequence[PersonIdentifier]) -> str | None:
        """The person id that any of these identifiers is linked to, if one is known."""
        ...

    async def identifiers_of(self, person_id: str) -> list[PersonIdentifier]:
        """Every identifier linked to this person."""
        ...

    async def last_position(self) -> int:
        """The highest position a follower may read up to now (0 when the store is empty)."""
        ...

    async def count(self) -> int:
        """How many events are stored."""
        ...
