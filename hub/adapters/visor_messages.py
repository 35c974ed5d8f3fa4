"""ViSOR's messages, field by field: each body element (`MessageMap`), ViSOR's code lists, and
which canonical event it becomes. `adapters/visor/README.md` prints its mapping tables from these
and `adapters/visor/visor.xsd` follows them; `hub.adapters.visor` reads and writes the XML.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from hub.adapters.mapping import (
    Code,
    Date,
    DateTime,
    FieldMap,
    Integer,
    ListOf,
    MessageMap,
    Pattern,
    Text,
)


def _upper(values: Iterable[str]) -> Code:
    """One of ViSOR's enumerations: the canonical value in upper case with underscores."""
    return Code({canonical.upper().replace("-", "_"): canonical for canonical in values})


CATEGORY = Code({"A": "s10(1)(a)", "C": "s10(1)(c)", "D": "s10(1)(d)", "E": "s10(1)(e)"})
CATEGORY_GROUP = Code(
    {
        "RSO": "registered-sex-offender",
        "RP": "restricted-patient",
        "ROSH": "other-risk-of-serious-harm",
    }
)
RISK_LEVEL = _upper(("low", "medium", "high", "very-high"))
CHANGE = Code({"LEVEL": "level-change", "CATEGORY": "category-change", "DEREG": "deregistration"})
DEREGISTRATION_REASON = _upper(
    (
        "notification-requirements-ended",
        "restriction-ended",
        "supervision-ended",
        "risk-reduced",
        "moved-out-of-scotland",
        "died",
        "other",
    )
)
DECIDED_BY = Code(
    {
        "MAPPA": "mappa-meeting",
        "POLICE": "police-scotland",
        "LA": "local-authority",
        "HEALTH": "health-board",
        "SPS": "scottish-prison-service",
    }
)
AGENCY = Code(
    {
        "POLICE": "police-scotland",
        "LA": "local-authority",
        "HEALTH": "health-board",
        "SPS": "scottish-prison-service",
    }
)
REFERRAL_REASON = _upper(
    (
        "conviction-or-order",
        "pending-release",
        "hospital-leave-or-discharge",
        "increased-risk",
        "transfer-into-area",
        "review",
        "other",
    )
)
TOOL = Code(
    {
        "RM2000": "RM2000",
        "SA07": "SA07",
        "RA3": "RA3",
        "RA4": "RA4",
        "LSCMI": "LS/CMI",
        "SARN": "SARN",
        "OTHER": "other",
    }
)
MEASURE = Code(
    {"RECONVICTION": "risk-of-reconviction", "HARM": "risk-of-serious-harm", "NEEDS": "needs"}
)
ASSESSOR_AGENCY = Code({**AGENCY.table, "OTHER": "other"})
TRIGGER = _upper(
    (
        "failed-to-return-from-temporary-release",
        "absconded-from-open-estate",
        "escaped-from-custody",
        "failed-to-reside-at-approved-address",
        "failed-to-report-to-supervising-officer",
        "failed-to-comply-with-notification-requirements",
        "breach-of-curfew",
        "whereabouts-unknown",
        "other",
    )
)
LOCATED_OUTCOME = _upper(
    (
        "arrested",
        "returned-to-custody",
        "returned-to-approved-address",
        "admitted-to-hospital",
        "located-outside-scotland",
        "no-further-action",
        "other",
    )
)
REVOKING_AUTHORITY = Code({"SCOTTISH_MINISTERS": "scottish-ministers"})
STATUTORY_BASIS = Code({"S17_1_A": "s17(1)(a)", "S17_1_B": "s17(1)(b)", "S17A": "s17A"})
LICENCE_TYPE = _upper(
    (
        "parole",
        "non-parole",
        "extended-sentence",
        "life",
        "home-detention-curfew",
        "short-term-sex-offender",
    )
)
RECALL_REASON = _upper(
    (
        "further-offence-charged",
        "breach-of-licence-condition",
        "failure-to-report-to-supervising-officer",
        "failure-to-reside-at-approved-address",
        "whereabouts-unknown",
        "increased-risk-of-serious-harm",
        "curfew-breach",
        "other",
    )
)
CUSTODY_STATUS = _upper(("at-large", "in-custody"))
BASIS = _upper(("conviction", "civil-order", "breach-of-order"))
NOTIFIED_CHANGE = _upper(("address", "foreign-travel", "other"))
REQUIREMENTS_END_REASON = _upper(
    ("period-expired", "conviction-quashed", "discharged-on-review", "other")
)
ACCOMMODATION = _upper(
    (
        "private-tenancy-or-owned",
        "family-or-friends",
        "supported-accommodation",
        "local-authority-temporary",
        "no-fixed-abode",
        "other",
    )
)
CHILDREN_RESIDENT = _upper(("yes", "no", "unknown"))
#: A code, not a free flag: whether the requirements are indefinite is tied to their end date.
INDEFINITE = Code({"true": True, "false": False})

