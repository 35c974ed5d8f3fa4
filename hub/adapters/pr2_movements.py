"""PR2's movements, field by field: each movement code (`MessageMap`), PR2's code lists, and which
canonical event it becomes. `adapters/pr2/README.md` prints its mapping tables from these;
`hub.adapters.pr2` reads and writes the extract and the JSON message with them.
"""

from __future__ import annotations

from typing import Final

from hub.adapters.mapping import (
    Code,
    Date,
    DateTime,
    Duration,
    FieldMap,
    Flag,
    ListOf,
    MessageMap,
    Objects,
    Part,
    Pattern,
    Text,
)

# -- PR2 code lists ----------------------------------------------------------------------------

ESTABLISHMENT = Code(
    {
        "ADW": "hmp-addiewell",
        "BLN": "hmp-barlinnie",
        "CHY": "hmp-castle-huntly",
        "DMF": "hmp-dumfries",
        "EDN": "hmp-edinburgh",
        "GLE": "hmp-glenochil",
        "GRA": "hmp-yoi-grampian",
        "GRK": "hmp-greenock",
        "INV": "hmp-inverness",
        "HLD": "hmp-highland",
        "KMK": "hmp-kilmarnock",
        "LMS": "hmp-low-moss",
        "PER": "hmp-perth",
        "SHO": "hmp-shotts",
        "POL": "hmp-yoi-polmont",
        "STG": "hmp-yoi-stirling",
        "BEL": "bella-centre",
        "LIL": "lilias-centre",
    }
)
ADMISSION_REASON = Code(
    {
        "REM": "remand",
        "CAS": "convicted-awaiting-sentence",
        "SEN": "sentence",
        "TFI": "transfer-in",
        "RUA": "return-from-unlawful-absence",
    }
)
SENTENCE_TYPE = Code(
    {
        "STD": "short-term-determinate",
        "LTD": "long-term-determinate",
        "EXT": "extended",
        "LIF": "life",
        "OLR": "order-for-lifelong-restriction",
    }
)
OFFENCE_CATEGORY = Code(
    {
        "SEX": "sexual",
        "VIO": "violent",
        "DOM": "domestic-abuse",
        "CCN": "child-cruelty-or-neglect",
        "WPN": "weapons",
        "DRG": "drugs",
        "DSH": "dishonesty",
        "OTH": "other",
    }
)
RELEASE_TYPE = Code(
    {
        "EOS": "end-of-sentence",
        "PAR": "parole-licence",
        "NPL": "non-parole-licence",
        "ESL": "extended-sentence-licence",
        "LFL": "life-licence",
        "HDC": "home-detention-curfew",
        "SSO": "short-term-sex-offender-licence",
        "SRO": "supervised-release-order",
        "BRL": "bail-or-liberation-from-remand",
        "OTH": "other",
    }
)
LICENCE_CONDITION = Code(
    {
        "RAA": "reside-at-approved-address",
        "RSO": "report-to-supervising-officer",
        "CUR": "curfew",
        "ELM": "electronic-monitoring",
        "NUC": "no-unsupervised-contact-with-children",
        "NCP": "no-contact-with-named-persons",
        "EXZ": "exclusion-zone",
        "OBP": "attend-offending-behaviour-programme",
        "PSY": "psychiatric-assessment-or-treatment",
        "SUB": "substance-use-testing-or-treatment",
        "EAR": "employment-or-activity-restriction",
        "IDR": "internet-or-device-restriction",
        "OTH": "other",
    }
)
ACCOMMODATION = Code(
    {
        "OWN": "private-tenancy-or-owned",
        "FAM": "family-or-friends",
        "SUP": "supported-accommodation",
        "LAT": "local-authority-temporary",
        "NFA": "no-fixed-abode",
        "OTH": "other",
    }
)
CHILDREN_RESIDENT = Code({"Y": "yes", "N": "no", "U": "unknown"})
TRANSFER_REASON = Code(
    {
        "PRG": "progression",
        "SCC": "security-category-change",
        "SMG": "sentence-management",
        "CTH": "closer-to-home",
        "CRT": "court-proximity",
        "POP": "population-management",
        "HCR": "healthcare",
        "PRT": "protection",
        "OTH": "other",
    }
)
POLICE_DIVISION = Code({letter: letter for letter in "ACDEGJKLNPQUV"})
TEMPORARY_RELEASE_KIND = Code({"HL": "home-leave", "WP": "work-placement", "OT": "other"})
TEMPORARY_RELEASE_CONDITION = Code(
    {
        "RAD": "reside-at-address",
        "CUR": "curfew",
        "RPS": "report-to-police-station",
        "NUC": "no-unsupervised-contact-with-children",
        "NCP": "no-contact-with-named-persons",
        "EXZ": "exclusion-zone",
        "NAD": "no-alcohol-or-drugs",
        "RBT": "return-by-set-time",
        "OTH": "other",
    }
)
RMP_AGENCY = Code(
    {
        "SPS": "scottish-prison-service",
        "SWK": "social-work",
        "POL": "police-scotland",
        "HLT": "health",
        "HSG": "housing",
        "MAP": "mappa",
    }
)

