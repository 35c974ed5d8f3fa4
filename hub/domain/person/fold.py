"""The fold of a person's event stream into their profile: one function per event type
(`custody_folds`, `people_folds`), applied under the bundle's status authorities.

The fold is deterministic: the same stream and authorities always give the same profile, and
replaying it rebuilds it. Any type without a fold changes nothing but the profile's position
(and clears the facts only the notification that moved the person carries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from hub.domain.notifications import Notification
from hub.domain.person import custody_folds as custody
from hub.domain.person import people_folds as people
from hub.domain.person.authority import Authorities
from hub.domain.person.change import ProfileChange
from hub.domain.person.profile import IN_CUSTODY, PersonProfile


def _unchanged(change: ProfileChange) -> None:
    return None


FOLDS: Final[Mapping[str, Callable[[ProfileChange], None]]] = {
    "custody.admission": custody.admission,
    "custody.transfer": custody.transfer,
    "custody.liberation": custody.liberation,
    "custody.temporary-release": _unchanged,
    "release.schedule1-notification": custody.schedule1_notification,
    "licence.recall": custody.recall,
    "licence.varied": custody.licence_varied,
    "licence.expired": custody.licence_expired,
    "licence.breach-reported": _unchanged,
    "supervision.started": custody.supervision_started,
    "supervision.transferred": custody.supervision_transferred,
    "supervision.ended": custody.supervision_ended,
    "court.disposal": custody.court_disposal,
    "parole.decision": _unchanged,
    "sex-offender.registered": people.registered,
    "sex-offender.notification-changed": people.notification_changed,
    "sex-offender.requirements-ended": people.requirements_ended,
    "mappa.referral": people.mappa_referral,
    "mappa.level-changed": people.mappa_level_changed,
    "person.address-changed": people.address_changed,
    "person.missing": people.missing,
    "person.located": people.located,
    "person.died": people.died,
    "person.removed-from-scotland": people.removed_from_scotland,
    "risk.assessment-recorded": people.risk_assessment,
    "health.information-shared": people.health_information,
    "disclosure.overdue": _unchanged,
}
#: Every event type the fold knows.
KNOWN_TYPES: Final = frozenset(FOLDS)
#: Event types that can receive a person into an establishment (records follow the person).
ADMITTING_TYPES: Final = frozenset({"custody.admission", "custody.transfer"})


def apply(
    profile: PersonProfile | None,
    notification: Notification,
    position: int,
    person_id: str,
    authorities: Authorities,
) -> PersonProfile:
    """The profile once `notification`, stored at `position` in `person_id`'s stream, is applied
    under `authorities` (the bundle's `statuses.yaml`).

    Applying an event at or below the profile's position changes nothing (it is already in it),
    so a replay is harmless.
    """
    if profile is None:
        profile = PersonProfile(person_id=person_id, position=0)
    elif profile.person_id != person_id:
        raise ValueError(
            f"event {position} is about person {person_id}, not {profile.person_id} whose "
            "profile it was applied to"
        )
    if position <= profile.position:
        return profile
    change = ProfileChange(profile, notification, position, authorities)
    FOLDS.get(notification.type, _unchanged)(change)
    return change.profile_after()


def receiving_establishment(
    before: PersonProfile | None, after: PersonProfile, notification: Notification
) -> str | None:
    """The establishment this notification receives the person into, if it does.

    An admission (including a recall admission) or a transfer receives the person when they
    were not already held at that establishment: a transfer followed by the receiving prison's
    own `transfer-in` admission, or a repeated admission, receives them once.
    """
    if notification.type not in ADMITTING_TYPES:
        return None
    held = _held_at(after, notification.time)
    if held is None:
        return None
    if before is not None and _held_at(before, notification.time) == held:
        return None
    return held


def _held_at(profile: PersonProfile, as_of: datetime) -> str | None:
    custody = profile.active("custody", as_of)
    if custody is None or custody.get("custody_status") != IN_CUSTODY:
        return None
    establishment = custody.get("establishment")
    return establishment if isinstance(establishment, str) else None
