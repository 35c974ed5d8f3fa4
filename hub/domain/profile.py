"""A person's profile: what the hub knows about them now, folded from their event stream.

The policy engine judges every notification against the person's profile as it stood once that
notification was applied (`profile.<attribute>` in a sharing rule), so the fold must be
deterministic: the same stream always gives the same profile, and replaying it rebuilds it.

How each event type changes the profile, and why:

- `custody.admission`: in custody at the establishment. Schedule 1 status is life-long, so once
  true it stays true. Sex offender registration is the current notification requirement (it can
  end). A conviction for a violent offence (any admission but remand, which lists charges only)
  makes the person a violent offender. A recall admission marks the person recalled, off licence.
- `custody.transfer`: in custody at the receiving establishment.
- `custody.temporary-release`: still a prisoner of the establishment; nothing changes.
- `custody.liberation`: in the community, at the release address's council area (home and
  release area); on licence for every release but end of sentence, remand liberation and other;
  supervised by the named council (none without a licence); no longer recalled.
- `release.schedule1-notification`: a Schedule 1 offender, held at the notifying establishment,
  to be released to the intended address's council area.
- `licence.recall`: licence revoked and recalled; unlawfully at large until arrested, otherwise
  in custody (not yet at a known establishment).
- `mappa.referral`, `mappa.level-changed`: MAPPA category, level and area (cleared on
  deregistration); category s10(1)(a) means a registered sex offender, and the end of the
  notification requirements ends it. A stated risk of serious harm becomes the risk level.
- `risk.assessment-recorded`: the latest assessment of each tool (by assessment date, so that a
  late-arriving older assessment does not replace a newer one); a risk-of-serious-harm outcome
  becomes the risk level.
- `person.missing`: unlawfully at large if the person left custody (escape, absconding, failure
  to return from temporary release); otherwise a missing person's status is unchanged.
- `person.located`: in custody when arrested or returned to custody, in the community when
  returned to the approved address.
- `health.information-shared`: the consent decision it records, if any.
- `disclosure.overdue` (written by the hub when a recipient has not acknowledged a disclosure in
  time): nothing changes; it says something about the recipient, not the person.

Any other type changes nothing but the profile's position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from hub.domain.notifications import Notification

IN_CUSTODY: Final = "in-custody"
IN_COMMUNITY: Final = "in-community"
UNLAWFULLY_AT_LARGE: Final = "unlawfully-at-large"
UNKNOWN: Final = "unknown"
CUSTODY_STATUSES: Final = (IN_CUSTODY, IN_COMMUNITY, UNLAWFULLY_AT_LARGE, UNKNOWN)

#: The attributes a sharing rule may name as `profile.<attribute>` (policies/README.md).
CONTEXT_ATTRIBUTES: Final = (
    "custody_status",
    "establishment",
    "home_area",
    "release_area",
    "schedule1",
    "sex_offender_registered",
    "violent_offender",
    "mappa_category",
    "mappa_level",
    "mappa_area",
    "supervising_area",
    "health_consent",
    "risk_level",
    "on_licence",
    "recalled",
)

#: Event types that can receive a person into an establishment (records follow the person).
ADMITTING_TYPES: Final = frozenset({"custody.admission", "custody.transfer"})

#: Liberations that do not put the person on a licence or supervised release order.
_UNSUPERVISED_RELEASES: Final = frozenset(
    {"end-of-sentence", "bail-or-liberation-from-remand", "other"}
)
#: Ways of going missing that take a person out of custody without lawful authority.
_LEFT_CUSTODY: Final = frozenset(
    {
        "failed-to-return-from-temporary-release",
        "absconded-from-open-estate",
        "escaped-from-custody",
    }
)
_REGISTERED_SEX_OFFENDER_CATEGORY: Final = "s10(1)(a)"
_RISK_OF_SERIOUS_HARM: Final = "risk-of-serious-harm"
#: The version of the stored JSON form (`to_json`), so that a later shape can read older rows.
_JSON_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The latest outcome of one assessment tool (RM2000, SA07, RA3, …; "other" tools by name)."""

    tool: str
    level: str
    date: str
    measure: str | None = None


