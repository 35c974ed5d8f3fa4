"""The collection entries of many stored events at once (an append's batch, a chunk of
`hub import`), as `hub.domain.audit.builders.collection` makes them, byte for byte.

What a batch's rows repeat (the source, type and publisher, the time they were recorded, the
schema version) is digested once (`RememberedDigests`), and each entry is built once: the
builder alone would take the row's evidence afresh for every event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.domain.audit import builders
from hub.domain.audit.entries import AuditEntry
from hub.domain.audit.evidence import RememberedDigests
from hub.domain.notifications import Notification, Publisher

__all__ = ["CollectionEntries"]


class CollectionEntries:
    """`collection(...)` for each event of one batch. Keep one per batch (it remembers every
    value it digested)."""

    __slots__ = ("_digests",)

    def __init__(self) -> None:
        self._digests = RememberedDigests()

    def collection(
        self,
        notification: Notification,
        *,
        person_id: str,
        position: int,
        publisher: Publisher,
        at: datetime,
        stored: Mapping[str, Any],
        imported: str | None = None,
    ) -> AuditEntry:
        """`builders.collection(notification, ..., stored=stored, imported=imported)`."""
        return builders.collection(
            notification,
            person_id=person_id,
            position=position,
            publisher=publisher,
            at=at,
            stored=stored,
            imported=imported,
            digests=self._digests,
        )
