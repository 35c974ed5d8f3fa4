"""Statuses that outlive retention: Schedule 1 (life-long) and indefinite notification
requirements. Retention erases the data of the events that began them, and a refold of the
store no longer sees those events; `hub projections rebuild` therefore carries these statuses
over from the stored profiles, restoring each at the position of the event that began it, so
that the later events fold onto it as they did the first time (docs/retention.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from hub.domain.notifications import Notification
from hub.domain.person.authority import Authorities
from hub.domain.person.fold import apply
from hub.domain.person.profile import JSON_FORMAT, PersonProfile, ProfileFormatUnknown
from hub.domain.person.statuses import STATUS_KINDS, Status

#: The stored form before statuses had lifetimes: its Schedule 1 flag is carried over (it is
#: life-long in law); its registration flag is not (its period is not known).
_FORMAT_1: Final = 1


def must_survive(status: Status) -> bool:
    """Whether `status` must outlive the retention of the event that began it."""
    if status.kind == "schedule1":
        return True
    return (
        status.kind == "notification_requirements"
        and status.get("indefinite") is True
        and status.ends is None
        and status.closed_by is None
    )


def surviving_statuses(document: Mapping[str, Any]) -> tuple[str, tuple[Status, ...]]:
    """The person id of a stored profile and the statuses in it that must survive retention.
    Reads format 1 too, so that the rebuild after an upgrade keeps what it says."""
    person_id = str(document["person_id"])
    found = document.get("format")
    if found == JSON_FORMAT:
        statuses = (Status.from_json(s) for s in document.get("statuses", ()))
        return person_id, tuple(s for s in statuses if must_survive(s))
    if found == _FORMAT_1:
        if document.get("schedule1") is not True:
            return person_id, ()
        # Which event began it was not recorded: before every event still stored.
        carried = Status("schedule1", {"by": "profile format 1"}, position=0, set_by="hub")
        return person_id, (carried,)
    raise ProfileFormatUnknown(
        f"stored person profile of {person_id!r} has format {found!r}: neither {_FORMAT_1} "
        f"nor {JSON_FORMAT}"
    )


def restore(profile: PersonProfile | None, person_id: str, status: Status) -> PersonProfile:
    """`profile` with `status` carried over as it was, in place of any record of its kind."""
    if profile is None:
        return PersonProfile(person_id=person_id, position=status.position, statuses=(status,))
    kept = {s.kind: s for s in profile.statuses}
    kept[status.kind] = status
    ordered = tuple(kept[k] for k in STATUS_KINDS if k in kept)
    return replace(profile, statuses=ordered, position=max(profile.position, status.position))


def refold(
    person_id: str,
    stream: Iterable[tuple[int, Notification]],
    authorities: Authorities,
    survivors: Sequence[Status],
    *,
    through: int | None = None,
) -> PersonProfile | None:
    """One person's profile folded from what is left of their `stream` ((position,
    notification) in order), with the statuses that outlived retention restored at the position
    of the event that began each; `through`: only those that began at or before it."""
    pending = sorted(survivors, key=lambda s: s.position)
    profile: PersonProfile | None = None
    for position, notification in stream:
        while pending and pending[0].position < position:
            profile = restore(profile, person_id, pending.pop(0))
        profile = apply(profile, notification, position, person_id, authorities)
    while pending and (through is None or pending[0].position <= through):
        profile = restore(profile, person_id, pending.pop(0))
    return profile
