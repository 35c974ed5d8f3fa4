"""The council justice social work case system's messages, field by field: each kind of
record (`MessageMap`), its code lists, and which canonical event it becomes. The README
(`adapters/socialwork/README.md`) prints its mapping tables from these; `hub.adapters.socialwork`
reads and writes the two native forms with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from hub.adapters.mapping import (
    Code,
    Date,
    DateTime,
    FieldMap,
    Integer,
    ListOf,
    MessageMap,
    Objects,
    Part,
    Pattern,
    Text,
)

#: Councils by their current GSS code: the prefix of a social work client id (events/README).
COUNCILS: Final = (
    "S12000005", "S12000006", "S12000008", "S12000010", "S12000011", "S12000013", "S12000014",
    "S12000017", "S12000018", "S12000019", "S12000020", "S12000021", "S12000023", "S12000026",
    "S12000027", "S12000028", "S12000029", "S12000030", "S12000033", "S12000034", "S12000035",
    "S12000036", "S12000038", "S12000039", "S12000040", "S12000041", "S12000042", "S12000045",
    "S12000047", "S12000048", "S12000049", "S12000050",
)  # fmt: skip

#: Native messages the hub has no canonical event type for: refused, and why. (Supervision
#: start was one until issue 14 gave it `supervision.started`.)
UNMAPPED: Final[Mapping[str, str]] = {}


def _snake(values: Iterable[str]) -> Code:
    """One of the case system's code lists: the canonical value with underscores."""
    return Code({value.replace("-", "_"): value for value in values})