_DATE = Date("dmy")
_CODE_TEXT = Text(max_length=20, free_text=False)


def _movement_identity(establishment_path: str) -> tuple[FieldMap, ...]:
    """The fields every movement carries: which movement, when, where, and whose."""
    return (
        FieldMap(
            "MOVEMENT_ID",
            "meta.movement_id",
            Pattern(r"[A-Z0-9][A-Z0-9-]{0,29}", "MV-2024-0001234"),
            required=True,
        ),
        FieldMap("MOVEMENT_TS", "time", DateTime(), required=True),
        FieldMap("ESTABLISHMENT", establishment_path, ESTABLISHMENT, required=True),
        FieldMap("SPS_NUMBER", "identifiers.sps_number", Text(20, free_text=False), required=True),
        FieldMap("PNC_ID", "identifiers.pnc_id", Text(20, free_text=False)),
        FieldMap("CRO_NUMBER", "identifiers.cro_number", Text(20, free_text=False)),
    )


def _common(date_path: str, establishment_path: str) -> tuple[FieldMap, ...]:
    return (
        *_movement_identity(establishment_path),
        FieldMap("MOVEMENT_DATE", date_path, _DATE, required=True),
    )


def _address(prefix: str, accommodation: bool) -> tuple[FieldMap, ...]:
    fields = [FieldMap("ADDRESS_COUNCIL", f"{prefix}.council_area", _CODE_TEXT, required=True)]
    if accommodation:
        fields.append(
            FieldMap("ACCOMMODATION_TYPE", f"{prefix}.accommodation_type", ACCOMMODATION, True)
        )
    return (
        *fields,
        FieldMap("ADDRESS_LINES", f"{prefix}.lines", ListOf(Text(100), max_items=5)),
        FieldMap("POSTCODE", f"{prefix}.postcode", Text(10, free_text=False)),
        FieldMap("CHILDREN_RESIDENT", f"{prefix}.children_resident", CHILDREN_RESIDENT),
    )


def _conditions(codes: Code) -> Objects:
    return Objects((Part("CODE", "type", codes, required=True), Part("DETAIL", "detail", Text())))


_ADMISSION_FIELDS: Final = (
    FieldMap("PREV_ESTABLISHMENT", "data.previous_establishment", ESTABLISHMENT),
    FieldMap("COMMITTING_COURT", "data.committing_court", Text(200)),
    FieldMap("SENTENCE_TYPE", "data.sentence.type", SENTENCE_TYPE),
    FieldMap("SENTENCE_DATE", "data.sentence.sentence_date", _DATE),
    FieldMap("CUSTODIAL_TERM", "data.sentence.custodial_term", Duration()),
    FieldMap("EXTENSION_PERIOD", "data.sentence.extension_period", Duration()),
    FieldMap("PUNISHMENT_PART", "data.sentence.punishment_part", Duration()),
    FieldMap("SENTENCING_COURT", "data.sentence.sentencing_court", Text(200)),
    FieldMap(
        "OFFENCE_CATEGORIES",
        "data.offence_categories",
        ListOf(OFFENCE_CATEGORY, max_items=8, unique=True),
        required=True,
    ),
    FieldMap("SCHEDULE1_FLAG", "data.schedule1_offender", Flag(), required=True),
    FieldMap("SOR_FLAG", "data.sex_offender_notification", Flag(), required=True),
)

