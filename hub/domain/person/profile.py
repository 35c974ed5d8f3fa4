"""A person's profile: their status records and the facts that move with them, folded from
their event stream (`hub.domain.person.folds`), and the attributes a rule sees as of a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from hub.domain.person.statuses import Status

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
    "left_home_area",
    "release_area",
    "schedule1",
    "sex_offender_registered",
    "notification_requirements_end",
    "mappa_category",
    "mappa_category_group",
    "mappa_level",
    "mappa_area",
    "orosh",
    "restricted_patient",
    "on_licence",
    "licence_type",
    "licence_end",
    "statutory_supervision",
    "supervising_area",
    "left_supervising_area",
    "recalled",
    "missing",
    "deceased",
    "removed_from_scotland",
    "health_consent",
    "risk_level",
)
#: The version of the stored JSON form (`to_json`). Format 1 (flags that never ended) is not
#: read: `hub projections rebuild` folds the store again into format 2.
JSON_FORMAT: Final = 2
_ENDED_UNKNOWN: Final = frozenset({"person.died", "person.removed-from-scotland"})
_OROSH: Final = "other-risk-of-serious-harm"
_RESTRICTED_PATIENT: Final = "restricted-patient"


class ProfileFormatUnknown(ValueError):
    """A stored profile this code cannot read (an older format: rebuild the projections)."""


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

    `statuses` holds the latest record of each kind, ended or not, so that a rule judging an
    earlier time still sees it; `as_context(as_of=...)` says which are active then. `None`
    means no notification has said (so a rule's comparison on it is false, never true).
    """

    person_id: str
    position: int
    #: The latest record of each status kind, in `STATUS_KINDS` order.
    statuses: tuple[Status, ...] = ()
    home_area: str | None = None
    #: The area the notification at `position` moved the person out of (only on that profile).
    left_home_area: str | None = None
    release_area: str | None = None
    #: The council a `supervision.transferred` at `position` moved supervision from.
    left_supervising_area: str | None = None
    health_consent: bool | None = None
    risk_level: str | None = None
    #: The latest assessment of each tool, sorted by tool.
    risk_assessments: tuple[RiskAssessment, ...] = field(default=())

    def status(self, kind: str) -> Status | None:
        """The latest record of `kind`, ended or not."""
        return next((s for s in self.statuses if s.kind == kind), None)

    def active(self, kind: str, as_of: datetime) -> Status | None:
        """The record of `kind` if it is active as of `as_of`."""
        record = self.status(kind)
        return record if record is not None and record.active(as_of) else None

    def risk_assessment(self, tool: str) -> RiskAssessment | None:
        return next((a for a in self.risk_assessments if a.tool == tool), None)

    def as_context(self, *, as_of: datetime) -> dict[str, Any]:
        """The documented profile attributes a sharing rule may name, as of `as_of` (the
        notification's own time), without unknown ones."""
        values = _Context(self, as_of).values()
        return {name: values[name] for name in CONTEXT_ATTRIBUTES if values[name] is not None}

    def to_json(self) -> dict[str, Any]:
        """The profile as a JSON object, for storage."""
        facts = {
            "home_area": self.home_area,
            "left_home_area": self.left_home_area,
            "release_area": self.release_area,
            "left_supervising_area": self.left_supervising_area,
            "health_consent": self.health_consent,
            "risk_level": self.risk_level,
        }
        return {
            "format": JSON_FORMAT,
            "person_id": self.person_id,
            "position": self.position,
            "statuses": [s.to_json() for s in self.statuses],
            **{name: value for name, value in facts.items() if value is not None},
            "risk_assessments": [
                {k: v for k, v in _assessment_json(a).items() if v is not None}
                for a in self.risk_assessments
            ],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PersonProfile:
        """The profile `to_json` gave; ProfileFormatUnknown for another format."""
        found = document.get("format")
        if found != JSON_FORMAT:
            raise ProfileFormatUnknown(
                f"stored person profile of {document.get('person_id')!r} has format {found!r}, "
                f"not {JSON_FORMAT}: run `hub projections rebuild` (with the routers stopped) "
                "to fold the profiles again from the store"
            )
        return cls(
            person_id=document["person_id"],
            position=document["position"],
            statuses=tuple(Status.from_json(s) for s in document.get("statuses", ())),
            home_area=document.get("home_area"),
            left_home_area=document.get("left_home_area"),
            release_area=document.get("release_area"),
            left_supervising_area=document.get("left_supervising_area"),
            health_consent=document.get("health_consent"),
            risk_level=document.get("risk_level"),
            risk_assessments=tuple(
                RiskAssessment(
                    tool=a["tool"], level=a["level"], date=a["date"], measure=a.get("measure")
                )
                for a in document.get("risk_assessments", ())
            ),
        )


class _Context:
    """The attributes of one profile as of one time."""

    def __init__(self, profile: PersonProfile, as_of: datetime) -> None:
        self.profile = profile
        self.as_of = as_of

    def _state(self, kind: str) -> bool | None:
        """True while a record of `kind` is active, False once one has ended, else None."""
        record = self.profile.status(kind)
        return None if record is None else record.active(self.as_of)

    def _value(self, kind: str, key: str) -> Any:
        record = self.profile.active(kind, self.as_of)
        return None if record is None else record.get(key)

    def _end(self, kind: str) -> str | None:
        record = self.profile.active(kind, self.as_of)
        return None if record is None or record.closed_by is not None else record.ends

    def _mappa_group(self, group: str) -> bool | None:
        if self.profile.status("mappa") is None:
            return None
        return bool(self._value("mappa", "category_group") == group)

    def custody_status(self) -> str:
        missing = self.profile.active("missing", self.as_of)
        if missing is not None and missing.get("left_custody"):
            return UNLAWFULLY_AT_LARGE
        custody = self.profile.status("custody")
        if custody is None:
            return UNKNOWN
        if custody.active(self.as_of):
            return str(custody.get("custody_status") or IN_CUSTODY)
        return UNKNOWN if custody.closed_by in _ENDED_UNKNOWN else IN_COMMUNITY

    def values(self) -> dict[str, Any]:
        p = self.profile
        schedule1 = p.status("schedule1")
        return {
            "custody_status": self.custody_status(),
            "establishment": self._value("custody", "establishment"),
            "home_area": p.home_area,
            "left_home_area": p.left_home_area,
            "release_area": p.release_area,
            "schedule1": True if schedule1 is not None else None,
            "sex_offender_registered": self._state("notification_requirements"),
            "notification_requirements_end": self._end("notification_requirements"),
            "mappa_category": self._value("mappa", "category"),
            "mappa_category_group": self._value("mappa", "category_group"),
            "mappa_level": self._value("mappa", "level"),
            "mappa_area": self._value("mappa", "area"),
            "orosh": self._mappa_group(_OROSH),
            "restricted_patient": self._mappa_group(_RESTRICTED_PATIENT),
            "on_licence": self._state("licence"),
            "licence_type": self._value("licence", "licence_type"),
            "licence_end": self._end("licence"),
            "statutory_supervision": self._state("supervision"),
            "supervising_area": self._value("supervision", "supervising_area"),
            "left_supervising_area": p.left_supervising_area,
            "recalled": self._state("recalled"),
            "missing": self._state("missing"),
            "deceased": self._state("deceased"),
            "removed_from_scotland": self._state("removed_from_scotland"),
            "health_consent": p.health_consent,
            "risk_level": p.risk_level,
        }


def _assessment_json(assessment: RiskAssessment) -> dict[str, Any]:
    return {
        "tool": assessment.tool,
        "level": assessment.level,
        "date": assessment.date,
        "measure": assessment.measure,
    }
