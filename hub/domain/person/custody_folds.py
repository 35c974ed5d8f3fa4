"""How custody, release, licence, recall and supervision notifications change a profile.

- `custody.admission`: custody begins at the establishment and any missing status ends. Its
  Schedule 1 marker begins the life-long Schedule 1 status; its sex offender marker begins the
  notification requirements when true and ends them when false, but only from a source ranking
  at least as high as the one that set them (a PR2 `N` never ends a ViSOR registration). A
  recall admission begins `recalled` and ends the licence and supervision. Offence text infers
  nothing: ORoSH is MAPPA's determination.
- `custody.transfer`: custody at the receiving establishment.
- `custody.liberation`: custody, `recalled` and `removed_from_scotland` end; home and release
  area move to the release address's council. A release on licence begins the licence (its type
  as recall and variation name it, ending on `licence.expiry_date`, none for a life licence)
  and supervision by the named council, ending with the licence.
- `release.schedule1-notification`: Schedule 1 begins; release area is the intended address's;
  held at the notifying establishment.
- `licence.recall`: `recalled` begins, licence and supervision end; custody: unlawfully at
  large when the person is at large, otherwise in custody (at the establishment already known).
- `licence.varied`: the licence type and, if given, its new expiry (and supervision that came
  with the licence ends with it). `licence.expired`: the licence ends, with such supervision.
- `supervision.started` / `.transferred` / `.ended`: supervision by a council (ending on
  `end_date`), moved to the new council (the old one is kept as `left_supervising_area` on the
  transfer's profile only), ended.
- `court.disposal`: a Schedule 1 offence begins Schedule 1; notification requirements imposed
  begin them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hub.domain.person.change import ProfileChange
from hub.domain.person.profile import IN_CUSTODY, UNLAWFULLY_AT_LARGE

#: Liberations that do not put the person on a licence or supervised release order.
_UNSUPERVISED_RELEASES: Final = frozenset(
    {"end-of-sentence", "bail-or-liberation-from-remand", "other"}
)
#: A liberation's release type as the licence type that recall, variation and expiry name.
_LICENCE_TYPES: Final = {
    "parole-licence": "parole",
    "non-parole-licence": "non-parole",
    "extended-sentence-licence": "extended-sentence",
    "life-licence": "life",
    "home-detention-curfew": "home-detention-curfew",
    "short-term-sex-offender-licence": "short-term-sex-offender",
}
#: Supervision that a liberation on licence began: it ends with the licence.
WITH_LICENCE: Final = "licence"


def get(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def admission(c: ProfileChange) -> None:
    c.begin("custody", {"custody_status": IN_CUSTODY, "establishment": c.data.get("establishment")})
    c.end("missing")
    if c.data.get("schedule1_offender") is True and c.active("schedule1") is None:
        c.begin("schedule1", {"by": c.notification.type})
    marker = c.data.get("sex_offender_notification")
    if marker is True:
        c.begin("notification_requirements", {"by": c.notification.type})
    elif marker is False:
        c.end("notification_requirements")
    if c.data.get("admission_reason") == "recall":
        c.begin("recalled")
        c.end("licence")
        c.end("supervision")


def transfer(c: ProfileChange) -> None:
    c.begin(
        "custody", {"custody_status": IN_CUSTODY, "establishment": c.data.get("to_establishment")}
    )


def liberation(c: ProfileChange) -> None:
    c.end("custody")
    c.end("recalled")
    c.end("removed_from_scotland")
    area = get(c.data, "release_address", "council_area")
    c.move_home(area)
    c.facts["release_area"] = area
    release_type = c.data.get("release_type")
    if release_type in _UNSUPERVISED_RELEASES:
        return
    expiry = get(c.data, "licence", "expiry_date")
    licence_type = _LICENCE_TYPES.get(str(release_type), release_type)
    c.begin("licence", {"licence_type": licence_type}, ends=expiry)
    council = c.data.get("supervising_council_area")
    if council is not None:
        c.begin(
            "supervision",
            {"supervising_area": council, "order_type": WITH_LICENCE},
            ends=expiry,
        )


def schedule1_notification(c: ProfileChange) -> None:
    if c.active("schedule1") is None:
        c.begin("schedule1", {"by": c.notification.type})
    c.facts["release_area"] = get(c.data, "release", "address", "council_area")
    establishment = c.data.get("notifying_establishment")
    if establishment is not None:
        c.begin("custody", {"custody_status": IN_CUSTODY, "establishment": establishment})


def recall(c: ProfileChange) -> None:
    c.begin("recalled")
    c.end("licence")
    c.end("supervision")
    if c.data.get("custody_status") == "at-large":
        c.begin("custody", {"custody_status": UNLAWFULLY_AT_LARGE, "establishment": None})
    else:  # already back in custody: where they are held, if known, stays known
        c.change("custody", {"custody_status": IN_CUSTODY})


def _with_licence(c: ProfileChange) -> bool:
    supervision = c.active("supervision")
    return supervision is not None and supervision.get("order_type") == WITH_LICENCE


def _licence_supervision_ends(c: ProfileChange, ends: str | None) -> None:
    if ends is not None and _with_licence(c):
        c.change("supervision", {}, ends=ends)


def licence_varied(c: ProfileChange) -> None:
    ends = c.data.get("new_expiry_date")
    if c.active("licence") is not None and c.change(
        "licence", {"licence_type": c.data.get("licence_type")}, ends=ends
    ):
        _licence_supervision_ends(c, ends)


def licence_expired(c: ProfileChange) -> None:
    if c.end("licence") and _with_licence(c):
        c.end("supervision")


def supervision_started(c: ProfileChange) -> None:
    c.begin(
        "supervision",
        {
            "supervising_area": c.data.get("supervising_council_area"),
            "order_type": c.data.get("order_type"),
        },
        ends=c.data.get("end_date"),
    )


def supervision_transferred(c: ProfileChange) -> None:
    current = c.active("supervision")
    left = current.get("supervising_area") if current is not None else None
    if c.change("supervision", {"supervising_area": c.data.get("to_council_area")}):
        c.facts["left_supervising_area"] = left or c.data.get("from_council_area")


def supervision_ended(c: ProfileChange) -> None:
    c.end("supervision")


def court_disposal(c: ProfileChange) -> None:
    if c.data.get("schedule1_offence") is True and c.active("schedule1") is None:
        c.begin("schedule1", {"by": c.notification.type})
    if c.data.get("notification_requirements_imposed") is True:
        c.begin("notification_requirements", {"by": c.notification.type})
