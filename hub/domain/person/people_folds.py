"""How registration, MAPPA, moves, missing, end-of-life, risk and health notifications change
a profile.

- `sex-offender.registered`: notification requirements begin (ending on
  `requirements_end_date`; none when indefinite); home area moves to the registered address.
  `sex-offender.notification-changed` with an address moves the home area;
  `sex-offender.requirements-ended` ends the requirements.
- `mappa.referral`, `mappa.level-changed`: the MAPPA record (category paragraph and group,
  level, area), ended on deregistration. Category s10(1)(a) begins the notification
  requirements; a deregistration because they ended ends them (by authority). A stated risk of
  serious harm becomes the risk level. ORoSH and restricted patient are read off the active
  MAPPA record's category group (`PersonProfile.as_context`).
- `person.address-changed`: home area moves (any address in Scotland, here or in a registration
  or liberation, ends a removal from Scotland).
- `person.missing`: missing begins; if the person left custody (escape, absconding, failure to
  return), custody turns unlawfully at large from the establishment they left (still its
  prisoner in law). `person.located`: missing ends; in custody again when arrested or returned
  to custody (at the establishment known), custody over when returned to the approved address.
- `person.died`: deceased begins and every other status but the life-long Schedule 1 ends,
  whoever set it.
- `person.removed-from-scotland`: begins; custody and supervision end (whoever set them) and
  the home area is none.
- `risk.assessment-recorded`: the latest assessment of each tool by assessment date; a
  risk-of-serious-harm outcome is the risk level. `health.information-shared`: the consent.
"""

from __future__ import annotations

from typing import Final

from hub.domain.person.change import ProfileChange
from hub.domain.person.custody_folds import get
from hub.domain.person.profile import IN_CUSTODY, UNLAWFULLY_AT_LARGE, RiskAssessment
from hub.domain.person.statuses import STATUS_KINDS

_REGISTERED_SEX_OFFENDER_CATEGORY: Final = "s10(1)(a)"
_RISK_OF_SERIOUS_HARM: Final = "risk-of-serious-harm"
_LEFT_CUSTODY: Final = frozenset(
    {
        "failed-to-return-from-temporary-release",
        "absconded-from-open-estate",
        "escaped-from-custody",
    }
)


def registered(c: ProfileChange) -> None:
    indefinite = c.data.get("indefinite") is True
    c.begin(
        "notification_requirements",
        {"indefinite": indefinite, "basis": c.data.get("basis")},
        ends=None if indefinite else c.data.get("requirements_end_date"),
    )
    if get(c.data, "address", "council_area") is not None:
        c.move_home(get(c.data, "address", "council_area"))


def notification_changed(c: ProfileChange) -> None:
    if c.data.get("change") == "address" and get(c.data, "address", "council_area"):
        c.move_home(get(c.data, "address", "council_area"))


def requirements_ended(c: ProfileChange) -> None:
    c.end("notification_requirements")


def _risk_of_serious_harm(c: ProfileChange) -> None:
    if c.data.get("risk_of_serious_harm") is not None:
        c.facts["risk_level"] = c.data["risk_of_serious_harm"]


def mappa_referral(c: ProfileChange) -> None:
    c.begin(
        "mappa",
        {
            "category": c.data.get("category"),
            "category_group": c.data.get("category_group"),
            "level": c.data.get("level"),
            "area": c.data.get("mappa_area"),
        },
    )
    if c.data.get("category") == _REGISTERED_SEX_OFFENDER_CATEGORY:
        c.begin("notification_requirements", {"by": c.notification.type})
    _risk_of_serious_harm(c)


def mappa_level_changed(c: ProfileChange) -> None:
    if c.data.get("change") == "deregistration":
        c.end("mappa")
        if c.data.get("deregistration_reason") == "notification-requirements-ended":
            c.end("notification_requirements")
    else:
        c.change(
            "mappa",
            {
                "category": c.data.get("category"),
                "category_group": c.data.get("category_group"),
                "level": c.data.get("new_level"),
                "area": c.data.get("mappa_area"),
            },
        )
        if c.data.get("category") == _REGISTERED_SEX_OFFENDER_CATEGORY:
            c.begin("notification_requirements", {"by": c.notification.type})
    _risk_of_serious_harm(c)


def address_changed(c: ProfileChange) -> None:
    area = get(c.data, "new_address", "council_area")
    if area is not None:
        c.move_home(area)


def missing(c: ProfileChange) -> None:
    left_custody = c.data.get("trigger") in _LEFT_CUSTODY
    c.begin("missing", {"left_custody": left_custody, "trigger": c.data.get("trigger")})
    if left_custody:
        # Still a prisoner of the establishment they left, in law: custody is not over, it is
        # unlawfully at large from there (so the establishment is still told).
        c.change("custody", {"custody_status": UNLAWFULLY_AT_LARGE})


def located(c: ProfileChange) -> None:
    c.end("missing")
    outcome = c.data.get("outcome")
    if outcome in ("arrested", "returned-to-custody"):
        c.change("custody", {"custody_status": IN_CUSTODY})
    elif outcome == "returned-to-approved-address":
        c.end("custody")


def died(c: ProfileChange) -> None:
    c.begin("deceased", {"date_of_death": c.data.get("date_of_death")})
    for kind in STATUS_KINDS:
        if kind not in ("deceased", "schedule1"):
            c.end(kind, whatever_set_it=True)


def removed_from_scotland(c: ProfileChange) -> None:
    c.begin("removed_from_scotland", {"destination": c.data.get("destination")})
    c.end("custody", whatever_set_it=True)
    c.end("supervision", whatever_set_it=True)
    c.move_home(None)


def risk_assessment(c: ProfileChange) -> None:
    tool = c.data.get("tool")
    if tool == "other" and c.data.get("tool_name"):
        tool = c.data["tool_name"]
    level, date = c.data.get("outcome_level"), c.data.get("assessment_date")
    if not isinstance(tool, str) or not isinstance(level, str) or not isinstance(date, str):
        return
    latest = c.profile.risk_assessment(tool)
    if latest is not None and latest.date > date:  # ISO dates order as strings
        return
    assessment = RiskAssessment(tool=tool, level=level, date=date, measure=c.data.get("measure"))
    others = (a for a in c.profile.risk_assessments if a.tool != tool)
    c.facts["risk_assessments"] = tuple(sorted((*others, assessment), key=lambda a: a.tool))
    if assessment.measure == _RISK_OF_SERIOUS_HARM:
        c.facts["risk_level"] = level


def health_information(c: ProfileChange) -> None:
    given = get(c.data, "consent", "given")
    if isinstance(given, bool):
        c.facts["health_consent"] = given