MESSAGES: Final[tuple[MessageMap, ...]] = (
    MessageMap(
        "ADM",
        "custody.admission",
        (
            *_common("data.admission_date", "data.establishment"),
            FieldMap("ADMISSION_REASON", "data.admission_reason", ADMISSION_REASON, True),
            *_ADMISSION_FIELDS,
        ),
        note="Admission on remand, conviction, sentence, transfer in or return from unlawful "
        "absence (recall admissions are `RCL`).",
    ),
    MessageMap(
        "RCL",
        "custody.admission",
        (*_common("data.admission_date", "data.establishment"), *_ADMISSION_FIELDS),
        constants={"data.admission_reason": "recall"},
        note="Admission on recall from licence. `PREV_ESTABLISHMENT` is the liberating "
        "establishment, so that records follow the person (inspection 4.12).",
    ),
    MessageMap(
        "LIB",
        "custody.liberation",
        (
            *_common("data.liberation_date", "data.establishment"),
            FieldMap("RELEASE_TYPE", "data.release_type", RELEASE_TYPE, required=True),
            FieldMap("SUPERVISING_COUNCIL", "data.supervising_council_area", _CODE_TEXT),
            FieldMap("LICENCE_EXPIRY", "data.licence.expiry_date", _DATE),
            FieldMap(
                "LICENCE_CONDITIONS", "data.licence.conditions", _conditions(LICENCE_CONDITION)
            ),
            *_address("data.release_address", accommodation=True),
        ),
    ),
    MessageMap(
        "TRF",
        "custody.transfer",
        (
            *_common("data.transfer_date", "data.from_establishment"),
            FieldMap("TO_ESTABLISHMENT", "data.to_establishment", ESTABLISHMENT, required=True),
            FieldMap("TRANSFER_REASON", "data.reason", TRANSFER_REASON, required=True),
            FieldMap("REASON_DETAIL", "data.reason_detail", Text()),
        ),
        note="Recorded by the sending establishment (`ESTABLISHMENT`).",
    ),
    MessageMap(
        "TMP",
        "custody.temporary-release",
        (
            *_common("data.start_date", "data.establishment"),
            FieldMap("TR_KIND", "data.kind", TEMPORARY_RELEASE_KIND, required=True),
            FieldMap("RETURN_DATE", "data.end_date", _DATE, required=True),
            FieldMap("ESCORTED_FLAG", "data.escorted", Flag(), required=True),
            *_address("data.address", accommodation=False),
            FieldMap("TR_CONDITIONS", "data.conditions", _conditions(TEMPORARY_RELEASE_CONDITION)),
            FieldMap("RMP_DATE", "data.risk_management_plan.plan_date", _DATE),
            FieldMap(
                "RMP_AGENCIES",
                "data.risk_management_plan.contributing_agencies",
                ListOf(RMP_AGENCY, max_items=6, unique=True),
            ),
        ),
        note="Home leave or work placement (inspection 3.29-3.30): `MOVEMENT_DATE` is the day "
        "out, `RETURN_DATE` the day back.",
    ),
    MessageMap(
        "ESC",
        "person.missing",
        (
            *_movement_identity("meta.establishment"),
            FieldMap("MISSING_SINCE", "data.missing_since", DateTime(), required=True),
            FieldMap("ADDRESS_COUNCIL", "data.last_known_location.council_area", _CODE_TEXT, True),
            FieldMap("LOCATION_DETAIL", "data.last_known_location.description", Text(200)),
            FieldMap("REASON_DETAIL", "data.circumstances", Text(), required=True),
            FieldMap("POLICE_DIVISION", "data.police_division", POLICE_DIVISION, required=True),
        ),
        constants={"data.trigger": "escaped-from-custody"},
        outbound=False,
        note="Escape from custody or from an escort, recorded by the establishment that held the "
        "person: a missing-person notice from the SPS, so that the police division searching "
        "and the supervising services know at once. `MISSING_SINCE` is when the person was last "
        "accounted for; `ADDRESS_COUNCIL` the council area where they escaped; `POLICE_DIVISION` "
        "the division told. Extract version 2 onwards; never sent to PR2.",
    ),
)