_CODE_TEXT = Text(max_length=30, free_text=False)
_DATE = Date("iso")
_LEVEL = Integer()
_COUNTRY = Text(max_length=2, free_text=False)

_FRAME_FIELDS: Final = (
    FieldMap(
        "Header/MessageId",
        "meta.message_id",
        Pattern(r"[A-Z0-9][A-Z0-9-]{0,39}", "VMSG-2024-0000123"),
        required=True,
    ),
    FieldMap("Header/RecordedAt", "time", DateTime(), required=True),
    FieldMap("Nominal/VisorRef", "identifiers.visor_ref", _CODE_TEXT, required=True),
    FieldMap("Nominal/PNC", "identifiers.pnc_id", _CODE_TEXT),
    FieldMap("Nominal/CRO", "identifiers.cro_number", _CODE_TEXT),
    FieldMap("Nominal/SPSNumber", "identifiers.sps_number", _CODE_TEXT),
    # ViSOR is shared with justice social work: the council's client id, as the hub qualifies
    # it (`<GSS code>:<client id>`), so that a disclosure loses no granted identifier.
    FieldMap("Nominal/SWClientId", "identifiers.sw_client_id", Text(80, free_text=False)),
)


def _body(body: str, *fields: tuple[str, str, Any, bool]) -> tuple[FieldMap, ...]:
    return (
        *_FRAME_FIELDS,
        *(FieldMap(f"{body}/{native}", path, codec, req) for native, path, codec, req in fields),
    )


def _referral_fields(body: str) -> tuple[FieldMap, ...]:
    return _body(
        body,
        ("Category", "data.category", CATEGORY, True),
        ("CategoryGroup", "data.category_group", CATEGORY_GROUP, True),
        ("Level", "data.level", _LEVEL, True),
        ("ReferringAgency", "data.referring_agency", AGENCY, True),
        ("ReferringCouncil", "data.referring_council_area", _CODE_TEXT, False),
        ("MappaArea", "data.mappa_area", _CODE_TEXT, True),
        ("ReferralDate", "data.referral_date", _DATE, True),
        ("Reason", "data.reason", REFERRAL_REASON, True),
        ("ReasonDetail", "data.reason_detail", Text(2000), False),
        ("RiskOfSeriousHarm", "data.risk_of_serious_harm", RISK_LEVEL, False),
    )


def _address(path: str, required: bool) -> tuple[tuple[str, str, Any, bool], ...]:
    """A notified address (`Address/...`), filling the canonical address at `path`."""
    return (
        ("Address/Council", f"{path}.council_area", _CODE_TEXT, required),
        ("Address/AccommodationType", f"{path}.accommodation_type", ACCOMMODATION, False),
        ("Address/Line", f"{path}.lines", ListOf(Text(100), max_items=5), False),
        ("Address/Postcode", f"{path}.postcode", Text(10, free_text=False), False),
        ("Address/ChildrenResident", f"{path}.children_resident", CHILDREN_RESIDENT, False),
    )


def _recall_fields(body: str) -> tuple[FieldMap, ...]:
    return _body(
        body,
        ("RevokingAuthority", "data.revoking_authority", REVOKING_AUTHORITY, True),
        ("StatutoryBasis", "data.statutory_basis", STATUTORY_BASIS, True),
        ("LicenceType", "data.licence_type", LICENCE_TYPE, True),
        ("RevocationDate", "data.revocation_date", _DATE, True),
        ("Reasons/Reason", "data.recall_reasons", ListOf(RECALL_REASON, 8, unique=True), True),
        ("ReasonDetail", "data.reason_detail", Text(2000), False),
        ("CustodyStatus", "data.custody_status", CUSTODY_STATUS, True),
        ("PoliceDivision", "data.police_division", _CODE_TEXT, False),
        ("SupervisingCouncil", "data.supervising_council_area", _CODE_TEXT, False),
        ("LiberatingEstablishment", "data.liberating_establishment", _CODE_TEXT, False),
    )


