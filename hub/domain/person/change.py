"""One notification's change to a profile, applied under the status authorities: a source
begins a status only if it may set it, and lowers, changes or ends one only if it ranks at least
as high as the source that set the current record (`Authorities`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.domain.notifications import Notification
from hub.domain.person.authority import Authorities, namespace_of
from hub.domain.person.profile import PersonProfile
from hub.domain.person.statuses import STATUS_KINDS, Status, earlier_end


class ProfileChange:
    """The statuses and facts a fold changes, gathered before the new profile is made."""

    def __init__(
        self,
        profile: PersonProfile,
        notification: Notification,
        position: int,
        authorities: Authorities,
    ) -> None:
        self.profile = profile
        self.notification = notification
        self.data: Mapping[str, Any] = notification.data
        self.namespace = namespace_of(notification.source)
        self.time: datetime = notification.time
        self.position = position
        self.authorities = authorities
        self.statuses: dict[str, Status] = {s.kind: s for s in profile.statuses}
        #: Facts that only the notification that moved the person carries are cleared first.
        self.facts: dict[str, Any] = {"left_home_area": None, "left_supervising_area": None}

    def active(self, kind: str) -> Status | None:
        record = self.statuses.get(kind)
        return record if record is not None and record.active(self.time) else None

    def begin(
        self, kind: str, value: Mapping[str, Any] | None = None, *, ends: str | None = None
    ) -> bool:
        """Begin a record of `kind`, replacing an active one only when this source ranks at
        least as high as the one that set it. Whether it began."""
        current = self.active(kind)
        if current is not None:
            if not self.authorities.may_lower(kind, self.namespace, current.set_by):
                return False
        elif not self.authorities.may_begin(kind, self.namespace):
            return False
        self.statuses[kind] = Status(
            kind=kind,
            value=dict(value or {}),
            position=self.position,
            began=self.time.isoformat(),
            set_by=self.namespace,
            ends=ends,
        )
        return True

    def change(self, kind: str, updates: Mapping[str, Any], *, ends: str | None = None) -> bool:
        """Change the active record of `kind` (its values, and its end if `ends` is given), if
        this source ranks at least as high as its setter; begin one if none is active."""
        current = self.active(kind)
        if current is None:
            return self.begin(kind, updates, ends=ends)
        if not self.authorities.may_lower(kind, self.namespace, current.set_by):
            return False
        value = {**current.value, **{k: v for k, v in updates.items() if v is not None}}
        self.statuses[kind] = replace(
            current,
            value=value,
            set_by=self.authorities.stronger(kind, self.namespace, current.set_by),
            ends=current.ends if ends is None else ends,
        )
        return True

    def end(self, kind: str, *, whatever_set_it: bool = False) -> bool:
        """Close the active record of `kind` as of this notification, if this source ranks at
        least as high as its setter (or `whatever_set_it`: a death or a removal, facts that end
        a status whoever set it). Whether it ended."""
        current = self.active(kind)
        if current is None:
            return False
        if not whatever_set_it and not self.authorities.may_lower(
            kind, self.namespace, current.set_by
        ):
            return False
        self.statuses[kind] = replace(
            current, ends=earlier_end(current.ends, self.time), closed_by=self.notification.type
        )
        if kind == "supervision":
            # The council that supervised until now, on this notification's profile only.
            self.facts["left_supervising_area"] = current.get("supervising_area")
        return True

    def move_home(self, area: Any) -> None:
        """The person now lives in `area` (None: outside Scotland); the area left is kept on
        this notification's profile only. An address in Scotland ends a removal from it."""
        area = area if isinstance(area, str) or area is None else None
        home = self.facts.get("home_area", self.profile.home_area)
        if area != home:
            self.facts["left_home_area"] = home
            self.facts["home_area"] = area
        if area is not None:
            self.end("removed_from_scotland")

    def profile_after(self) -> PersonProfile:
        ordered = tuple(self.statuses[k] for k in STATUS_KINDS if k in self.statuses)
        return replace(self.profile, position=self.position, statuses=ordered, **self.facts)
