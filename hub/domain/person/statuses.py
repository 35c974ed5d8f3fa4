"""Status records: what the hub knows about a person that begins and ends (policies/README.md
"Statuses"). A record names the notification that began it, the source namespace that set it
(its authority), and when it ends: a date from the data (inclusive through that date) or the
time of the notification that closed it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

#: Every status kind the profile keeps, in the order the profile lists them.
STATUS_KINDS: Final = (
    "custody",
    "notification_requirements",
    "schedule1",
    "mappa",
    "licence",
    "supervision",
    "recalled",
    "missing",
    "deceased",
    "removed_from_scotland",
)
#: Kinds derived from an active MAPPA record, declared here so that the bundle names them too
#: (their authority is MAPPA's: a responsible-authority determination, never an inference).
DERIVED_KINDS: Final = ("orosh", "restricted_patient")


@dataclass(frozen=True, slots=True)
class Status:
    """One status of a person, from the notification that began it to its end."""

    kind: str
    #: What the status says (MAPPA category and level, licence type, supervising area, ...).
    value: Mapping[str, Any] = field(default_factory=dict)
    #: The store position and `time` (ISO date-time) of the notification that began it.
    position: int = 0
    began: str = ""
    #: The source namespace that set the current record (`police-scotland`, `sps`, ...).
    set_by: str = ""
    #: When it ends: an ISO date (active through that date) or date-time (active before it).
    ends: str | None = None
    #: The type of the notification that closed it, if one did (rather than its date passing).
    closed_by: str | None = None

    def get(self, key: str) -> Any:
        return self.value.get(key)

    def active(self, as_of: datetime) -> bool:
        """Whether the status has not ended as of `as_of` (statuses begin in store order)."""
        return self.ends is None or not ended(self.ends, as_of)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "kind": self.kind,
            "value": dict(self.value),
            "position": self.position,
            "began": self.began,
            "set_by": self.set_by,
        }
        if self.ends is not None:
            document["ends"] = self.ends
        if self.closed_by is not None:
            document["closed_by"] = self.closed_by
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Status:
        return cls(
            kind=document["kind"],
            value=dict(document.get("value", {})),
            position=int(document.get("position", 0)),
            began=str(document.get("began", "")),
            set_by=str(document.get("set_by", "")),
            ends=document.get("ends"),
            closed_by=document.get("closed_by"),
        )


def ended(ends: str, as_of: datetime) -> bool:
    """Whether an end (ISO date, inclusive, or ISO date-time) has passed as of `as_of`.

    A date is read in the calendar of `as_of`'s own offset: the date the notification states.
    An unreadable end never ends anything (a schema-valid notification cannot give one)."""
    if len(ends) == 10:
        try:
            return as_of.date() > date.fromisoformat(ends)
        except ValueError:
            return False
    try:
        end = datetime.fromisoformat(ends)
    except ValueError:
        return False
    if end.utcoffset() is None or as_of.utcoffset() is None:
        return as_of.replace(tzinfo=None) >= end.replace(tzinfo=None)
    return as_of >= end


def earlier_end(current: str | None, closing: datetime) -> str:
    """The end of a status closed at `closing`: its own end if that came first."""
    if current is not None and ended(current, closing):
        return current
    return closing.isoformat()
