"""Erasure of personal data at the end of its retention period.

The policy bundle states how long each event type's personal data is kept after the event
(`PolicyBundle.retention`). `RetentionService.apply` finds the events past their period and, in
one transaction per batch, records each erasure, empties the event's data and logs an erasure
entry naming the fields erased (never their values). The event's envelope (id, type, time, its
place in the person's stream, its content hash) and the audit trail stay, so the trail still
verifies and a re-push of the same notification is still recognised as a duplicate rather than
stored again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hub.errors import InvalidInput

__all__ = ["DueEvent", "RetentionReport", "RetentionService", "RetentionStore"]


@dataclass(frozen=True, slots=True)
class DueEvent:
    """An event whose personal data is past its retention period and not yet erased."""

    position: int
    person_id: str
    event_id: str
    source: str
    event_type: str
    time: datetime
    recorded_at: datetime
    fields: tuple[str, ...]


class RetentionStore(Protocol):
    async def due(
        self, event_type: str, cutoff: datetime, limit: int, after: int = 0
    ) -> list[DueEvent]:
        """Events of `event_type` with `time` before `cutoff` whose data is not yet erased,
        with position above `after`, in position order, at most `limit`."""
        ...

    async def erase(self, due: Sequence[DueEvent], *, rule: str, actor: str, at: datetime) -> int:
        """Erase the events' data, record the erasures and log them, in one transaction; how
        many were erased (an event erased meanwhile by another run is skipped)."""
        ...


@dataclass
class RetentionReport:
    as_of: datetime
    dry_run: bool
    #: Per event type: its period in days, and how many events were (or would be) erased.
    by_type: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def erased(self) -> int:
        return sum(int(t["erased"]) for t in self.by_type.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "erased": self.erased,
            "by_type": self.by_type,
        }


class RetentionService:
    def __init__(
        self, store: RetentionStore, retention: Mapping[str, timedelta], *, batch_size: int = 500
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        self._store = store
        self._retention = dict(retention)
        self._batch_size = batch_size

    async def apply(
        self, *, as_of: datetime | None = None, dry_run: bool = False, actor: str = "hub"
    ) -> RetentionReport:
        """Erase (or, with `dry_run`, count) every event past its type's retention period as of
        `as_of` (default: now)."""
        now = datetime.now(UTC)
        as_of = now if as_of is None else as_of
        if as_of.utcoffset() is None:
            raise InvalidInput("as_of must include a time zone")
        if as_of > now:
            raise InvalidInput("as_of is in the future: retention is applied up to now at most")
        report = RetentionReport(as_of=as_of, dry_run=dry_run)
        for event_type, period in sorted(self._retention.items()):
            cutoff = as_of - period
            rule = f"retention:{event_type}:{period.days}d"
            erased = 0
            after = 0
            while True:
                due = await self._store.due(event_type, cutoff, self._batch_size, after)
                if not due:
                    break
                if dry_run:
                    erased += len(due)
                    after = due[-1].position
                else:
                    erased += await self._store.erase(due, rule=rule, actor=actor, at=now)
                if len(due) < self._batch_size:
                    break
            report.by_type[event_type] = {
                "retention_days": period.days,
                "cutoff": cutoff.isoformat(),
                "erased": erased,
            }
        return report