@dataclass(frozen=True, slots=True)
class PersonProfile:
    """What the hub knows about one person as of `position`, the last event applied.

    `None` means no notification has said (so a rule's comparison on it is false, never true).
    """

    person_id: str
    position: int
    custody_status: str = UNKNOWN
    establishment: str | None = None
    home_area: str | None = None
    release_area: str | None = None
    schedule1: bool | None = None
    sex_offender_registered: bool | None = None
    violent_offender: bool | None = None
    mappa_category: str | None = None
    mappa_level: int | None = None
    mappa_area: str | None = None
    supervising_area: str | None = None
    health_consent: bool | None = None
    risk_level: str | None = None
    on_licence: bool | None = None
    recalled: bool | None = None
    #: The latest assessment of each tool, sorted by tool.
    risk_assessments: tuple[RiskAssessment, ...] = field(default=())

    def risk_assessment(self, tool: str) -> RiskAssessment | None:
        return next((a for a in self.risk_assessments if a.tool == tool), None)

    def as_context(self) -> dict[str, Any]:
        """The documented profile attributes a sharing rule may name, without unknown ones."""
        values = {name: getattr(self, name) for name in CONTEXT_ATTRIBUTES}
        return {name: value for name, value in values.items() if value is not None}

    def to_json(self) -> dict[str, Any]:
        """The profile as a JSON object, for storage."""
        document: dict[str, Any] = {
            "format": _JSON_FORMAT,
            "person_id": self.person_id,
            "position": self.position,
        }
        document.update(self.as_context())
        document["risk_assessments"] = [
            {k: v for k, v in _assessment_json(a).items() if v is not None}
            for a in self.risk_assessments
        ]
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PersonProfile:
        """The profile `to_json` gave; ValueError for a format this code does not know."""
        if document.get("format") != _JSON_FORMAT:
            raise ValueError(f"unknown person profile format {document.get('format')!r}")
        attributes = {name: document[name] for name in CONTEXT_ATTRIBUTES if name in document}
        assessments = tuple(
            RiskAssessment(
                tool=a["tool"], level=a["level"], date=a["date"], measure=a.get("measure")
            )
            for a in document.get("risk_assessments", ())
        )
        return cls(
            person_id=document["person_id"],
            position=document["position"],
            risk_assessments=assessments,
            **attributes,
        )