COUNCIL = Code({code: code for code in COUNCILS})
CATEGORY = Code(
    {
        "10(1)(a)": "s10(1)(a)",
        "10(1)(c)": "s10(1)(c)",
        "10(1)(d)": "s10(1)(d)",
        "10(1)(e)": "s10(1)(e)",
    }
)
CATEGORY_GROUP = _snake(
    ("registered-sex-offender", "restricted-patient", "other-risk-of-serious-harm")
)
RISK_LEVEL = _snake(("low", "medium", "high", "very-high"))
AGENCY = _snake(("police-scotland", "local-authority", "health-board", "scottish-prison-service"))
REFERRAL_REASON = _snake(
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
NOTIFYING_AGENCY = Code(
    {"sps": "scottish-prison-service", "prison_social_work": "prison-based-social-work"}
)
RELEASE_KIND = _snake(("possible", "planned"))
RELEASE_BASIS = _snake(
    (
        "end-of-sentence",
        "parole-licence",
        "non-parole-licence",
        "extended-sentence-licence",
        "life-licence",
        "home-detention-curfew",
        "short-term-sex-offender-licence",
        "bail-or-liberation-from-remand",
    )
)
ACCOMMODATION = _snake(
    (
        "private-tenancy-or-owned",
        "family-or-friends",
        "supported-accommodation",
        "local-authority-temporary",
        "no-fixed-abode",
        "other",
    )
)
CHILDREN_RESIDENT = _snake(("yes", "no", "unknown"))
VICTIM_AGE = Code({"under_13": "under-13", "13_to_15": "13-to-15", "16": "16"})
TOOL = Code(
    {
        "RM2000": "RM2000",
        "SA07": "SA07",
        "RA3": "RA3",
        "RA4": "RA4",
        "LSCMI": "LS/CMI",
        "SARN": "SARN",
        "other": "other",
    }
)
MEASURE = _snake(("risk-of-reconviction", "risk-of-serious-harm", "needs"))
ASSESSOR_AGENCY = _snake(
    ("police-scotland", "local-authority", "scottish-prison-service", "health-board", "other")
)

ORDER_TYPE = _snake(
    (
        "community-payback-order",
        "supervised-release-order",
        "drug-treatment-and-testing-order",
        "extended-sentence-licence",
        "other",
    )
)
IMPOSED_BY = _snake(("court", "scottish-ministers", "parole-board"))
SUPERVISION_END_REASON = _snake(
    ("completed", "revoked", "transferred-out-of-scotland", "died", "other")
)
LICENCE_TYPE = _snake(
    (
        "parole",
        "non-parole",
        "extended-sentence",
        "life",
        "home-detention-curfew",
        "short-term-sex-offender",
    )
)
LICENCE_CONDITION = _snake(
    (
        "reside-at-approved-address",
        "report-to-supervising-officer",
        "curfew",
        "electronic-monitoring",
        "no-unsupervised-contact-with-children",
        "no-contact-with-named-persons",
        "exclusion-zone",
        "attend-offending-behaviour-programme",
        "psychiatric-assessment-or-treatment",
        "substance-use-testing-or-treatment",
        "employment-or-activity-restriction",
        "internet-or-device-restriction",
        "other",
    )
)
RECOMMENDATION = _snake(("recall", "warning", "no-action"))

_CODE_TEXT = Text(max_length=30, free_text=False)
_DATE = Date("iso")

_FRAME_FIELDS: Final = (
    FieldMap(
        "recordId",
        "meta.record_id",
        Pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", "GCC-MR-2023-000118"),
        required=True,
    ),
    FieldMap("council", "meta.council", COUNCIL, required=True),
    FieldMap("recordedAt", "time", DateTime(), required=True),
    FieldMap(
        "client/clientId",
        "identifiers.sw_client_id",
        Pattern(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}", "CJ-10234"),
    ),
    FieldMap("client/pncId", "identifiers.pnc_id", _CODE_TEXT),
    FieldMap("client/croNumber", "identifiers.cro_number", _CODE_TEXT),
    FieldMap("client/spsNumber", "identifiers.sps_number", _CODE_TEXT),
    FieldMap("client/visorRef", "identifiers.visor_ref", _CODE_TEXT),
)


def _body(body: str, *fields: tuple[str, str, Any, bool]) -> tuple[FieldMap, ...]:
    return (
        *_FRAME_FIELDS,
        *(FieldMap(f"{body}/{native}", path, codec, req) for native, path, codec, req in fields),
    )


_ASSESSMENT_COMMON: Final = (
    ("summary", "data.summary", Text(4000), False),
    ("nextReviewDate", "data.next_review_date", _DATE, False),
)

_COUNCIL_TEXT = _CODE_TEXT

SUPERVISION_MESSAGES: Final = (
    MessageMap(
        "SupervisionStart",
        "supervision.started",
        _body(
            "supervision",
            ("orderType", "data.order_type", ORDER_TYPE, True),
            ("imposedBy", "data.imposed_by", IMPOSED_BY, True),
            ("supervisingCouncil", "data.supervising_council_area", _COUNCIL_TEXT, True),
            ("startDate", "data.start_date", _DATE, True),
            ("endDate", "data.end_date", _DATE, False),
        ),
        note="Statutory supervision of a community order or licence began (version 2).",
    ),
    MessageMap(
        "SupervisionEnd",
        "supervision.ended",
        _body(
            "supervision",
            ("orderType", "data.order_type", ORDER_TYPE, False),
            ("supervisingCouncil", "data.supervising_council_area", _COUNCIL_TEXT, True),
            ("endDate", "data.end_date", _DATE, True),
            ("endReason", "data.reason", SUPERVISION_END_REASON, True),
        ),
        note="Supervision ended: completed, revoked, passed outside Scotland, or the person "
        "died (version 2).",
    ),
    MessageMap(
        "SupervisionTransfer",
        "supervision.transferred",
        _body(
            "supervision",
            ("orderType", "data.order_type", ORDER_TYPE, False),
            ("fromCouncil", "data.from_council_area", _COUNCIL_TEXT, True),
            ("toCouncil", "data.to_council_area", _COUNCIL_TEXT, True),
            ("effectiveDate", "data.effective_date", _DATE, True),
        ),
        note="Supervision passed to another council's justice social work service; either "
        "council may send it (version 2).",
    ),
    MessageMap(
        "BreachReport",
        "licence.breach-reported",
        _body(
            "breach",
            ("reportDate", "data.report_date", _DATE, True),
            ("breachDate", "data.breach_date", _DATE, True),
            ("supervisingCouncil", "data.supervising_council_area", _COUNCIL_TEXT, True),
            ("licenceType", "data.licence_type", LICENCE_TYPE, True),
            (
                "conditionsBreached",
                "data.conditions_breached",
                Objects(
                    (
                        Part("code", "type", LICENCE_CONDITION, required=True),
                        Part("detail", "detail", Text(1000)),
                    )
                ),
                True,
            ),
            ("recommendation", "data.recommendation", RECOMMENDATION, True),
            ("riskSummary", "data.risk_summary", Text(4000), True),
        ),
        note="A breach of licence conditions reported to the Scottish Ministers, who decide on "
        "recall (version 2).",
    ),
)

MESSAGES: Final[tuple[MessageMap, ...]] = (
    MessageMap(
        "MappaReferral",
        "mappa.referral",
        _body(
            "referral",
            ("category", "data.category", CATEGORY, True),
            ("categoryGroup", "data.category_group", CATEGORY_GROUP, True),
            ("level", "data.level", Integer(), True),
            ("referringAgency", "data.referring_agency", AGENCY, True),
            ("referringCouncil", "data.referring_council_area", _CODE_TEXT, False),
            ("mappaArea", "data.mappa_area", _CODE_TEXT, True),
            ("referralDate", "data.referral_date", _DATE, True),
            ("reason", "data.reason", REFERRAL_REASON, True),
            ("reasonDetail", "data.reason_detail", Text(2000), False),
            ("riskOfSeriousHarm", "data.risk_of_serious_harm", RISK_LEVEL, False),
        ),
    ),
    MessageMap(
        "Schedule1Notification",
        "release.schedule1-notification",
        _body(
            "notification",
            ("establishment", "data.notifying_establishment", _CODE_TEXT, True),
            ("notifyingAgency", "data.notifying_agency", NOTIFYING_AGENCY, True),
            ("notificationDate", "data.notification_date", _DATE, True),
            ("release/type", "data.release.type", RELEASE_KIND, True),
            ("release/expectedDate", "data.release.expected_date", _DATE, True),
            ("release/basis", "data.release.basis", RELEASE_BASIS, False),
            ("release/address/council", "data.release.address.council_area", _CODE_TEXT, True),
            (
                "release/address/accommodationType",
                "data.release.address.accommodation_type",
                ACCOMMODATION,
                True,
            ),
            ("release/address/lines", "data.release.address.lines", ListOf(Text(100), 5), False),
            ("release/address/postcode", "data.release.address.postcode", _CODE_TEXT, False),
            (
                "release/address/childrenResident",
                "data.release.address.children_resident",
                CHILDREN_RESIDENT,
                False,
            ),
            (
                "offences",
                "data.schedule1_offences",
                Objects(
                    (
                        Part("paragraph", "schedule1_paragraph", _CODE_TEXT, required=True),
                        Part("victimAge", "victim_age_category", VICTIM_AGE, required=True),
                        Part("convictionDate", "conviction_date", _DATE),
                        Part("description", "description", Text(200)),
                    )
                ),
                True,
            ),
        ),
        note="The statutory notice of a Schedule 1 offender's possible or planned release, "
        "from prison-based social work (inspection 4.22).",
    ),
    MessageMap(
        "RiskAssessment",
        "risk.assessment-recorded",
        _body(
            "assessment",
            ("tool", "data.tool", TOOL, True),
            ("toolName", "data.tool_name", Text(100), False),
            ("measure", "data.measure", MEASURE, True),
            ("outcomeLevel", "data.outcome_level", RISK_LEVEL, True),
            ("assessmentDate", "data.assessment_date", _DATE, True),
            ("assessor/agency", "data.assessor.agency", ASSESSOR_AGENCY, True),
            ("assessor/role", "data.assessor.role", Text(100), True),
            ("assessor/council", "data.assessor.council_area", _CODE_TEXT, False),
            *_ASSESSMENT_COMMON,
        ),
    ),
    MessageMap(
        "HomeBackgroundReport",
        "risk.assessment-recorded",
        (
            *_body(
                "report",
                ("submittedDate", "data.assessment_date", _DATE, True),
                ("assessedRisk", "data.outcome_level", RISK_LEVEL, True),
                ("author/role", "data.assessor.role", Text(100), True),
                *_ASSESSMENT_COMMON,
            ),
            FieldMap("council", "data.assessor.council_area", COUNCIL),
        ),
        constants={
            "data.tool": "other",
            "data.tool_name": "Home background report",
            "data.measure": "risk-of-serious-harm",
            "data.assessor.agency": "local-authority",
        },
        outbound=False,
        note="The hub has no event type for reports. A home background report (for home leave, "
        "parole or release planning) records the community social worker's assessment of risk "
        "at the proposed address, so it is sent as the nearest type, a risk assessment by the "
        "council with tool `other`. A report without `assessedRisk` is refused.",
    ),
    *SUPERVISION_MESSAGES,
)
#: The export columns of version 1, before the supervision and breach records (issue 14).
CSV_COLUMNS_V1_TYPES: Final = (
    "MappaReferral",
    "Schedule1Notification",
    "RiskAssessment",
    "HomeBackgroundReport",
)
#: The body object of each message kind (and the prefix its CSV columns drop).
BODY_PREFIX: Final = {
    "MappaReferral": "referral/",
    "Schedule1Notification": "notification/",
    "RiskAssessment": "assessment/",
    "HomeBackgroundReport": "report/",
    "SupervisionStart": "supervision/",
    "SupervisionEnd": "supervision/",
    "SupervisionTransfer": "supervision/",
    "BreachReport": "breach/",
}