MESSAGES: Final[tuple[MessageMap, ...]] = (
    MessageMap(
        "NominalRegistration",
        "sex-offender.registered",
        _body(
            "NominalRegistration",
            ("RegistrationDate", "data.registration_date", _DATE, True),
            ("InitialNotificationDate", "data.initial_notification_date", _DATE, False),
            ("RequirementsEndDate", "data.requirements_end_date", _DATE, False),
            ("Indefinite", "data.indefinite", INDEFINITE, True),
            ("Basis", "data.basis", BASIS, True),
            *_address("data.address", required=True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
        note="A registration on ViSOR: the person is subject to the sex offender notification "
        "requirements (Sexual Offences Act 2003, Part 2), from when, until when or indefinitely, "
        "at which address. The police are the authority for this status; a PR2 marker does not "
        "override it. (Before issue 14 this message became a `mappa.referral`; the MAPPA part "
        "is now sent as a `MappaReferral`.)",
    ),
    MessageMap(
        "NotificationChange",
        "sex-offender.notification-changed",
        _body(
            "NotificationChange",
            ("ChangeType", "data.change", NOTIFIED_CHANGE, True),
            ("NotifiedDate", "data.notified_date", _DATE, True),
            *_address("data.address", required=False),
            ("Travel/DepartureDate", "data.travel.departure_date", _DATE, False),
            ("Travel/ReturnDate", "data.travel.return_date", _DATE, False),
            ("Travel/DestinationCountry", "data.travel.destination_country", _COUNTRY, False),
            ("Detail", "data.detail", Text(1000), False),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
        note="A change notified by a registered sex offender: a new address (`Address` required; "
        "it moves the person's home area) or foreign travel (`Travel` required).",
    ),
    MessageMap(
        "RequirementsEnded",
        "sex-offender.requirements-ended",
        _body(
            "RequirementsEnded",
            ("EndDate", "data.end_date", _DATE, True),
            ("Reason", "data.reason", REQUIREMENTS_END_REASON, True),
            ("Detail", "data.detail", Text(1000), False),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, False),
        ),
    ),
    MessageMap("MappaReferral", "mappa.referral", _referral_fields("MappaReferral")),
    MessageMap(
        "MappaLevelChange",
        "mappa.level-changed",
        _body(
            "MappaLevelChange",
            ("ChangeType", "data.change", CHANGE, True),
            ("Category", "data.category", CATEGORY, True),
            ("CategoryGroup", "data.category_group", CATEGORY_GROUP, True),
            ("PreviousCategory", "data.previous_category", CATEGORY, False),
            ("PreviousLevel", "data.previous_level", _LEVEL, True),
            ("NewLevel", "data.new_level", _LEVEL, False),
            ("DeregistrationReason", "data.deregistration_reason", DEREGISTRATION_REASON, False),
            ("MappaArea", "data.mappa_area", _CODE_TEXT, True),
            ("DecisionDate", "data.decision_date", _DATE, True),
            ("DecidedBy", "data.decided_by", DECIDED_BY, True),
            ("ReasonDetail", "data.reason_detail", Text(2000), False),
            ("RiskOfSeriousHarm", "data.risk_of_serious_harm", RISK_LEVEL, False),
        ),
    ),
    MessageMap(
        "RiskAssessment",
        "risk.assessment-recorded",
        _body(
            "RiskAssessment",
            ("Tool", "data.tool", TOOL, True),
            ("ToolName", "data.tool_name", Text(100), False),
            ("Measure", "data.measure", MEASURE, True),
            ("OutcomeLevel", "data.outcome_level", RISK_LEVEL, True),
            ("AssessmentDate", "data.assessment_date", _DATE, True),
            ("Assessor/Agency", "data.assessor.agency", ASSESSOR_AGENCY, True),
            ("Assessor/Role", "data.assessor.role", Text(100), True),
            ("Assessor/Council", "data.assessor.council_area", _CODE_TEXT, False),
            ("Summary", "data.summary", Text(4000), False),
            ("NextReviewDate", "data.next_review_date", _DATE, False),
        ),
    ),
    MessageMap(
        "MissingReport",
        "person.missing",
        _body(
            "MissingReport",
            ("MissingSince", "data.missing_since", DateTime(), True),
            ("ReportedAt", "data.reported_at", DateTime(), False),
            ("Trigger", "data.trigger", TRIGGER, True),
            ("LastKnownCouncil", "data.last_known_location.council_area", _CODE_TEXT, True),
            ("LastKnownPlace", "data.last_known_location.description", Text(200), False),
            ("Circumstances", "data.circumstances", Text(1000), True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
    ),
    MessageMap(
        "LocatedReport",
        "person.located",
        _body(
            "LocatedReport",
            ("LocatedAt", "data.located_at", DateTime(), True),
            ("Outcome", "data.outcome", LOCATED_OUTCOME, True),
            ("Council", "data.location.council_area", _CODE_TEXT, False),
            ("Place", "data.location.description", Text(200), False),
            ("Circumstances", "data.circumstances", Text(1000), True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
    ),
    MessageMap(
        "RecallReceipt",
        "licence.recall",
        _recall_fields("RecallReceipt"),
        outbound=False,
        note="The police record, on ViSOR, a recall notice they received from the Scottish "
        "Ministers (custody status, division). Sent as `licence.recall` with the police as "
        "source; the Ministers' own notification of the same recall has another source and id.",
    ),
    MessageMap(
        "RecallNotice",
        "licence.recall",
        _recall_fields("RecallNotice"),
        inbound=False,
        note="What the hub sends a police recipient when a licence is revoked.",
    ),
)