def apply(
    profile: PersonProfile | None, notification: Notification, position: int, person_id: str
) -> PersonProfile:
    """The profile once `notification`, stored at `position` in `person_id`'s stream, is applied.

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
    fold = _FOLDS.get(notification.type)
    changes = fold(profile, notification.data) if fold is not None else {}
    return replace(profile, position=position, **changes)


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
    if after.custody_status != IN_CUSTODY or after.establishment is None:
        return None
    if (
        before is not None
        and before.custody_status == IN_CUSTODY
        and before.establishment == after.establishment
    ):
        return None
    return after.establishment


# -- the folds, one per event type: (profile, data) -> the attributes that change --------------

Changes = dict[str, Any]


def _admission(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    reason = data.get("admission_reason")
    categories = data.get("offence_categories") or ()
    changes: Changes = {
        "custody_status": IN_CUSTODY,
        "establishment": data.get("establishment"),
        "schedule1": bool(profile.schedule1) or bool(data.get("schedule1_offender")),
    }
    if "sex_offender_notification" in data:
        changes["sex_offender_registered"] = bool(data["sex_offender_notification"])
    if reason != "remand":
        changes["violent_offender"] = bool(profile.violent_offender) or "violent" in categories
    if reason == "recall":
        changes.update(recalled=True, on_licence=False)
    return changes


def _transfer(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    return {"custody_status": IN_CUSTODY, "establishment": data.get("to_establishment")}


def _liberation(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    area = _get(data, "release_address", "council_area")
    supervised = data.get("release_type") not in _UNSUPERVISED_RELEASES
    return {
        "custody_status": IN_COMMUNITY,
        "establishment": None,
        "home_area": area,
        "release_area": area,
        "supervising_area": data.get("supervising_council_area") if supervised else None,
        "on_licence": supervised,
        "recalled": False,
    }


def _schedule1_notification(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    changes: Changes = {
        "schedule1": True,
        "release_area": _get(data, "release", "address", "council_area"),
    }
    if data.get("notifying_establishment") is not None:
        changes.update(custody_status=IN_CUSTODY, establishment=data["notifying_establishment"])
    return changes


def _recall(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    changes: Changes = {"recalled": True, "on_licence": False}
    if data.get("custody_status") == "at-large":
        changes.update(custody_status=UNLAWFULLY_AT_LARGE, establishment=None)
    else:
        changes["custody_status"] = IN_CUSTODY
    if data.get("supervising_council_area") is not None:
        changes["supervising_area"] = data["supervising_council_area"]
    return changes


def _mappa_referral(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    changes: Changes = {
        "mappa_category": data.get("category"),
        "mappa_level": data.get("level"),
        "mappa_area": data.get("mappa_area"),
    }
    if data.get("category") == _REGISTERED_SEX_OFFENDER_CATEGORY:
        changes["sex_offender_registered"] = True
    if data.get("risk_of_serious_harm") is not None:
        changes["risk_level"] = data["risk_of_serious_harm"]
    return changes


def _mappa_level_changed(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    changes: Changes
    if data.get("change") == "deregistration":
        changes = {"mappa_category": None, "mappa_level": None, "mappa_area": None}
        if data.get("deregistration_reason") == "notification-requirements-ended":
            changes["sex_offender_registered"] = False
    else:
        changes = {
            "mappa_category": data.get("category"),
            "mappa_level": data.get("new_level"),
            "mappa_area": data.get("mappa_area"),
        }
        if data.get("category") == _REGISTERED_SEX_OFFENDER_CATEGORY:
            changes["sex_offender_registered"] = True
    if data.get("risk_of_serious_harm") is not None:
        changes["risk_level"] = data["risk_of_serious_harm"]
    return changes


def _risk_assessment(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    tool = data.get("tool")
    if tool == "other" and data.get("tool_name"):
        tool = data["tool_name"]
    level, date = data.get("outcome_level"), data.get("assessment_date")
    if not isinstance(tool, str) or not isinstance(level, str) or not isinstance(date, str):
        return {}
    latest = profile.risk_assessment(tool)
    if latest is not None and latest.date > date:  # ISO dates order as strings
        return {}
    assessment = RiskAssessment(tool=tool, level=level, date=date, measure=data.get("measure"))
    others = (a for a in profile.risk_assessments if a.tool != tool)
    changes: Changes = {
        "risk_assessments": tuple(sorted((*others, assessment), key=lambda a: a.tool))
    }
    if assessment.measure == _RISK_OF_SERIOUS_HARM:
        changes["risk_level"] = level
    return changes


def _missing(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    if data.get("trigger") in _LEFT_CUSTODY:
        return {"custody_status": UNLAWFULLY_AT_LARGE}
    return {}


def _located(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    outcome = data.get("outcome")
    if outcome in ("arrested", "returned-to-custody"):
        return {"custody_status": IN_CUSTODY}
    if outcome == "returned-to-approved-address":
        return {"custody_status": IN_COMMUNITY}
    return {}


def _health_information(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    given = _get(data, "consent", "given")
    return {"health_consent": given} if isinstance(given, bool) else {}


def _unchanged(profile: PersonProfile, data: Mapping[str, Any]) -> Changes:
    return {}


_FOLDS: Final[Mapping[str, Callable[[PersonProfile, Mapping[str, Any]], Changes]]] = {
    "custody.admission": _admission,
    "custody.transfer": _transfer,
    "custody.liberation": _liberation,
    "custody.temporary-release": _unchanged,
    "release.schedule1-notification": _schedule1_notification,
    "licence.recall": _recall,
    "mappa.referral": _mappa_referral,
    "mappa.level-changed": _mappa_level_changed,
    "risk.assessment-recorded": _risk_assessment,
    "person.missing": _missing,
    "person.located": _located,
    "health.information-shared": _health_information,
    "disclosure.overdue": _unchanged,
}
#: Every event type the fold knows (any other changes nothing but the profile's position).
KNOWN_TYPES: Final = frozenset(_FOLDS)


def _get(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _assessment_json(assessment: RiskAssessment) -> dict[str, Any]:
    return {
        "tool": assessment.tool,
        "level": assessment.level,
        "date": assessment.date,
        "measure": assessment.measure,
    }
